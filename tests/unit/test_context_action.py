"""action_read_context: explicit choice is sticky, detection needs confidence, hints fill gaps."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import ActionChooseLanguage, ActionReadContext


def tracker(text: str, intent: str = "greet", slots: dict[str, Any] | None = None,
            entities: list[dict[str, Any]] | None = None, metadata: dict[str, Any] | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    events = [{"event": "user", "text": text, "parse_data": latest, "metadata": metadata or {}}]
    return Tracker("conv", slots or {}, latest, events, False, None, {}, "action_listen")


async def run(t: Tracker) -> dict[str, Any]:
    events = await ActionReadContext().run(CollectingDispatcher(), t, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def test_confident_detection_sets_language() -> None:
    slots = await run(tracker("habari yako, nina shida kubwa nyumbani na mume wangu"))
    assert slots["language"] == "sw" and slots["language_source"] == "detected"
    assert slots["language_confidence"] > 0.75


async def test_short_words_do_not_flip_the_language() -> None:
    for text in ("ok", "si", "yes", "no", "1", "asante"):
        slots = await run(tracker(text, slots={"language": "fr", "language_source": "detected"}))
        assert "language" not in slots, text


async def test_explicit_choice_wins_and_sticks() -> None:
    chose = await run(tracker("kiswahili tafadhali", "choose_language",
                              entities=[{"entity": "language", "value": "sw"}], slots={"language": "en"}))
    assert chose["language"] == "sw" and chose["language_source"] == "choice"
    later = await run(tracker("I need help finding a clinic near my home please",
                              slots={"language": "sw", "language_source": "choice"}))
    assert "language" not in later


async def test_channel_hint_then_default() -> None:
    hinted = await run(tracker("/greet", metadata={"language_hint": "pt-BR"}))
    assert hinted["language"] == "pt" and hinted["language_source"] == "channel"
    default = await run(tracker("/greet"))
    assert default["language"] == "en" and default["language_source"] == "default"


async def test_country_and_risk() -> None:
    slots = await run(tracker("he is outside with a knife", "immediate_danger", metadata={"country": "ke"}))
    assert slots["country"] == "KE" and slots["risk"] == "danger"
    kept = await run(tracker("he hits me", "disclose_abuse", slots={"risk": "danger"}))
    assert "risk" not in kept  # danger is never downgraded


async def test_choose_language_without_a_language_offers_the_menu() -> None:
    d = CollectingDispatcher()
    await ActionChooseLanguage().run(d, tracker("language", "choose_language"), {})
    assert [m["response"] for m in d.messages] == ["utter_language_menu"]
    d = CollectingDispatcher()
    await ActionChooseLanguage().run(d, tracker("fr", "choose_language", entities=[{"entity": "language", "value": "fr"}]), {})
    assert [m["response"] for m in d.messages] == ["utter_language_changed", "utter_main_menu"]


async def test_first_message_takes_a_tentative_guess_over_the_default() -> None:
    slots = await run(tracker("hola, buenas noches, qué tal"))
    assert slots["language"] == "es" and slots["language_source"] == "detected"
    # ...but the same weak guess never switches an established language.
    from bot.i18n import detect_language

    assert detect_language("hola, buenas noches, qué tal").language is None  # below the switch bar
    kept = await run(tracker("hola, buenas noches, qué tal", slots={"language": "pt", "language_source": "detected"}))
    assert "language" not in kept


async def test_a_place_name_does_not_flip_an_established_language() -> None:
    # "nakuru" makes lingua guess Swahili; one such message never switches English.
    slots = await run(tracker("i am in nakuru now with my kids", slots={"language": "en", "language_source": "default"}))
    assert "language" not in slots or slots["language"] == "en"
    established = {"language": "en", "language_source": "detected", "language_guess": "en"}
    one = await run(tracker("habari yako, nina shida kubwa nyumbani", slots=established))
    assert "language" not in one  # one confident Swahili message: noted, not yet switched
    two = await run(tracker("nataka msaada tafadhali, mume wangu ananipiga",
                            slots=dict(established, language_guess=one["language_guess"])))
    assert two["language"] == "sw"  # the second in a row switches
