"""Every language has every response, the same placeholders and payloads, and is lock-screen safe."""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest
import yaml

from bot import i18n
from bot.gate_words import CARRIER_WORDS
from bot.settings import ROOT, SUPPORTED_LANGUAGES

CATALOG = i18n.load_catalog()
EN = CATALOG.responses["en"]

# Words that must not appear in the first 40 characters of any message (SAFETY.md guarantee 3).
LOCK_SCREEN_WORDS = [
    "haven", "violence", "violent", "abuse", "abusive", "police", "rape", "assault", "gbv",
    "violencia", "abuso", "policia", "violacion", "agresion",
    "violência", "polícia", "estupro", "agressão", "violacao",
    "abus", "viol", "agression",
    "ukatili", "unyanyasaji", "polisi", "ubakaji", "dhuluma",
    "violen", "polic", "agress", "agresi",  # stems: violento, policial, agressor, agresión...
]


def texts(message: Any) -> Iterator[str]:
    """Every text a survivor may receive from one message (all variants and plural forms)."""
    if isinstance(message, str):
        yield message
        return
    for key in ("text", *i18n.CHANNEL_VARIANTS):
        value = message.get(key)
        if isinstance(value, dict):
            yield from value.values()
        elif value:
            yield value


def payloads(message: Any) -> list[str]:
    return [] if isinstance(message, str) else [b["payload"] for b in message.get("buttons", []) or []]


def test_every_supported_language_has_a_folder() -> None:
    assert set(SUPPORTED_LANGUAGES) <= set(CATALOG.languages())


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_same_keys_as_english(lang: str) -> None:
    table = CATALOG.responses[lang]
    assert sorted(set(EN) - set(table)) == [], f"missing in {lang}"
    assert sorted(set(table) - set(EN)) == [], f"only in {lang}"


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_same_placeholders_and_payloads(lang: str) -> None:
    table = CATALOG.responses[lang]
    for name, en_message in EN.items():
        if name not in table:
            continue
        assert i18n.placeholders(table[name]) == i18n.placeholders(en_message), f"{lang}:{name} placeholders"
        assert payloads(table[name]) == payloads(en_message), f"{lang}:{name} payloads"


def lock_screen_hits(text: str) -> list[str]:
    head = i18n.strip_accents_lower(text[:40])
    return [w for w in LOCK_SCREEN_WORDS if re.search(rf"\b{re.escape(i18n.strip_accents_lower(w))}", head)]


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_lock_screen_safe(lang: str) -> None:
    problems = []
    for name, message in CATALOG.responses[lang].items():
        for text in texts(message):
            hits = lock_screen_hits(text)
            if hits:
                problems.append(f"{name}: {hits} in {text[:40]!r}")
    assert problems == []


def test_lock_screen_check_can_fail() -> None:
    assert lock_screen_hits("Haven: support after abuse")
    assert lock_screen_hits("Información sobre la policía y más")
    assert not lock_screen_hits("Hi, thanks for writing. Is it safe?")


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_no_carrier_word_is_an_option(lang: str) -> None:
    for name, message in CATALOG.responses[lang].items():
        for button in [] if isinstance(message, str) else message.get("buttons", []) or []:
            title = i18n.strip_accents_lower(button["title"]).split()
            assert not set(title) & CARRIER_WORDS, f"{lang}:{name} uses a carrier word as an option"


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_quick_exit_words_are_never_carrier_words(lang: str) -> None:
    assert not i18n.lexicon(lang).quick_exit & CARRIER_WORDS
    assert i18n.lexicon(lang).quick_exit, f"{lang} has no quick-exit word"


def test_domain_declares_exactly_the_locale_responses() -> None:
    """Rasa responses (utter_*) are declared in the domain; other keys are texts the channels send."""
    declared: set[str] = set()
    for path in (ROOT / "domain").glob("*.yml"):
        declared |= set((yaml.safe_load(path.read_text()) or {}).get("responses", {}) or {})
    assert declared == {name for name in EN if name.startswith("utter_")}


def test_plural_forms_follow_language_rules() -> None:
    forms = {"one": "{count} day", "other": "{count} days"}
    assert i18n.fill(forms, "en", {"count": 1}) == "1 day"
    assert i18n.fill(forms, "en", {"count": 0}) == "0 days"
    assert i18n.fill(forms, "fr", {"count": 0}) == "0 day"  # French: 0 is singular
