"""Case references safe on a lock screen: `K7-4QX`, no vowels (no words), no look-alikes."""

from __future__ import annotations

import re
import secrets

# No vowels (A E I O U, and Y) so no word can form; no 0/O, 1/I/L, 2/Z, 5/S, 8/B, 6/G look-alikes.
ALPHABET = "CDFHJKMNPRTVWX3479"
LENGTH = 5  # 18**5 = 1.9 million references
PATTERN = re.compile(rf"^[{ALPHABET}]{{2}}-[{ALPHABET}]{{3}}$")
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8", "G": "6"})


def new_reference() -> str:
    """A random reference like `K7-4QX` (uniqueness is the database's unique constraint)."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{chars[:2]}-{chars[2:]}"


def normalise(text: str) -> str | None:
    """Her typed reference (`k7 4qx`, `K74QX`) in canonical form, or None if it cannot be one."""
    raw = re.sub(r"[\s\-_.]", "", (text or "").upper())
    if len(raw) != LENGTH or any(c not in ALPHABET for c in raw):
        return None
    return f"{raw[:2]}-{raw[2:]}"


def find_in(text: str) -> str | None:
    """The first reference-looking token in a message ("what's happening with K7-4QX?")."""
    for match in re.finditer(r"\b[0-9A-Za-z]{2}[\s\-]?[0-9A-Za-z]{3}\b", text or ""):
        found = normalise(match.group(0))
        if found:
            return found
    return None
