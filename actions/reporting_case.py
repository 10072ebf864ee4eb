"""Report actions around the form: what a report is and her consent, the summary she confirms,
submitting it (bot.reporting.intake.submit), and what happens next.

No consent -> nothing beyond the conversation is stored: submit() is called only after her yes
(report_consent) and her confirmation of the summary; the draft lives only in slots.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, List, Mapping, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import reporting_answers as answers
from actions.reporting import clear_draft, language_of
from bot import countries, i18n

log = logging.getLogger("haven.actions.reporting")
CONSENT_VERSION = "v1"
CHANNELS = ("sms", "whatsapp", "telegram", "rest", "console")


def slot_events(values: Mapping[str, Any], tracker: Tracker) -> List[Dict[Text, Any]]:
    return [SlotSet(k, v) for k, v in values.items() if tracker.get_slot(k) != v]


def desk_preview(country: Optional[str]) -> Optional[str]:
    """The desk her report would go to in her country (before she says where), if the directory knows one."""
    if not country:
        return None
    from bot.reporting import routing
    from bot.store.db import session_scope

    with session_scope() as session:
        return routing.route(session, country.upper()).desk_name


def has_code_word(conversation_id: str) -> bool:
    """Whether she has set a code word in this conversation (copied onto a report she sends)."""
    from bot.store.db import session_scope
    from bot.store.models import SafetyState

    with session_scope() as session:
        state = session.get(SafetyState, conversation_id)
        return bool(state is not None and state.code_word_hash)


def in_duress(tracker: Tracker) -> bool:
    """A wrong code word was given: nothing about reports is read, changed or sent."""
    return bool(tracker.get_slot("duress"))


def intro_args(tracker: Tracker, desk: Optional[str]) -> dict[str, str]:
    """{desk} and {unit}: named from the directory and data/countries.yml when known."""
    language = language_of(tracker)
    known = countries.resolve(tracker.get_slot("country"), tracker.get_slot("country_source"))
    unit = str(known.entry.get("unit") or "") if known.code else ""
    return {"desk": desk or i18n.text("report_desk_general", language),
            "unit": unit or i18n.text("report_unit_general", language)}


async def explain(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    """What a report is, who sees it, what may follow, her choices, then the consent question."""
    try:
        desk = await asyncio.to_thread(desk_preview, tracker.get_slot("country"))
        code_word = await asyncio.to_thread(has_code_word, tracker.sender_id)
    except Exception as exc:  # noqa: BLE001 - the directory may be down: the general wording
        log.warning("desk preview failed: %s", type(exc).__name__)
        desk, code_word = None, True
    dispatcher.utter_message(response="utter_report_intro", **intro_args(tracker, desk))
    if not code_word:
        dispatcher.utter_message(response="utter_report_code_word_tip")
    dispatcher.utter_message(response="utter_report_consent")
    return slot_events({**clear_draft(), "report_consent": None, "report_stage": "consent"}, tracker)


class ActionReportStart(Action):
    """Before any question: the explanation and the consent question (or her earlier report)."""

    def name(self) -> Text:
        return "action_report_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        reference = tracker.get_slot("report_ref")
        intent = answers.intent_of(tracker.latest_message)
        if reference and intent != "report_new":
            dispatcher.utter_message(response="utter_report_existing", reference=reference)
            return slot_events({"report_stage": None}, tracker)
        return await explain(dispatcher, tracker)


class ActionReportConsent(Action):
    """Her yes to the explanation she has just had: the form may start (report_form follows in the
    rules). A yes without it (an old button, a typed yes to something else) gets the explanation;
    the form then ends before its first question (action_ask_report_types)."""

    def name(self) -> Text:
        return "action_report_consent"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if in_duress(tracker):  # no consent is recorded: the form ends before its first question
            return slot_events({**clear_draft(), "report_consent": None, "report_stage": None}, tracker)
        if tracker.get_slot("report_stage") != "consent":
            return await explain(dispatcher, tracker)
        dispatcher.utter_message(response="utter_report_begin")
        return slot_events({**clear_draft(), "report_consent": True, "report_stage": "form"}, tracker)


class ActionReportDecline(Action):
    """Her no: nothing stored, nothing asked."""

    def name(self) -> Text:
        return "action_report_decline"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_report_declined")
        dispatcher.utter_message(response="utter_main_menu")
        return slot_events({**clear_draft(), "report_consent": False, "report_stage": None}, tracker)


def summary_lines(slots: Mapping[str, Any], language: str) -> str:
    """Her answers in plain words, one per line (her statement is not repeated back)."""
    def t(key: str, **args: Any) -> str:
        return i18n.text(key, language, **args)

    skipped = t("report_skipped")
    draft = answers.draft_from_slots(slots)
    types = slots.get("report_types")
    picked: list[str] = [str(p) for p in types] if isinstance(types, list) else []
    place = draft["place"] or {}
    place_words = place.get("name") or (t("report_place_pin") if place.get("lat") is not None else None)

    def yes_no(value: Optional[bool]) -> str:
        return skipped if value is None else t("report_yes" if value else "report_no")

    contact = draft["contact"]
    lines = [
        t("report_summary_types", value=", ".join(t(f"report_type_{p}") for p in picked) or skipped),
        t("report_summary_when", value=t(f"report_when_{draft['when']}") if draft["when"] else skipped),
        t("report_summary_place", value=place_words or skipped),
        t("report_summary_safe", value=yes_no(draft["safe_now"])),
        t("report_summary_doctor", value=yes_no(draft["needs_doctor"])),
        t("report_summary_relationship",
          value=t(f"report_rel_{draft['relationship']}") if draft["relationship"] else skipped),
        t("report_summary_identity", value=draft["name"] or t("report_anonymous")),
        t("report_summary_contact", value=t(f"report_contact_{contact['mode']}" + ("_call" if contact.get("call_ok") else ""))),
        t("report_summary_statement", value=t("report_included") if draft["statement"] else skipped),
    ]
    return "\n".join(lines)


class ActionReportAfterForm(Action):
    """The form ended: the summary to confirm, or what she asked for instead (stop, a person)."""

    def name(self) -> Text:
        return "action_report_after_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        stage = tracker.get_slot("report_stage")
        if stage == "consent":
            return []  # ended before its first question (no consent yet): the explanation stands
        if stage == "handoff":
            dispatcher.utter_message(response="utter_report_stopped")
            return slot_events({**clear_draft(), "report_stage": None}, tracker) + [FollowupAction("action_request_officer")]
        if stage != "form" or tracker.get_slot("report_consent") is not True:
            dispatcher.utter_message(response="utter_report_stopped")
            dispatcher.utter_message(response="utter_main_menu")
            return slot_events({**clear_draft(), "report_stage": None, "report_consent": None}, tracker)
        summary = summary_lines(tracker.current_slot_values(), language_of(tracker))
        dispatcher.utter_message(response="utter_report_summary", summary=summary)
        return slot_events({"report_stage": "summary"}, tracker)


def _submit(tracker: Tracker) -> Any:
    from bot.reporting.draft import Consent
    from bot.reporting.intake import submit

    channel = tracker.get_latest_input_channel()
    return submit(
        tracker.sender_id, answers.draft_from_slots(tracker.current_slot_values()),
        Consent(given=tracker.get_slot("report_consent") is True, told_kept_after_exit=True, version=CONSENT_VERSION),
        channel=channel if channel in CHANNELS else "rest", language=language_of(tracker),
        country=(tracker.get_slot("country") or None), submit_key=str(tracker.latest_message.get("message_id") or "") or None,
    )


class ActionReportSubmit(Action):
    """Her confirmation: the case goes to the desk; she gets the reference and an honest estimate."""

    def name(self) -> Text:
        return "action_report_submit"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        from bot.reporting.errors import ConsentRequired, ReportingError

        if (tracker.get_slot("report_stage") != "summary" or tracker.get_slot("report_consent") is not True
                or in_duress(tracker)):
            dispatcher.utter_message(response="utter_report_nothing_to_send")
            return []
        try:
            done = await asyncio.to_thread(_submit, tracker)
        except ConsentRequired:
            dispatcher.utter_message(response="utter_report_nothing_to_send")
            return slot_events({**clear_draft(), "report_stage": None, "report_consent": None}, tracker)
        except ReportingError as exc:  # names a field, never her words
            log.warning("report not submitted: %s", exc)
            dispatcher.utter_message(response="utter_report_failed")
            return []
        needs_doctor = tracker.get_slot("report_doctor") == "yes"
        language = language_of(tracker)
        desk = done.desk_name or i18n.text("report_desk_general", language)
        dispatcher.utter_message(response="utter_report_submitted", reference=done.reference, desk=desk,
                                 count=done.expected_hours)
        dispatcher.utter_message(response="utter_report_next", reference=done.reference)
        if needs_doctor:
            dispatcher.utter_message(response="utter_report_clinic_offer")
        return slot_events({**clear_draft(), "report_stage": None, "report_consent": None,
                            "report_ref": done.reference}, tracker)


class ActionReportCancel(Action):
    """She does not send it: the draft is forgotten."""

    def name(self) -> Text:
        return "action_report_cancel"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_report_stopped")
        dispatcher.utter_message(response="utter_main_menu")
        return slot_events({**clear_draft(), "report_stage": None, "report_consent": None}, tracker)
