"""Per-turn context: language (choice > sticky detection > channel hint), country, risk."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import i18n

RISK_BY_INTENT = {"immediate_danger": "danger", "disclose_abuse": "disclosed"}


def latest_metadata(tracker: Tracker) -> Dict[str, Any]:
    """Channel metadata of the latest user message (language hint, country, location)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("metadata") or {}
    return {}


def chosen_language(tracker: Tracker) -> Optional[str]:
    """The language named by a choose_language message, if any."""
    if (tracker.latest_message.get("intent") or {}).get("name") != "choose_language":
        return None
    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == "language" and i18n.supported(str(entity.get("value")).lower()):
            return str(entity["value"]).lower()
    return None


def _hint(value: Any) -> Optional[str]:
    code = str(value or "").split("-")[0].split("_")[0].lower()
    return code if i18n.supported(code) else None


def decide_language(tracker: Tracker) -> List[Dict[Text, Any]]:
    """Slot events for the conversation language. Explicit choice is sticky. Detection switches on a
    confident, long-enough message, and an established language only when two messages in a row
    agree. With no language yet: a channel hint, then a tentative guess, then the default."""
    current = tracker.get_slot("language")
    source = tracker.get_slot("language_source")
    choice = chosen_language(tracker)
    if choice:
        return [SlotSet("language", choice), SlotSet("language_source", "choice"), SlotSet("language_confidence", 1.0)]
    text = tracker.latest_message.get("text") or ""
    events: List[Dict[Text, Any]] = []
    unset = not i18n.supported(current)
    # A language detected earlier: switching it needs two messages in a row guessed as the same new
    # language (a place name like "Nakuru" must not flip English to Swahili). A channel hint (her
    # app's language) is weaker than her own words: one confident message in another language wins.
    established = not unset and source == "detected"
    hint = _hint(latest_metadata(tracker).get("language_hint"))
    if text and not text.startswith("/"):
        detection = i18n.detect_language(text)
        previous_guess = tracker.get_slot("language_guess")
        events += [SlotSet("language_confidence", round(detection.confidence, 3)), SlotSet("language_guess", detection.best_guess)]
        if detection.language and source != "choice" and detection.language != current:
            if not established or previous_guess == detection.language:
                return events + [SlotSet("language", detection.language), SlotSet("language_source", "detected")]
        if unset and not hint and detection.tentative:
            return events + [SlotSet("language", detection.tentative), SlotSet("language_source", "detected")]
    if (unset or source == "default") and hint and hint != current:
        return events + [SlotSet("language", hint), SlotSet("language_source", "channel")]
    if unset:
        return events + [SlotSet("language", i18n.DEFAULT_LANGUAGE), SlotSet("language_source", "default")]
    return events


class ActionReadContext(Action):
    """Slot-mapping action run every turn: language, country, risk, and duress (from the gate)."""

    def name(self) -> Text:
        return "action_read_context"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        events = decide_language(tracker)
        country = str(latest_metadata(tracker).get("country") or "").upper()
        if len(country) == 2 and country != tracker.get_slot("country"):
            events.append(SlotSet("country", country))
        duress = latest_metadata(tracker).get("duress")
        if isinstance(duress, bool) and duress != bool(tracker.get_slot("duress")):
            events.append(SlotSet("duress", duress))
        risk = RISK_BY_INTENT.get((tracker.latest_message.get("intent") or {}).get("name", ""))
        if risk and tracker.get_slot("risk") != "danger" and risk != tracker.get_slot("risk"):
            events.append(SlotSet("risk", risk))
        if risk == "danger":
            await escalate_if_waiting(tracker.sender_id)
        return events


async def escalate_if_waiting(conversation_id: str) -> None:
    """Danger while she waits in line: she goes to the front now (SAFETY.md 5)."""
    import asyncio
    import logging

    from bot.handoff import service

    try:
        await asyncio.to_thread(service.escalate, conversation_id, "danger")
    except Exception as exc:  # noqa: BLE001 - never delay the danger reply over the queue
        logging.getLogger("haven.actions.context").error("danger escalation failed (%s)", type(exc).__name__)


class ActionMarkOnboarded(Action):
    """First contact done (the safe-to-talk question has been asked)."""

    def name(self) -> Text:
        return "action_mark_onboarded"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        return [SlotSet("onboarded", True)]


class ActionChooseLanguage(Action):
    """Confirm a named language and show the menu in it, or offer the language menu."""

    def name(self) -> Text:
        return "action_choose_language"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if chosen_language(tracker):
            dispatcher.utter_message(response="utter_language_changed")
            dispatcher.utter_message(response="utter_main_menu")
        else:
            dispatcher.utter_message(response="utter_language_menu")
        return []
