"""Listening (issue 15): the question she asked is answered, a disclosure is acknowledged as a
disclosure even when the model missed it, and the menu comes only when it helps."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.listening import (
    ActionAcknowledgeDisclosure, ActionAnswerPrivacy, ActionAnswerReporting, ActionFallbackAnswer, ActionOfferMenu,
)
from bot import i18n
from bot.nlg import render_request

PHONE = {"en": "he checks my phone every evening", "fr": "il vérifie mon téléphone tous les soirs",
         "es": "él revisa mi teléfono todas las noches", "pt": "ele mexe no meu celular todos os dias",
         "sw": "anaangalia simu yangu kila jioni"}
POLICE = {"en": "will the police call my husband?", "fr": "est-ce que la police va appeler mon mari ?",
          "es": "¿la policía va a llamar a mi esposo?", "pt": "a polícia vai ligar para o meu marido?",
          "sw": "je polisi watampigia mume wangu simu?"}


def tracker(text: str, intent: str, lang: str = "en", earlier: tuple[str, ...] = (), channel: str = "sms") -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    events: list[dict[str, Any]] = [{"event": "bot", "text": "...", "metadata": {"utter_action": n}} for n in earlier]
    events.append({"event": "user", "text": text, "parse_data": latest, "input_channel": channel})
    return Tracker("conv-listen", {"language": lang, "country": "KE"}, latest, events, False, None, {}, "action_listen")


async def run(action: Any, t: Tracker) -> tuple[list[str], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return [m["response"] for m in dispatcher.messages], events


def render(name: str, lang: str, channel: str = "sms") -> str:
    body = {"response": name, "arguments": {}, "tracker": {"slots": {"language": lang, "country": "KE"}, "events": []},
            "channel": {"name": channel}}
    return str(render_request(body)["text"])


@pytest.mark.parametrize("lang", sorted(PHONE))
async def test_he_checks_my_phone_is_answered(lang: str) -> None:
    """As a disclosure, as a privacy question, or missed by the model: always the direct answer."""
    for action, intent in ((ActionAcknowledgeDisclosure(), "disclose_abuse"), (ActionAnswerPrivacy(), "ask_privacy"),
                           (ActionFallbackAnswer(), "nlu_fallback"), (ActionOfferMenu(), "greet")):
        names, _ = await run(action, tracker(PHONE[lang], intent, lang))
        assert "utter_answer_phone_checked" in names, (intent, names)
        assert "utter_main_menu" not in names and "utter_fallback" not in names


@pytest.mark.parametrize("channel,words", [("sms", "Messages"), ("whatsapp", "backup"), ("telegram", "48")])
def test_the_phone_answer_says_how_to_delete_on_her_channel(channel: str, words: str) -> None:
    text = render("utter_answer_phone_checked", "en", channel)
    assert words in text and ("##" in text or "/exit" in text)
    assert "code word" in text and "only answer when you write" in text


@pytest.mark.parametrize("lang", sorted(POLICE))
async def test_will_the_police_call_my_husband_is_answered_directly(lang: str) -> None:
    for action, intent in ((ActionAnswerPrivacy(), "ask_privacy"), (ActionAnswerReporting(), "ask_reporting")):
        names, _ = await run(action, tracker(POLICE[lang], intent, lang))
        assert names == ["utter_answer_police_contact"], intent
    first_words = render("utter_answer_police_contact", lang).split(".")[0].lower()
    assert first_words.startswith(("no", "non", "não", "hapana"))  # the answer comes first


async def test_a_general_question_keeps_the_general_text() -> None:
    names, _ = await run(ActionAnswerPrivacy(), tracker("who can see what i write here", "ask_privacy"))
    assert names == ["utter_privacy_info"]
    names, _ = await run(ActionAnswerReporting(), tracker("how do i report", "ask_reporting"))
    assert names == ["utter_reporting_info", "utter_report_offer"]


@pytest.mark.parametrize("lang,text", [("fr", "mon mari me frappe depuis des mois"), ("es", "anoche mi esposo me pegó"),
                                       ("sw", "mume wangu alinipiga jana usiku"), ("pt", "ele me bateu ontem à noite")])
async def test_a_disclosure_the_model_missed_is_still_acknowledged(lang: str, text: str) -> None:
    names, events = await run(ActionFallbackAnswer(), tracker(text, "nlu_fallback", lang))
    assert names[0] == "utter_disclosure_support" and "utter_fallback" not in names
    assert {"event": "slot", "name": "risk", "value": "disclosed", "timestamp": None} in events or any(
        e.get("name") == "risk" and e.get("value") == "disclosed" for e in events)
    assert "utter_emergency" not in names  # a past event is not answered as danger now


async def test_gibberish_still_gets_the_options() -> None:
    names, _ = await run(ActionFallbackAnswer(), tracker("qxz vvq plk", "nlu_fallback"))
    assert names == ["utter_fallback"]


@pytest.mark.parametrize("lang", ["en", "fr", "sw"])
async def test_menu_only_when_it_helps(lang: str) -> None:
    text = {"en": "he hits me", "fr": "il me frappe", "sw": "ananipiga"}[lang]
    first, _ = await run(ActionAcknowledgeDisclosure(), tracker(text, "disclose_abuse", lang, earlier=("utter_safe_check",)))
    assert first == ["utter_disclosure_support", "utter_main_menu"]  # the first time, the options help
    again, _ = await run(ActionAcknowledgeDisclosure(), tracker(text, "disclose_abuse", lang,
                                                                earlier=("utter_main_menu", "utter_disclosure_support")))
    assert again == ["utter_disclosure_support"]  # not the menu after every acknowledgement
    later = ("utter_main_menu",) + ("utter_welcome",) * 4
    assert (await run(ActionOfferMenu(), tracker("hello", "greet", lang, earlier=later)))[0] == ["utter_main_menu"]


@pytest.mark.parametrize("lang", ["en", "fr", "es", "pt", "sw"])
def test_answers_are_in_her_language(lang: str) -> None:
    for name in ("utter_answer_phone_checked", "utter_answer_police_contact"):
        assert i18n.detect_language(render(name, lang, "whatsapp")).best_guess == lang
