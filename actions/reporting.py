"""The report form (issue 12): validation of each answer, skips, and what may interrupt it.

Every question can be skipped (the answer becomes SKIP, then None in the Draft). A phrased
quick exit is never read as an answer (not_intent in the domain: the quick-exit rule runs and
erases the conversation, draft included). Before any answer is read: "stop" or asking for a
person end the form (the draft,
which lives only in this conversation's slots, is cleared; action_report_after_form runs the
follow-up); a danger message gets the emergency texts first and the same question again; a
language change re-asks the question in the new language. The draft never leaves the slots
until she confirms the summary (actions/reporting_case.py submits it).
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import reporting_answers as answers
from bot import i18n
from bot.safety.lexicon import danger_match

FORM = "report_form"
FORM_SLOTS = ("report_types", "report_when", "report_place", "report_safe", "report_doctor",
              "report_relationship", "report_identity", "report_contact", "report_statement")
HELPER_SLOTS = ("report_types_acc", "report_contact_wait", "report_stage")
STOP_INTENTS = {"request_officer": "handoff"}  # a quick exit never reaches the form (not_intent)
MAX_STATEMENT = 4000
MAX_NAME = 200


def clear_draft() -> Dict[Text, Any]:
    """Slot values that forget every answer of the draft."""
    return {name: None for name in (*FORM_SLOTS, *HELPER_SLOTS[:2])}


def language_of(tracker: Tracker) -> str:
    language = tracker.get_slot("language")
    return language if i18n.supported(language) else i18n.DEFAULT_LANGUAGE


def _pin(tracker: Tracker) -> Optional[tuple[float, float]]:
    from actions.services import _pin as services_pin

    return services_pin(tracker)


def find_place(text: str, country: Optional[str], language: str) -> Optional[dict[str, Any]]:
    """A place she typed, through the gazetteer: name, coordinates, admin-1 region, country.
    An unknown or ambiguous name outside her country keeps only the words (never a guess)."""
    from bot.directory.gazetteer import get_gazetteer
    from bot.directory.placefinder import find_place as match

    name = text.strip()[:200]
    found = match(get_gazetteer(), text, country, language)
    place = found.place if found.status == "found" else None
    if found.status == "ambiguous" and found.choices and (not country or found.choices[0].country == country):
        place = found.choices[0]
    if place is None:
        return {"name": name} if name else None
    return {"name": place.name, "lat": place.lat, "lon": place.lon, "region": place.parent or None,
            "country": place.country or None}


def pin_place(lat: float, lon: float) -> dict[str, Any]:
    """A shared pin, rounded to about 100 m (the desk needs the area, not her doorstep)."""
    from bot.country_detect import pin_country

    return {"lat": round(lat, 3), "lon": round(lon, 3), "country": pin_country(lat, lon)}


class ValidateReportForm(FormValidationAction):
    """Reads each answer of report_form; every question can be skipped."""

    def name(self) -> Text:
        return "validate_report_form"

    def _interrupt(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker,
                   narrative: bool = False) -> Optional[Dict[Text, Any]]:
        """What happens instead of reading the answer, or None to read it. In her own words
        (`narrative`), danger words may describe what happened: the emergency texts come first
        and her words are still kept (asking again would loop on the same words)."""
        message = tracker.latest_message or {}
        intent = answers.intent_of(message)
        if tracker.get_slot("report_consent") is not True:
            return {**clear_draft(), "requested_slot": None, "report_stage": "stopped"}  # never without consent
        if intent in STOP_INTENTS or answers.is_stop(message):
            return {**clear_draft(), "requested_slot": None, "report_stage": STOP_INTENTS.get(intent, "stopped")}
        text = str(message.get("text") or "")
        if intent == "immediate_danger" or (text and not text.startswith("/") and danger_match(text)):
            dispatcher.utter_message(response="utter_emergency")
            dispatcher.utter_message(response="utter_danger_followup")
            if narrative:
                return None
            dispatcher.utter_message(response="utter_report_resume")
            return {slot: None}
        if intent == "choose_language":
            from actions.context import chosen_language

            changed = chosen_language(tracker)
            dispatcher.utter_message(response="utter_language_changed" if changed else "utter_language_menu")
            return {slot: None}
        return None

    def _one(self, slot: str, options: tuple[str, ...], dispatcher: CollectingDispatcher,
             tracker: Tracker) -> Dict[Text, Any]:
        stop = self._interrupt(slot, dispatcher, tracker)
        if stop is not None:
            return stop
        if answers.is_skip(tracker.latest_message):
            return {slot: answers.SKIP}
        choice = answers.choose_one(tracker.latest_message, options)
        if choice is None:
            dispatcher.utter_message(response="utter_report_invalid")
        return {slot: choice}

    async def validate_report_types(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        stop = self._interrupt("report_types", dispatcher, tracker)
        if stop is not None:
            return stop
        acc = list(tracker.get_slot("report_types_acc") or [])
        if answers.is_skip(tracker.latest_message):
            return {"report_types": acc or answers.SKIP, "report_types_acc": None}
        picked, done = answers.choose_types(tracker.latest_message)
        acc += [p for p in picked if p not in acc]
        if done and acc:
            return {"report_types": acc, "report_types_acc": None}
        if done:
            return {"report_types": answers.SKIP, "report_types_acc": None}
        if not picked:
            dispatcher.utter_message(response="utter_report_invalid")
        return {"report_types": None, "report_types_acc": acc or None}

    async def validate_report_when(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> Dict[Text, Any]:
        return self._one("report_when", answers.WHEN_OPTIONS, dispatcher, tracker)

    async def validate_report_place(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> Dict[Text, Any]:
        stop = self._interrupt("report_place", dispatcher, tracker)
        if stop is not None:
            return stop
        if answers.is_skip(tracker.latest_message):
            return {"report_place": answers.SKIP}
        pin = _pin(tracker)
        if pin is not None:
            return {"report_place": await asyncio.to_thread(pin_place, *pin)}
        text = str(tracker.latest_message.get("text") or "")
        if not text or text.startswith("/"):
            dispatcher.utter_message(response="utter_report_invalid")
            return {"report_place": None}
        place = await asyncio.to_thread(find_place, text, tracker.get_slot("country"), language_of(tracker))
        return {"report_place": place or answers.SKIP}

    async def validate_report_safe(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> Dict[Text, Any]:
        result = self._one("report_safe", answers.YES_NO, dispatcher, tracker)
        if result.get("report_safe") == "no":  # not safe now: the danger path first, then go on
            dispatcher.utter_message(response="utter_emergency")
            dispatcher.utter_message(response="utter_danger_followup")
            dispatcher.utter_message(response="utter_report_resume")
        return result

    async def validate_report_doctor(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> Dict[Text, Any]:
        result = self._one("report_doctor", answers.YES_NO, dispatcher, tracker)
        if result.get("report_doctor") == "yes":
            from actions.reporting_health import offer_health_service

            await offer_health_service(dispatcher, tracker)
        return result

    async def validate_report_relationship(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                           domain: DomainDict) -> Dict[Text, Any]:
        return self._one("report_relationship", answers.RELATIONSHIP_OPTIONS, dispatcher, tracker)

    async def validate_report_identity(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> Dict[Text, Any]:
        stop = self._interrupt("report_identity", dispatcher, tracker)
        if stop is not None:
            return stop
        message = tracker.latest_message
        if answers.is_skip(message) or answers.button_choice(message) == "anonymous":
            return {"report_identity": "anonymous"}
        text = str(message.get("text") or "").strip()
        if not text or text.startswith("/") or len(text) > MAX_NAME:
            dispatcher.utter_message(response="utter_report_invalid")
            return {"report_identity": None}
        return {"report_identity": text}

    async def validate_report_contact(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> Dict[Text, Any]:
        stop = self._interrupt("report_contact", dispatcher, tracker)
        if stop is not None:
            return stop
        message = tracker.latest_message
        waiting = tracker.get_slot("report_contact_wait")
        if answers.is_skip(message):
            return {"report_contact": {"mode": "chat"}, "report_contact_wait": None}
        text = str(message.get("text") or "").strip()
        if waiting and text and not text.startswith("/"):
            if waiting == "safe_time":
                return {"report_contact": {"mode": "safe_time", "safe_time": text[:200]}, "report_contact_wait": None}
            number = answers.phone_number(text)
            if number:
                return {"report_contact": {"mode": "other_number", "number": number,
                                           "call_ok": waiting == "other_number_call"}, "report_contact_wait": None}
            dispatcher.utter_message(response="utter_report_invalid")
            return {"report_contact": None}
        choice = answers.choose_one(message, answers.CONTACT_OPTIONS)
        if choice in ("chat", "none"):
            return {"report_contact": {"mode": choice}, "report_contact_wait": None}
        if choice is None:
            dispatcher.utter_message(response="utter_report_invalid")
        return {"report_contact": None, "report_contact_wait": choice}

    async def validate_report_statement(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                        domain: DomainDict) -> Dict[Text, Any]:
        stop = self._interrupt("report_statement", dispatcher, tracker, narrative=True)
        if stop is not None:
            return stop
        if answers.is_skip(tracker.latest_message):
            return {"report_statement": answers.SKIP}
        text = str(tracker.latest_message.get("text") or "").strip()
        if not text or text.startswith("/"):
            dispatcher.utter_message(response="utter_report_invalid")
            return {"report_statement": None}
        if len(text) > MAX_STATEMENT:
            dispatcher.utter_message(response="utter_report_statement_trimmed")
        return {"report_statement": text[:MAX_STATEMENT].replace("\x00", "")}


class ActionAskReportTypes(Action):
    """The first question, or "anything else?" once she has tapped some."""

    def name(self) -> Text:
        return "action_ask_report_types"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if tracker.get_slot("report_consent") is not True:  # never a question before her yes
            return [SlotSet("requested_slot", None), ActiveLoop(None)]
        acc = [t for t in tracker.get_slot("report_types_acc") or [] if t in answers.TYPE_OPTIONS]
        if not acc:
            dispatcher.utter_message(response="utter_ask_report_types")
            return []
        language = language_of(tracker)
        chosen = ", ".join(i18n.text(f"report_type_{t}", language) for t in acc)
        dispatcher.utter_message(response="utter_ask_report_types_more", chosen=chosen)
        return []


class ActionAskReportDoctor(Action):
    """The doctor question; first, plainly, the 72-hour window when it may still be open."""

    def name(self) -> Text:
        return "action_ask_report_doctor"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if answers.urgent_health(tracker.get_slot("report_types"), tracker.get_slot("report_when")):
            dispatcher.utter_message(response="utter_report_doctor_urgent")
        dispatcher.utter_message(response="utter_ask_report_doctor")
        return []


class ActionAskReportContact(Action):
    """How a desk may reach her; then the safe time or the number, if she chose one."""

    def name(self) -> Text:
        return "action_ask_report_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        waiting = tracker.get_slot("report_contact_wait")
        name = {"safe_time": "utter_ask_report_contact_time", "other_number": "utter_ask_report_contact_number",
                "other_number_call": "utter_ask_report_contact_number"}.get(waiting or "", "utter_ask_report_contact")
        dispatcher.utter_message(response=name)
        return []
