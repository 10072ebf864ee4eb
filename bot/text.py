"""Text normalisation shared by the safety gate, lexicons and gazetteer matching."""

from __future__ import annotations

import re
import unicodedata
from typing import Iterable

_PUNCT = re.compile(r"[^\w\s#]+", re.UNICODE)
_SPACE = re.compile(r"\s+")


def strip_accents(text: str) -> str:
    """'São Tomé' -> 'Sao Tome' (NFKD, combining marks removed)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalise(text: str) -> str:
    """Lowercase, accents stripped, punctuation (except '#') to spaces, whitespace collapsed."""
    text = strip_accents(text).casefold().replace("_", " ")
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def contains_phrase(normalised_text: str, phrases: Iterable[str]) -> bool:
    """True if any (already normalised) phrase occurs in the text on word boundaries."""
    padded = f" {normalised_text} "
    return any(f" {phrase} " in padded for phrase in phrases if phrase)
