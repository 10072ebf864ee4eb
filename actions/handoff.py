"""Talking to a trained person: consent, queueing with risk priority, position and honest wait,
leaving or staying in line, and the hotline when nobody can answer (SAFETY.md 5, 6, 8).

The queue itself lives in bot.handoff (the database is the truth, not tracker slots); these
actions only ask it and answer her. Blocking database work runs in a thread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

log = logging.getLogger("haven.actions.handoff")

# Intent -> topic label (locales: handoff_topic_*); the summary she agrees to share is built from
# these labels only, never from her words.
TOPICS = {
    "immediate_danger": "urgent",
    "third_party_danger": "urgent",
    "disclose_abuse": "shared",
    "ask_safety_info": "safety",
    "find_service": "services",
    "inform_location": "services",
    "ask_medical": "health",
    "ask_legal": "legal",
    "ask_reporting": "reporting",
    "helper_support": "someone_else",
    "emotional_distress": "feelings",
}
MAX_TOPICS = 4


def language_of(tracker: Tracker) -> str:
    from bot import i18n

    language = tracker.get_slot("language")
    return language if i18n.supported(language) else i18n.DEFAULT_LANGUAGE


def summary_for(tracker: Tracker, language: str) -> str:
    """A short, content-free summary from what she asked about (shown to her before she agrees)."""
    from bot import i18n

    seen: list[str] = []
    for event in tracker.events:
        if event.get("event") != "user":
            continue
        topic = TOPICS.get(((event.get("parse_data") or {}).get("intent") or {}).get("name") or "")
        if topic and topic not in seen:
            seen.append(topic)
    if tracker.get_slot("risk") == "danger" and "urgent" not in seen:
        seen.insert(0, "urgent")
    labels = [i18n.text(f"handoff_topic_{topic}", language) for topic in (seen[:MAX_TOPICS] or ["none"])]
    return "; ".join(labels)


def channel_of(conversation_id: str, tracker: Tracker) -> str:
    """Her channel from the contact record (set by the channels), else the latest input channel."""
    from bot.store.db import session_scope
    from bot.store.models import Contact

    with session_scope() as session:
        contact = session.get(Contact, conversation_id)
        if contact is not None and contact.channel:
            return str(contact.channel)
    return tracker.get_latest_input_channel() or "rest"


def tell_status(dispatcher: CollectingDispatcher, status: Any) -> Optional[int]:
    """Position and wait, or the hotline when nobody is on duty / the wait is too long.

    Returns the wait told (None when she was given the hotline instead).
    """
    from bot.handoff.queue import MAX_WAIT_MINUTES

    if status.wait_minutes is None:
        dispatcher.utter_message(response="utter_handoff_no_officer")
        return None
    if status.wait_minutes > MAX_WAIT_MINUTES:
        dispatcher.utter_message(response="utter_handoff_long_wait")
        return None
    dispatcher.utter_message(response="utter_handoff_wait_update", position=status.position, count=status.wait_minutes)
    return int(status.wait_minutes)


class ActionRequestOfficer(Action):
    """She asks for a person: first say what the officer will see and ask consent."""

    def name(self) -> Text:
        return "action_request_officer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.handoff import service
        from bot.handoff.queue import status_for_conversation

        status = await asyncio.to_thread(status_for_conversation, tracker.sender_id)
        if status is not None and status.status == "queued":
            # Already waiting: no second consent, no second place; danger since then moves her up.
            risk = tracker.get_slot("risk")
            if risk and await asyncio.to_thread(service.escalate, tracker.sender_id, risk):
                status = await asyncio.to_thread(status_for_conversation, tracker.sender_id) or status
            tell_status(dispatcher, status)
            return []
        language = language_of(tracker)
        await tell_availability(dispatcher, tracker, language)
        dispatcher.utter_message(response="utter_handoff_consent", summary=summary_for(tracker, language))
        return []


def meanwhile_text(country: Optional[str], language: str) -> str:
    """Her country's line to call while she waits (only the emergency number when no support
    line is verified: never the same number twice under two names)."""
    from bot import countries, country_texts, i18n

    line = countries.numbers(country, language)["hotline_number"]  # '' when no line is verified
    numbers = country_texts.numbers_for(country, language)  # with the served countries' list when unknown
    same = not line or line == numbers["emergency_number"]
    return i18n.text("listening_meanwhile_emergency" if same else "listening_meanwhile_hotline", language, **numbers)


async def tell_availability(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> None:
    """First whether someone is free now and how long it may take, with her country's line for
    now (SAFETY.md 8); on a database error, the line alone (never silence)."""
    from bot.handoff.availability import availability

    meanwhile = meanwhile_text(tracker.get_slot("country"), language)
    try:
        found = await asyncio.to_thread(availability, language, tracker.get_slot("risk"))
    except Exception as exc:  # noqa: BLE001 - the consent question still follows
        log.error("availability check failed (%s)", type(exc).__name__)
        dispatcher.utter_message(response="utter_handoff_available_nobody", meanwhile=meanwhile)
        return
    args: Dict[str, Any] = {"meanwhile": meanwhile}
    if found.minutes is not None:
        args["count"] = found.minutes
    dispatcher.utter_message(response=f"utter_handoff_available_{found.kind}", **args)


class ActionHandoffEnqueue(Action):
    """She agreed: queue her with her risk priority, then tell her honestly where she stands."""

    def name(self) -> Text:
        return "action_handoff_enqueue"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.handoff import service
        from bot.handoff.queue import MAX_WAIT_MINUTES, status_for_conversation

        conversation_id = tracker.sender_id
        language = language_of(tracker)
        try:
            channel = await asyncio.to_thread(channel_of, conversation_id, tracker)
            queued = await asyncio.to_thread(
                service.enqueue,
                conversation_id,
                channel=channel,
                language=language,
                risk=tracker.get_slot("risk"),
                country=tracker.get_slot("country"),
                summary=summary_for(tracker, language),
            )
            status = await asyncio.to_thread(status_for_conversation, conversation_id)
        except Exception as exc:  # noqa: BLE001 - never leave her in silence (SAFETY.md 8)
            log.error("enqueue failed (%s)", type(exc).__name__)  # the type only: SQL errors carry parameters
            dispatcher.utter_message(response="utter_handoff_failed")
            return []
        if status is None:  # taken between the two calls (an officer was quick)
            return []
        if status.wait_minutes is None or status.wait_minutes > MAX_WAIT_MINUTES:
            dispatcher.utter_message(
                response="utter_handoff_no_officer" if status.wait_minutes is None else "utter_handoff_long_wait"
            )
            told, long_wait = None, True
        else:
            dispatcher.utter_message(response="utter_handoff_queued", position=status.position, count=status.wait_minutes)
            told, long_wait = status.wait_minutes, False
        await asyncio.to_thread(service.record_notice, queued.handoff_id, told, long_wait=long_wait)
        log.info("handoff %s: survivor told position/wait", queued.handoff_id)
        return []


class ActionHandoffDecline(Action):
    """She does not want a person now."""

    def name(self) -> Text:
        return "action_handoff_decline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_handoff_declined")
        return []


class ActionHandoffLeave(Action):
    """She leaves the line (never with a carrier word: the button says "Leave the line")."""

    def name(self) -> Text:
        return "action_handoff_leave"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.handoff import service

        left = await asyncio.to_thread(service.cancel, tracker.sender_id)
        dispatcher.utter_message(response="utter_handoff_left_queue" if left else "utter_handoff_not_waiting")
        return []


class ActionHandoffStay(Action):
    """After hearing nobody is free (or the wait is long), she chooses to stay in line."""

    def name(self) -> Text:
        return "action_handoff_stay"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.handoff.queue import status_for_conversation

        status = await asyncio.to_thread(status_for_conversation, tracker.sender_id)
        waiting = status is not None and status.status == "queued"
        dispatcher.utter_message(response="utter_handoff_staying" if waiting else "utter_handoff_not_waiting")
        return []


class ActionHandoffStatus(Action):
    """"How long now?": her current position and wait, honestly."""

    def name(self) -> Text:
        return "action_handoff_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.handoff import service
        from bot.handoff.queue import status_for_conversation

        status = await asyncio.to_thread(status_for_conversation, tracker.sender_id)
        if status is None or status.status != "queued":
            dispatcher.utter_message(response="utter_handoff_not_waiting")
            return []
        told = tell_status(dispatcher, status)
        await asyncio.to_thread(service.record_notice, status.handoff_id, told, long_wait=told is None)
        return []
