"""The quick-exit cover text is in the conversation's language; each deployment may set its own
per language (HAVEN_COVER_TEXT_<LANG>), one for all (HAVEN_COVER_TEXT), or none (empty)."""

from __future__ import annotations

from typing import Any

import pytest

from bot import i18n
from bot.safety.gate import cover_text
from bot.settings import SUPPORTED_LANGUAGES, get_settings
from tests.country.conftest import Harness, channel, sent_texts, twilio_message
from tests.country.minirasa import MiniRasa
from tests.country.numbers import invented_number


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_default_cover_text_is_the_neutral_locale_text(lang: str, haven_env: Any) -> None:
    assert cover_text(lang) == i18n.text("utter_cover", lang)
    assert cover_text(lang)
    if lang != "en":
        assert cover_text(lang) != cover_text("en")


def test_deployment_texts_per_language_and_for_all(haven_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_COVER_TEXT", "Order confirmed.")
    monkeypatch.setenv("HAVEN_COVER_TEXT_FR", "Commande confirmée.")
    monkeypatch.setenv("HAVEN_COVER_TEXT_SW", "")
    get_settings.cache_clear()
    assert cover_text("fr") == "Commande confirmée."
    assert cover_text("sw") == ""  # this deployment sends nothing in Swahili
    assert cover_text("es") == "Order confirmed."
    assert cover_text(None) == "Order confirmed."


async def test_quick_exit_over_sms_answers_in_her_language(country_env: Any, fake: Any) -> None:
    rasa = MiniRasa(lambda text: "greet")
    sender = invented_number("CI")
    harness = await Harness(channel("sms"), rasa).start()
    try:
        await harness.post(*twilio_message("sms", sender, "bonjour", harness.path))
        await harness.settle()
        fake.clear()
        await harness.post(*twilio_message("sms", sender, "##", harness.path))
        await harness.settle()
    finally:
        await harness.stop()
    assert sent_texts(fake) == [i18n.text("utter_cover", "fr")]


async def test_quick_exit_uses_the_deployments_text_for_her_language(country_env: Any, fake: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_COVER_TEXT_ES", "Pedido confirmado.")
    get_settings.cache_clear()
    rasa = MiniRasa(lambda text: "greet")
    sender = invented_number("US")  # English first there: only the conversation's language says Spanish
    harness = await Harness(channel("whatsapp"), rasa).start()
    try:
        await harness.post(*twilio_message("whatsapp", sender, "hola", harness.path))
        await harness.settle()
        fake.clear()
        await harness.post(*twilio_message("whatsapp", sender, "exit", harness.path))
        await harness.settle()
    finally:
        await harness.stop()
    assert sent_texts(fake) == ["Pedido confirmado."]
