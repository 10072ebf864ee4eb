"""Handoff texts and canned replies: same keys everywhere, lock-screen safe, no carrier or
quick-exit word as an option (a typed option must never erase her chat by accident)."""

from __future__ import annotations

import pytest
import yaml

from bot import i18n
from bot.console.canned import canned_replies
from bot.gate_words import CARRIER_WORDS
from bot.settings import ROOT, SUPPORTED_LANGUAGES
from bot.text import normalise
from tests.unit.test_locales import lock_screen_hits, texts

FILES = {lang: yaml.safe_load((ROOT / "locales" / lang / "handoff.yml").read_text(encoding="utf-8")) for lang in SUPPORTED_LANGUAGES}


def head_is_safe(text: str) -> bool:
    return not lock_screen_hits(text)


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_same_keys_and_canned_ids(lang):
    assert set(FILES[lang]["responses"]) == set(FILES["en"]["responses"])
    assert [c["id"] for c in FILES[lang]["canned"]] == [c["id"] for c in FILES["en"]["canned"]]
    assert [c["id"] for c in canned_replies(lang)] == [c["id"] for c in FILES["en"]["canned"]]


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_lock_screen_safe(lang):
    found = [t for m in FILES[lang]["responses"].values() for t in texts(m)]
    found += [c["text"] for c in FILES[lang]["canned"]]
    assert [t[:40] for t in found if not head_is_safe(t)] == []
    assert not head_is_safe("Haven: police and abuse")  # the check can fail


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_options_are_never_carrier_or_quick_exit_words(lang):
    exits = i18n.all_quick_exit_words()
    for name, message in FILES[lang]["responses"].items():
        for button in [] if isinstance(message, str) else message.get("buttons", []) or []:
            words = set(normalise(button["title"]).split())
            assert not words & CARRIER_WORDS, f"{lang}:{name}"
            assert normalise(button["title"]) not in exits, f"{lang}:{name} option would erase the chat"


def test_placeholders_match_english():
    for lang in SUPPORTED_LANGUAGES:
        for name, message in FILES["en"]["responses"].items():
            assert i18n.placeholders(FILES[lang]["responses"][name]) == i18n.placeholders(message), f"{lang}:{name}"
