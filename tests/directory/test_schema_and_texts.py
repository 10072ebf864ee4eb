"""The 0002 migration matches the models on both databases; the service texts follow the rules."""

from __future__ import annotations

import re

import pytest
import yaml

from bot import i18n
from bot.gate_words import CARRIER_WORDS
from bot.settings import ROOT, SUPPORTED_LANGUAGES

from .helpers import LOCK_SCREEN_WORDS


def test_migration_matches_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.store import all_models
    from bot.store.db import get_engine

    with get_engine(db_url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = [d for d in compare_metadata(context, all_models()) if "directory_" in repr(d)]
    assert diff == []


def load(lang: str) -> dict:
    return yaml.safe_load((ROOT / "locales" / lang / "services.yml").read_text(encoding="utf-8"))["responses"]


def texts(message: object) -> list[str]:
    if isinstance(message, str):
        return [message]
    assert isinstance(message, dict)
    return [v for k, v in message.items() if k in ("text", "sms", "whatsapp", "telegram") and isinstance(v, str)]


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_same_keys_and_placeholders_in_every_language(lang: str) -> None:
    en, other = load("en"), load(lang)
    assert set(other) == set(en)
    for key in en:
        assert i18n.placeholders(other[key]) == i18n.placeholders(en[key]), f"{lang}:{key}"


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_lock_screen_safe_and_no_carrier_words(lang: str) -> None:
    for key, message in load(lang).items():
        for text in texts(message):
            head = i18n.strip_accents_lower(text[:40])
            assert not [w for w in LOCK_SCREEN_WORDS if re.search(rf"\b{w}", head)], f"{lang}:{key}"
            if key.startswith("utter_") and "{results}" in text:
                # the list follows a neutral sentence of at least 40 characters
                assert text.index("{") >= 36 or text.index("{results}") >= 40, f"{lang}:{key}"
        if key.startswith("services_button"):
            assert not set(i18n.strip_accents_lower(message).split()) & CARRIER_WORDS


def test_domain_declares_the_responses_slots_and_intents() -> None:
    domain = yaml.safe_load((ROOT / "domain" / "services.yml").read_text(encoding="utf-8"))
    assert set(domain["responses"]) == {k for k in load("en") if k.startswith("utter_")}
    assert set(domain["slots"]) == {"services_location", "services_query", "services_results", "services_choices"}
    assert all(s["influence_conversation"] is False for s in domain["slots"].values())
    assert set(domain["intents"]) == {"services_more", "services_pick", "services_map"}
    core = yaml.safe_load((ROOT / "domain" / "core.yml").read_text(encoding="utf-8"))
    assert not set(domain["intents"]) & set(core["intents"])
    assert not set(domain.get("entities", [])) & set(core["entities"])
