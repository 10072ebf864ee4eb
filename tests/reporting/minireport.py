"""tests/country/minirasa.py with the report form: a model-free stand-in for Rasa's turns.

Real: the channels, action_read_context, every report action and validate_report_form (through
rasa-sdk), and /nlg rendering. Stubbed: the NLU (payloads parsed as Rasa does; typed text gets
the intent the test's function says) and the policies: the rules of data/dialogue/reporting.yml
below, and Rasa's form loop (from_text into the requested slot unless the intent is quick_exit,
validation, then the next empty slot asked with action_ask_<slot> or utter_ask_<slot>).
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.channels.channel import UserMessage
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import reporting, reporting_case, reporting_status
from actions.context import ActionReadContext
from actions.safety import ActionQuickExit
from tests.country.minirasa import Conversation, MiniRasa
from tests.reporting.formkit import DOMAIN

FORM = "report_form"
_ACTION_CLASSES = [
    reporting.ActionAskReportTypes, reporting.ActionAskReportDoctor, reporting.ActionAskReportContact,
    reporting_case.ActionReportStart, reporting_case.ActionReportConsent, reporting_case.ActionReportDecline,
    reporting_case.ActionReportAfterForm, reporting_case.ActionReportSubmit, reporting_case.ActionReportCancel,
    reporting_status.ActionReportStatus, reporting_status.ActionReportWithdraw,
    reporting_status.ActionReportWithdrawConfirmed, reporting_status.ActionReportWordResult, ActionQuickExit,
]
ACTIONS = {cls().name(): cls for cls in _ACTION_CLASSES}
RULES: dict[str, list[str]] = {
    "start_report": ["action_report_start"], "report_new": ["action_report_start"],
    "report_consent": ["action_report_consent", FORM], "report_decline": ["action_report_decline"],
    "report_confirm": ["action_report_submit"], "report_cancel": ["action_report_cancel"],
    "report_status": ["action_report_status"], "withdraw_report": ["action_report_withdraw"],
    "report_withdraw_confirm": ["action_report_withdraw_confirmed"], "report_keep": ["action_report_withdraw_confirmed"],
    "report_word_result": ["action_report_word_result"], "quick_exit": ["action_quick_exit"],
}


class ReportRasa(MiniRasa):
    """MiniRasa plus the report rules and form loop."""

    def __init__(self, nlu: Any) -> None:
        super().__init__(nlu)
        self.loops: dict[str, Optional[str]] = {}

    def form_tracker(self, sender: str, conv: Conversation, latest: dict[str, Any]) -> Tracker:
        loop = {"name": FORM} if self.loops.get(sender) == FORM else {}
        return Tracker(sender, dict(conv.slots), latest, list(conv.events), False, None, loop, "action_listen")

    async def run_action(self, message: UserMessage, conv: Conversation, name: str, latest: dict[str, Any]) -> None:
        sender = message.sender_id or ""
        if name.startswith("utter_"):
            await self.utter(message, conv, name)
            return
        dispatcher = CollectingDispatcher()
        events = await ACTIONS[name]().run(dispatcher, self.form_tracker(sender, conv, latest), DOMAIN)
        self.apply(conv, [e for e in events if e.get("event") == "slot"])
        for out in dispatcher.messages:
            await self.utter(message, conv, str(out["response"]), {k: v for k, v in out.items() if k not in (
                "response", "text", "buttons", "elements", "custom", "template", "image", "attachment")})
        if any(e.get("event") == "active_loop" and e.get("name") is None for e in events):
            self.loops[sender] = None
        for follow in [e["name"] for e in events if e.get("event") == "followup"]:
            await self.run_action(message, conv, follow, latest)

    async def utter(self, message: UserMessage, conv: Conversation, name: str, arguments: Optional[dict[str, Any]] = None) -> None:
        from bot.nlg import render_request

        body = {"response": name, "arguments": arguments or {}, "tracker": {"slots": dict(conv.slots)},
                "channel": {"name": message.input_channel}}
        reply = render_request(body)
        conv.events.append({"event": "bot", "text": reply["text"], "data": {"buttons": reply.get("buttons") or []},
                            "metadata": {"utter_action": name}})
        self.sent.append((name, reply))
        assert message.output_channel is not None
        await message.output_channel.send_response(message.sender_id or "", dict(reply))

    async def ask_next(self, message: UserMessage, conv: Conversation, latest: dict[str, Any]) -> None:
        missing = next((s for s in reporting.FORM_SLOTS if conv.slots.get(s) is None), None)
        conv.slots["requested_slot"] = missing
        if missing is None:
            self.loops[message.sender_id or ""] = None
            await self.run_action(message, conv, "action_report_after_form", latest)
            return
        await self.run_action(message, conv, f"action_ask_{missing}" if f"action_ask_{missing}" in ACTIONS
                              else f"utter_ask_{missing}", latest)

    async def form_turn(self, message: UserMessage, conv: Conversation, latest: dict[str, Any]) -> None:
        sender, slot = message.sender_id or "", conv.slots.get("requested_slot")
        conv.events.append({"event": "slot", "name": slot, "value": message.text})
        conv.slots[slot] = message.text
        dispatcher = CollectingDispatcher()
        events = await reporting.ValidateReportForm().run(dispatcher, self.form_tracker(sender, conv, latest), DOMAIN)
        self.apply(conv, events)
        for out in dispatcher.messages:
            await self.utter(message, conv, str(out["response"]), {k: v for k, v in out.items() if k not in (
                "response", "text", "buttons", "elements", "custom", "template", "image", "attachment")})
        if any(e.get("name") == "requested_slot" and e.get("value") is None for e in events):
            self.loops[sender] = None
            await self.run_action(message, conv, "action_report_after_form", latest)
            return
        await self.ask_next(message, conv, latest)

    async def __call__(self, message: UserMessage) -> None:
        sender = message.sender_id or ""
        conv = self.conversations.setdefault(sender, Conversation(slots={"onboarded": True}))
        latest = self.parse(message.text or "")
        latest["metadata"] = message.metadata or {}
        conv.events.append({"event": "user", "text": message.text, "parse_data": latest,
                            "metadata": message.metadata or {}, "input_channel": message.input_channel})
        context = await ActionReadContext().run(CollectingDispatcher(), self.tracker(sender, conv, latest), {})
        self.apply(conv, context)
        intent = latest["intent"]["name"]
        if self.loops.get(sender) == FORM and intent != "quick_exit":
            await self.form_turn(message, conv, latest)
            return
        for step in RULES.get(intent, []):
            if step == FORM:
                self.loops[sender] = FORM
                await self.ask_next(message, conv, latest)
            else:
                await self.run_action(message, conv, step, latest)
