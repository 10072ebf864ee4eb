"""Country data: emergency and GBV hotline numbers with their sources (data/countries.yml)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional

import yaml

from bot.settings import ROOT

COUNTRIES_FILE = ROOT / "data" / "countries.yml"


@lru_cache(maxsize=1)
def _all() -> dict[str, dict[str, Any]]:
    with COUNTRIES_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return {code.upper(): entry for code, entry in data["countries"].items()}


def codes() -> list[str]:
    return sorted(_all())


def get(code: Optional[str]) -> Optional[dict[str, Any]]:
    """The entry for a country code (emergency, gbv_hotline, name{lang}, source), or None."""
    if not code:
        return None
    return _all().get(code.upper())


def numbers(code: Optional[str], language: str = "en") -> dict[str, str]:
    """Template arguments for a country: emergency_number, hotline_number, country_name.

    With no known country, falls back to the deployment's default country. A missing GBV hotline
    falls back to the emergency number: a survivor is never given an empty line.
    """
    from bot.settings import get_settings

    entry = get(code) or get(get_settings().default_country) or {}
    emergency = str(entry.get("emergency") or "112")
    hotline = entry.get("gbv_hotline") or emergency
    names = entry.get("name") or {}
    return {
        "emergency_number": emergency,
        "hotline_number": str(hotline),
        "country_name": str(names.get(language) or names.get("en") or ""),
    }
