"""Her report later: "what's happening with K7-4QX" and withdrawing it.

Answered only in the conversation that sent it (bot.reporting.intake checks), or after her code
word: the code word is read at the channel edge by the safety gate (bot.safety.report_word),
never by Rasa, so the action only asks for it and renders the gate's verdict.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.reporting_answers import intent_of
from actions.reporting_case import in_duress
from bot.reporting import reference as refs

REF_ENTITY = "report_ref"
STATUSES = ("new", "acknowledged", "contacted", "referred", "closed")


def reference_in(tracker: Tracker) -> Optional[str]:
    """The reference she named (entity, then the text), else the one sent from this chat."""
    message = tracker.latest_message or {}
    for entity in message.get("entities") or []:
        if entity.get("entity") == REF_ENTITY:
            found = refs.normalise(str(entity.get("value") or "")) or refs.find_in(str(entity.get("value") or ""))
            if found:
                return found
    text = str(message.get("text") or "")
    return refs.find_in(text if not text.startswith("/") else "") or tracker.get_slot("report_ref")


def _status(reference: str, conversation_id: str) -> Any:
    from bot.reporting.intake import status

    return status(reference, conversation_id)


def _withdraw(reference: str, conversation_id: str) -> Any:
    from bot.reporting.intake import withdraw

    return withdraw(reference, conversation_id)


def _expect_word(conversation_id: str, purpose: str, reference: str) -> None:
    from bot.safety.code_word import expect_report_word

    expect_report_word(conversation_id, purpose, reference)


def render_status(dispatcher: CollectingDispatcher, found: Any) -> None:
    name = f"utter_report_status_{found.status}" if found.status in STATUSES else "utter_report_status_new"
    dispatcher.utter_message(response=name, reference=found.reference, count=found.referrals)


class ActionReportStatus(Action):
    """Status in plain words (same chat), else the code-word question."""

    def name(self) -> Text:
        return "action_report_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.reporting.errors import NotFound

        reference = reference_in(tracker)
        if in_duress(tracker):  # someone else may hold her phone: nothing about a report
            dispatcher.utter_message(response="utter_report_word_denied")
            return []
        if not reference:
            dispatcher.utter_message(response="utter_report_ask_reference")
            return []
        try:
            found = await asyncio.to_thread(_status, reference, tracker.sender_id)
        except NotFound:
            await asyncio.to_thread(_expect_word, tracker.sender_id, "status", reference)
            dispatcher.utter_message(response="utter_report_word_needed", reference=reference)
            return []
        render_status(dispatcher, found)
        return []


class ActionReportWithdraw(Action):
    """Withdraw: a confirmation in the same chat; from elsewhere, her code word (which confirms)."""

    def name(self) -> Text:
        return "action_report_withdraw"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.reporting.errors import NotFound

        reference = reference_in(tracker)
        if in_duress(tracker):
            dispatcher.utter_message(response="utter_report_word_denied")
            return []
        if not reference:
            dispatcher.utter_message(response="utter_report_ask_reference")
            return []
        try:
            await asyncio.to_thread(_status, reference, tracker.sender_id)
        except NotFound:
            await asyncio.to_thread(_expect_word, tracker.sender_id, "withdraw", reference)
            dispatcher.utter_message(response="utter_report_word_needed_withdraw", reference=reference)
            return []
        dispatcher.utter_message(response="utter_report_withdraw_confirm", reference=reference)
        return [SlotSet("report_pending_ref", reference)]


class ActionReportWithdrawConfirmed(Action):
    """She confirmed: the report is erased (its key shredded) and the desk no longer sees it."""

    def name(self) -> Text:
        return "action_report_withdraw_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.reporting.errors import NotFound

        reference = tracker.get_slot("report_pending_ref")
        events: List[Dict[Text, Any]] = [SlotSet("report_pending_ref", None)] if reference else []
        if intent_of(tracker.latest_message) in ("report_keep", "deny") or not reference or in_duress(tracker):
            dispatcher.utter_message(response="utter_report_kept")
            return events
        try:
            await asyncio.to_thread(_withdraw, reference, tracker.sender_id)
        except NotFound:
            dispatcher.utter_message(response="utter_report_word_denied")
            return events
        dispatcher.utter_message(response="utter_report_withdrawn", reference=reference)
        if tracker.get_slot("report_ref") == reference:
            events.append(SlotSet("report_ref", None))
        return events


class ActionReportWordResult(Action):
    """The gate checked her code word (the word itself never reached Rasa): the verdict in words."""

    def name(self) -> Text:
        return "action_report_word_result"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        entities = {e.get("entity"): e.get("value") for e in tracker.latest_message.get("entities") or []}
        result, reference = str(entities.get("report_result") or ""), refs.normalise(str(entities.get(REF_ENTITY) or ""))
        if result == "withdrawn" and reference:
            dispatcher.utter_message(response="utter_report_withdrawn", reference=reference)
        elif result in STATUSES and reference:
            count = int(entities.get("count") or 0) if str(entities.get("count") or "0").isdigit() else 0
            dispatcher.utter_message(response=f"utter_report_status_{result}", reference=reference, count=count)
        else:
            dispatcher.utter_message(response="utter_report_word_denied")
        return []
