"""Country data (data/countries.yml) and how Haven decides which country a conversation is in.

Trust, highest first: her explicit choice; the country of her phone number (SMS, WhatsApp); a place
she names or a pin she shares; the region of a Telegram language code ("pt-BR"); the deployment's
country, only when the deployment serves exactly one (`HAVEN_COUNTRIES`). A weaker source never
replaces a stronger one. When the country is unknown, no text presents one country's number as hers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Optional, Sequence

import yaml

from bot.settings import ROOT

COUNTRIES_FILE = ROOT / "data" / "countries.yml"
NUMBER_FIELDS = ("emergency", "police", "gbv_hotline")
# Where a conversation's country came from, strongest first (the `country_source` slot).
SOURCES = ("choice", "phone", "place", "language_region", "deployment")
MAX_LISTED = 6  # countries in one multi-country line or one country question


@lru_cache(maxsize=1)
def _all() -> dict[str, dict[str, Any]]:
    with COUNTRIES_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return {str(code).upper(): entry for code, entry in data["countries"].items()}


def codes() -> list[str]:
    return sorted(_all())


def get(code: Optional[str]) -> Optional[dict[str, Any]]:
    """The entry for a country code (emergency, gbv_hotline, name{lang}, sources...), or None."""
    if not code:
        return None
    return _all().get(str(code).upper())


def name(code: str, language: str = "en") -> str:
    names = (get(code) or {}).get("name") or {}
    return str(names.get(language) or names.get("en") or code)


def languages(code: Optional[str]) -> list[str]:
    """Haven languages widely spoken in a country, most common first."""
    return [str(lang) for lang in ((get(code) or {}).get("languages") or [])]


def stronger(source: Optional[str], than: Optional[str]) -> bool:
    """Whether `source` may replace a country set by `than` (equal trust may: she moved)."""
    if source not in SOURCES:
        return False
    if than not in SOURCES:
        return True
    return SOURCES.index(source) <= SOURCES.index(str(than))


def served() -> tuple[str, ...]:
    """The countries this deployment serves (HAVEN_COUNTRIES), known to countries.yml."""
    from bot.settings import get_settings

    return tuple(c for c in get_settings().countries if get(c))


def deployment_country() -> Optional[str]:
    """The deployment's country, only when it serves exactly one."""
    serving = served()
    return serving[0] if len(serving) == 1 else None


def country_of_number(e164: str) -> Optional[str]:
    """The country of a phone number: its region when valid, else its calling code's only region."""
    import phonenumbers

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    if region and region != "ZZ":
        return str(region)
    regions = phonenumbers.region_codes_for_country_code(number.country_code or 0)
    return str(regions[0]) if len(regions) == 1 and regions[0] != "ZZ" else None


def country_of_language_code(code: Optional[str]) -> Optional[str]:
    """'pt-BR' -> 'BR' (a country in countries.yml); 'en' or 'es-419' -> None."""
    parts = str(code or "").replace("_", "-").split("-")
    if len(parts) < 2 or len(parts[1]) != 2 or not parts[1].isalpha():
        return None
    region = parts[1].upper()
    return region if get(region) else None


@dataclass(frozen=True)
class Known:
    """The conversation's country as templates need it (code None: unknown)."""

    code: Optional[str]
    source: Optional[str]

    @property
    def entry(self) -> dict[str, Any]:
        return get(self.code) or {}


def resolve(code: Optional[str], source: Optional[str] = None) -> Known:
    """Her country from the slots, or the deployment's single country, or unknown."""
    if code and get(code):
        return Known(str(code).upper(), source)
    single = deployment_country()
    return Known(single, "deployment") if single else Known(None, None)


def numbers(code: Optional[str], language: str = "en") -> dict[str, str]:
    """Template arguments for one country: emergency_number, hotline_number, police_number,
    country_name, report_unit, report_online. Unknown country (and no single deployment
    country): empty strings, never another country's numbers."""
    entry = resolve(code).entry
    known = resolve(code).code
    return {
        "emergency_number": str(entry.get("emergency") or entry.get("police") or ""),
        "hotline_number": str(entry.get("gbv_hotline") or ""),
        "police_number": str(entry.get("police") or ""),
        "country_name": name(known, language) if known else "",
        "report_unit": str(entry.get("unit") or ""),
        "report_online": str(entry.get("report_online") or ""),
    }


def listed(language: str, among: Optional[Sequence[str]] = None, limit: int = MAX_LISTED) -> list[str]:
    """Served countries for a list or a question: those speaking her language first."""
    pool = list(among if among is not None else served())
    pool.sort(key=lambda c: (0 if language in languages(c) else 1, name(c, language)))
    return pool[:limit]


def emergency_list(language: str, among: Optional[Iterable[str]] = None) -> str:
    """'Kenya 999 · Tanzania 112': the served countries that have a verified emergency number."""
    numbers = {c: str((get(c) or {}).get("emergency") or "") for c in (among if among is not None else served())}
    with_number = [c for c, number in numbers.items() if number]
    return " · ".join(f"{name(c, language)} {numbers[c]}" for c in listed(language, with_number))
