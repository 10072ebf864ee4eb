"""Invented phone numbers for every country in countries.yml (never a real subscriber).

NANP and the UK use their fictional ranges (555-01xx; 07700 900xxx). Elsewhere the national
number is chosen so that phonenumbers finds it possible in length (the channels accept it) but not
valid (no numbering plan assigns it), most often a 0 right after the calling code.
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

from bot import countries

FICTIONAL = {"US": "+12025550100", "DO": "+18095550100", "PR": "+17875550100", "GB": "+447700900100"}


@lru_cache(maxsize=None)
def invented_number(region: str) -> str:
    """An invented E.164 number whose country Haven reads as `region`."""
    if region in FICTIONAL:
        return FICTIONAL[region]
    code = phonenumbers.country_code_for_region(region)
    for prefix in ("0", "1", "9"):
        for length in range(3, 12):
            candidate = f"+{code}{prefix}" + ("5550100000" * 2)[:length]
            number = phonenumbers.parse(candidate, None)
            if (phonenumbers.is_possible_number(number) and not phonenumbers.is_valid_number(number)
                    and countries.country_of_number(candidate) == region):
                return candidate
    raise LookupError(f"no invented number for {region}")
