"""data/countries.yml: coverage of Haven's language regions, digits-only numbers, a source for each."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from bot import countries
from bot.countries import COUNTRIES_FILE
from bot.settings import SUPPORTED_LANGUAGES

# Where Haven's five languages are widely spoken and a deployment is plausible (issue 14).
REQUIRED = {
    "sw (East and Central Africa)": {"KE", "TZ", "UG", "RW", "BI", "CD"},
    "francophone West and Central Africa": {"SN", "CI", "ML", "BF", "NE", "GN", "BJ", "TG", "CM", "GA", "CG", "CD", "CF", "TD"},
    "lusophone Africa, Brazil, Portugal": {"AO", "MZ", "CV", "GW", "ST", "BR", "PT"},
    "Spanish-speaking Latin America and Spain": {"ES", "MX", "GT", "HN", "SV", "NI", "CR", "PA", "CU", "DO", "CO", "VE",
                                                 "EC", "PE", "BO", "CL", "AR", "PY", "UY"},
}
TEXT_FIELDS = ("unit", "report_online")
CONFIDENTIAL_WORDS = re.compile(r"confidential|anonym|an[oó]nim|confidencial|sigilos", re.IGNORECASE)


def problems(entries: dict[str, Any]) -> list[str]:
    """Everything wrong with a countries mapping (empty when valid)."""
    found = []
    for code, entry in entries.items():
        if not re.fullmatch(r"[A-Z]{2}", str(code)):
            found.append(f"{code}: not an ISO 3166-1 alpha-2 code")
        names = entry.get("name") or {}
        if not all(names.get(lang) for lang in SUPPORTED_LANGUAGES):
            found.append(f"{code}: a name in every language")
        langs = entry.get("languages") or []
        if not langs or not set(langs) <= set(SUPPORTED_LANGUAGES):
            found.append(f"{code}: languages must be Haven languages")
        sources = entry.get("sources")
        if not isinstance(sources, dict):
            found.append(f"{code}: sources must be a mapping")
            sources = {}
        for field in (*countries.NUMBER_FIELDS, *TEXT_FIELDS):
            if field not in entry:
                found.append(f"{code}: {field} missing (null when unknown)")
                continue
            value = entry[field]
            if value is None:
                continue
            if field in countries.NUMBER_FIELDS and not re.fullmatch(r"\d{2,15}", str(value)):
                found.append(f"{code}: {field} is not digits only")
            if not isinstance(value, str):
                found.append(f"{code}: {field} must be quoted text")
            if not str(sources.get(field) or "").strip():
                found.append(f"{code}: {field} has no source")
        if entry.get("gbv_confidential") is True:
            if not entry.get("gbv_hotline") or not CONFIDENTIAL_WORDS.search(str(sources.get("gbv_hotline") or "")):
                found.append(f"{code}: confidential only where the line's source says so")
        elif entry.get("gbv_confidential") not in (None, False):
            found.append(f"{code}: gbv_confidential is true, false or null")
        for field in sources:
            if field not in (*countries.NUMBER_FIELDS, *TEXT_FIELDS):
                found.append(f"{code}: source for an unknown field {field}")
    return found


def load() -> dict[str, Any]:
    return dict(yaml.safe_load(COUNTRIES_FILE.read_text(encoding="utf-8"))["countries"])


def test_every_entry_is_digits_only_and_sourced() -> None:
    assert problems(load()) == []


@pytest.mark.parametrize("region", sorted(REQUIRED))
def test_covers_every_country_of_the_language_regions(region: str) -> None:
    assert sorted(REQUIRED[region] - set(load())) == []


def test_the_checker_can_fail() -> None:
    good = load()["BR"]
    bad = {
        "spaces": dict(good, emergency="1 90"),
        "dashes": dict(good, gbv_hotline="1-800-799"),
        "unsourced": dict(good, sources={}),
        "confidential unsourced": dict(good, gbv_confidential=True, sources=dict(good["sources"], gbv_hotline="Line 180")),
        "not quoted": dict(good, emergency=190),
    }
    for label, entry in bad.items():
        assert problems({"BR": entry}), label
    assert problems({"BR": good}) == []


def test_the_countries_of_the_outside_evaluation_are_listed() -> None:
    """Issue 14: Côte d'Ivoire and DR Congo had fallen back to Kenya's numbers."""
    assert countries.get("CI") and countries.get("CD")
    assert countries.get("CI")["gbv_hotline"] == "1308"  # type: ignore[index]
