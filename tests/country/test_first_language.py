"""Language from the first message: a short greeting uses her country's languages as a prior
("hola" from +34 is Spanish, "mambo" from +255 is Swahili) before the default; the two-message
rule for switching an established language stays."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import ActionReadContext, greeting_language
from bot import countries
from tests.country.conftest import Harness, channel, sent_texts, twilio_message
from tests.country.minirasa import MiniRasa
from tests.country.numbers import invented_number

# (greeting, her country, expected language): greetings in each language from a country speaking it.
GREETINGS = [
    ("hola", "ES", "es"), ("Hola!", "MX", "es"), ("buenas", "CO", "es"), ("holi", "AR", "es"),
    ("mambo", "TZ", "sw"), ("Habari", "KE", "sw"), ("jambo", "UG", "sw"), ("niaje", "KE", "sw"), ("sasa", "CD", "sw"),
    ("bonjour", "CI", "fr"), ("Salut", "SN", "fr"), ("bjr", "CD", "fr"), ("bonsoir", "CM", "fr"),
    ("oi", "BR", "pt"), ("Olá", "PT", "pt"), ("bom dia", "MZ", "pt"), ("ola", "AO", "pt"),
    ("hi", "KE", "en"), ("hello", "UG", "en"), ("hey", "US", "en"),
    ("ola", "ES", "es"),  # a greeting two languages share: her country's
]


def first_message(text: str, country: Optional[str], source: str = "phone", hint: Optional[str] = None) -> Tracker:
    latest = {"text": text, "intent": {"name": "greet", "confidence": 0.9}, "entities": []}
    metadata: dict[str, Any] = {"country": country, "country_source": source, "language_hint": hint}
    events = [{"event": "user", "text": text, "parse_data": latest, "metadata": metadata}]
    return Tracker("conv", {}, latest, events, False, None, {}, "action_listen")


async def slots_after(tracker: Tracker) -> dict[str, Any]:
    events = await ActionReadContext().run(CollectingDispatcher(), tracker, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.mark.parametrize("text,country,expected", GREETINGS)
async def test_first_greeting_takes_her_countrys_language(text: str, country: str, expected: str) -> None:
    slots = await slots_after(first_message(text, country))
    assert slots["language"] == expected, (text, country, slots)
    assert slots["country"] == country


async def test_unknown_short_first_message_uses_her_countrys_main_language() -> None:
    slots = await slots_after(first_message("ok", "BR"))
    assert slots["language"] == "pt" and slots["language_source"] == "country"
    assert (await slots_after(first_message("ok", None)))["language"] == "en"  # no country: the default


async def test_a_greeting_wins_over_the_app_language_but_an_app_language_beats_the_country_prior() -> None:
    slots = await slots_after(first_message("hola", "US", "phone", hint="en"))
    assert slots["language"] == "es" and slots["language_source"] == "greeting"
    slots = await slots_after(first_message("ok", "TZ", "language_region", hint="en"))
    assert slots["language"] == "en" and slots["language_source"] == "channel"


def test_greeting_lookup_can_fail() -> None:
    assert greeting_language("hello there how are you today") is None
    assert greeting_language("ola") is None  # shared by es and pt: no country, no guess
    assert greeting_language("ola", countries.languages("PT")) == "pt"


async def test_the_two_message_rule_still_holds_after_a_detected_language() -> None:
    established = {"language": "sw", "language_source": "detected", "language_guess": "sw"}
    text = "je suis à la maison et j'ai très peur de lui ce soir"

    def tracker(slots: dict[str, Any]) -> Tracker:
        latest = {"text": text, "intent": {"name": "disclose_abuse", "confidence": 0.9}, "entities": []}
        return Tracker("conv", slots, latest, [{"event": "user", "text": text, "parse_data": latest, "metadata": {}}],
                       False, None, {}, "action_listen")

    once = await slots_after(tracker(dict(established)))
    assert "language" not in once and once["language_guess"] == "fr"
    twice = await slots_after(tracker(dict(established, language_guess="fr")))
    assert twice["language"] == "fr"
    # A language taken from a greeting is only a prior: the next clear message switches at once.
    after_greeting = await slots_after(tracker({"language": "es", "language_source": "greeting"}))
    assert after_greeting["language"] == "fr"


@pytest.mark.parametrize("text,country,expected", [("hola", "ES", "es"), ("mambo", "TZ", "sw"), ("bonjour", "CI", "fr"),
                                                   ("oi", "BR", "pt"), ("hi", "KE", "en")])
async def test_first_reply_over_sms_is_in_the_greetings_language(text: str, country: str, expected: str,
                                                                 country_env: Any, fake: Any) -> None:
    rasa = MiniRasa(lambda t: "greet")
    harness = await Harness(channel("sms"), rasa).start()
    try:
        await harness.post(*twilio_message("sms", invented_number(country), text, harness.path))
        await harness.settle()
    finally:
        await harness.stop()
    assert [name for name, _ in rasa.sent] == ["utter_safe_check"]
    from bot import i18n

    safe_check = i18n.text("utter_safe_check", expected, "sms")
    assert sent_texts(fake)[0].startswith(safe_check.split("\n")[0][:30]), sent_texts(fake)
    assert rasa.sent[0][1]["language"] == expected
