"""The reporting core names no adapter (tests/unit/test_architecture.py checks the whole core too)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import ROOT

FORBIDDEN = re.compile(r"^\s*(from|import)\s+(channels|actions|rasa|rasa_sdk|bot\.console)\b", re.M)


def test_core_imports_no_adapter() -> None:
    offenders = {}
    for path in sorted((ROOT / "bot" / "reporting").glob("*.py")):
        hits = FORBIDDEN.findall(path.read_text(encoding="utf-8"))
        if hits:
            offenders[path.name] = hits
    assert offenders == {}
    assert FORBIDDEN.search("from bot.console import audit\n")  # the pattern can fail
