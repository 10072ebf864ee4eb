"""Texts: no locale text holds a phone number; every text, as rendered for every country and for
an unknown country, is lock-screen safe, carries only her country's numbers, calls a line
confidential only where the source says so, and reports with her country's unit, not Kenya's."""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

import pytest

from bot import countries, country_texts, i18n
from bot.settings import SUPPORTED_LANGUAGES
from tests.unit.test_locales import lock_screen_hits, texts

CATALOG = i18n.load_catalog()
PHONE_LIKE = re.compile(r"(?<![\w{])\+?\d(?:[\s.\-]?\d){2,}(?![\w}])")  # 3+ digits, maybe spaced
ALL_NUMBERS = sorted({str(e[f]) for c in countries.codes() for e in [countries.get(c) or {}]
                      for f in countries.NUMBER_FIELDS if e.get(f)})
CHANNELS = (None, "sms", "whatsapp", "telegram")
CONFIDENTIAL = {"en": "confidential", "fr": "confidenti", "es": "confidencial", "pt": "confidencial|sigilos", "sw": r"\(ya siri\)|ya siri nchini"}
DUMMY = {"place": "Placeville", "radius": "N", "results": "-", "language_name": "X", "label": "Placeville",
         "position": "N", "count": 3, "reference": "REF", "day": "X", "time": "X", "types": "X"}


def locale_texts() -> Iterator[tuple[str, str, str]]:
    """(language, response, text) for every text and button title in every locale file."""
    for lang, table in CATALOG.responses.items():
        for name, message in table.items():
            for text in texts(message):
                yield lang, name, str(text)
            if isinstance(message, dict):
                for button in message.get("buttons") or []:
                    yield lang, name, str(button["title"])


def phone_numbers_in(text: str) -> list[str]:
    without_placeholders = re.sub(r"\{[^}]*\}", "", text)
    found = PHONE_LIKE.findall(without_placeholders)
    found += [n for n in ALL_NUMBERS if re.search(rf"(?<!\d){re.escape(n)}(?!\d)", without_placeholders)]
    return found


def test_no_locale_text_contains_a_phone_number() -> None:
    hits = [f"{lang}:{name}: {phone_numbers_in(text)}" for lang, name, text in locale_texts() if phone_numbers_in(text)]
    assert hits == []


def test_the_phone_number_check_can_fail() -> None:
    assert phone_numbers_in("Appelez le 1195 ou le 999")
    assert phone_numbers_in("call 0800 428 428")
    assert phone_numbers_in("Appelez le 17.")
    assert not phone_numbers_in("Call {emergency_number} within 72 hours, open 24 hours")


def rendered(name: str, language: str, country: Optional[str], channel: Optional[str]) -> dict[str, Any]:
    return country_texts.render(name, {"country": country}, language, channel, DUMMY)


NUMBER_RESPONSES = sorted({name for table in CATALOG.responses.values() for name, message in table.items()
                           if name.startswith("utter_") and i18n.placeholders(message) & {"emergency_number", "hotline_number"}}
                          | {"utter_country_question", "utter_country_set"})


def cases() -> Iterator[tuple[str, Optional[str]]]:
    for lang in SUPPORTED_LANGUAGES:
        for country in [None, *countries.codes()]:
            yield lang, country


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_rendered_texts_are_lock_screen_safe_and_carry_only_her_countrys_numbers(lang: str, haven_env: Any,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("HAVEN_COUNTRIES", "KE,TZ,CI,BR")
    get_settings.cache_clear()
    problems = []
    for country in [None, *countries.codes()]:
        allowed = {str(v) for v in ((countries.get(country) or {}).get(f) for f in countries.NUMBER_FIELDS) if v} if country else set(ALL_NUMBERS)
        for name in NUMBER_RESPONSES:
            for channel in CHANNELS:
                reply = rendered(name, lang, country, channel)
                text = reply["text"]
                where = f"{lang}/{country}/{name}/{channel}"
                if lock_screen_hits(text):
                    problems.append(f"{where}: lock screen {lock_screen_hits(text)}")
                if re.search(r"\{\w+\}|\s\s|\(\s*\)|:\s*[.;]", text):
                    problems.append(f"{where}: unfilled: {text[:80]!r}")
                extra = set(re.findall(r"\d{2,}", text)) - allowed
                if extra:
                    problems.append(f"{where}: numbers of another country {sorted(extra)}")
    assert problems == []


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_a_line_is_called_confidential_only_where_its_source_says_so(lang: str, haven_env: Any) -> None:
    word = re.compile(CONFIDENTIAL[lang], re.IGNORECASE)
    wrong = []
    for country in countries.codes():
        confidential = (countries.get(country) or {}).get("gbv_confidential") is True
        for name in NUMBER_RESPONSES:
            text = rendered(name, lang, country, None)["text"]
            if word.search(text) and not confidential:
                wrong.append(f"{country}/{name}")
    assert wrong == []


def test_a_confidential_line_is_still_called_so() -> None:
    assert "confidential" in rendered("utter_hotlines", "en", "BR", None)["text"]
    assert "confidential" not in rendered("utter_hotlines", "en", "KE", None)["text"]


KENYAN_REPORTING = {"en": "gender desk", "fr": "bureau d'accueil spécialisé", "es": "mesa de género",
                    "pt": "atendimento especializado na delegacia", "sw": "dawati la jinsia katika kituo"}


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_reporting_uses_her_countrys_unit_not_kenyas(lang: str, haven_env: Any) -> None:
    for country in countries.codes():
        text = rendered("utter_reporting_info", lang, country, None)["text"]
        unit = (countries.get(country) or {}).get("unit")
        if unit:
            assert unit in text, (country, lang)
        if country != "KE":
            assert KENYAN_REPORTING[lang].lower() not in text.lower(), (country, lang)
        online = (countries.get(country) or {}).get("report_online")
        if online:
            assert online in text, (country, lang)


@pytest.mark.parametrize("lang", ["fr", "es", "pt"])
def test_helper_advice_has_no_kenyan_number_elsewhere(lang: str, haven_env: Any) -> None:
    """Issue 15: helper advice in fr/es/pt carried Kenya's 1195 and 999 everywhere."""
    for country in countries.codes():
        if country in ("KE", "UG", "GB"):
            continue
        text = rendered("utter_helper_support", lang, country, None)["text"]
        assert "1195" not in text and "999" not in text, country
