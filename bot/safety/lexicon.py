"""The per-language danger lexicon: a high-precision backstop for the NLU model."""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from bot import i18n
from bot.text import normalise


@lru_cache(maxsize=1)
def _phrases() -> tuple[str, ...]:
    phrases: set[str] = set()
    for lex in i18n.catalog().lexicons.values():
        phrases.update(lex.danger)
    return tuple(sorted(phrases, key=len, reverse=True))


def danger_match(text: str) -> Optional[str]:
    """The first danger phrase (of any language) found in `text` on word boundaries, or None."""
    padded = f" {normalise(text)} "
    for phrase in _phrases():
        if f" {phrase} " in padded:
            return phrase
    return None
