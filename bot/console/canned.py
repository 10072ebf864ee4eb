"""Canned replies per language, kept beside the bot's texts in locales/<lang>/handoff.yml.

Format: a top-level `canned:` list of {id, title, text}; every language has the same ids.
Titles are for the officer; texts go to the survivor and follow the lock-screen rule.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT, SUPPORTED_LANGUAGES

LOCALES = ROOT / "locales"


@lru_cache(maxsize=None)
def _load(language: str, folder: Path = LOCALES) -> tuple[dict[str, str], ...]:
    path = folder / language / "handoff.yml"
    if not path.exists():
        return ()
    with path.open(encoding="utf-8") as fh:
        data: Any = yaml.safe_load(fh) or {}
    return tuple(
        {"id": str(item["id"]), "title": str(item["title"]), "text": str(item["text"])}
        for item in data.get("canned") or []
    )


def canned_replies(language: str) -> list[dict[str, str]]:
    """The canned replies for a language (English if the language has none)."""
    lang = language if language in SUPPORTED_LANGUAGES else "en"
    return [dict(item) for item in (_load(lang) or _load("en"))]
