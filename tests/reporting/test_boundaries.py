"""The reporting core names no adapter: only ports.py points at the (moving) audit/officer modules."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import ROOT

FORBIDDEN = re.compile(r"^\s*(from|import)\s+(channels|actions|rasa|rasa_sdk|bot\.console)\b", re.M)


def test_core_imports_no_adapter() -> None:
    offenders = {}
    for path in sorted((ROOT / "bot" / "reporting").glob("*.py")):
        hits = FORBIDDEN.findall(path.read_text(encoding="utf-8"))
        if hits and path.name != "ports.py":
            offenders[path.name] = hits
    assert offenders == {}
    assert FORBIDDEN.search((ROOT / "bot" / "reporting" / "ports.py").read_text())  # the check can fail
