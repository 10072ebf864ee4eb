"""A model-free stand-in for one Rasa turn, for tests that must not train a model.

What is real: the channel's UserMessage (metadata included), action_read_context and the other
custom actions (through rasa-sdk's Tracker + CollectingDispatcher), the rules copied from
data/dialogue/*.yml for the intents used here, and the /nlg rendering (bot.nlg.render_request)
of every response, sent through the channel's own output. What is stubbed: the NLU (a payload
"/intent{json}" is parsed as Rasa's RegexMessageHandler does; typed text gets the intent the test
says) and the policies (the rule table below). Rasa test stories for the same paths, which need the
trained model, are in tests/stories/test_country.yml.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from rasa.core.channels.channel import UserMessage
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import ActionMarkOnboarded, ActionReadContext
from actions.country import ActionChooseCountry
from actions.safety import ActionSafetyInfo
from bot.nlg import render_request

ACTIONS = {a().name(): a for a in (ActionMarkOnboarded, ActionChooseCountry, ActionSafetyInfo)}
# The rules of data/dialogue/rules.yml and country.yml for these intents (first contact: onboarded false).
RULES: dict[str, list[str]] = {
    "immediate_danger": ["utter_emergency", "utter_danger_followup"],
    "choose_country": ["action_choose_country"],
    "ask_safety_info": ["action_safety_info"],
    "helper_support": ["utter_helper_support"],
    "ask_reporting": ["action_answer_reporting"],
    "greet": ["action_mark_onboarded", "utter_safe_check"],
}
_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$")


@dataclass
class Conversation:
    slots: dict[str, Any] = field(default_factory=lambda: {"onboarded": False})
    events: list[dict[str, Any]] = field(default_factory=list)


class MiniRasa:
    """on_new_message for a channel blueprint; `nlu(text) -> intent` classifies typed text."""

    def __init__(self, nlu: Callable[[str], str], places: Optional[Callable[[str], list[str]]] = None) -> None:
        self.nlu = nlu
        self.places = places
        self.conversations: dict[str, Conversation] = {}
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (response name asked, rendered reply)

    def parse(self, text: str) -> dict[str, Any]:
        match = _PAYLOAD.match(text)
        if match:
            values = json.loads(match.group(2)) if match.group(2) else {}
            entities = [{"entity": k, "value": v} for k, v in values.items()]
            return {"text": text, "intent": {"name": match.group(1), "confidence": 1.0}, "entities": entities}
        places = self.places(text) if self.places else []  # what an NLU would tag as `place`
        return {"text": text, "intent": {"name": self.nlu(text), "confidence": 0.9},
                "entities": [{"entity": "place", "value": p} for p in places]}

    def tracker(self, sender: str, conv: Conversation, latest: dict[str, Any]) -> Tracker:
        return Tracker(sender, dict(conv.slots), latest, list(conv.events), False, None, {}, "action_listen")

    def apply(self, conv: Conversation, events: list[dict[str, Any]]) -> None:
        for event in events:
            if event.get("event") == "slot":
                conv.slots[event["name"]] = event["value"]
            conv.events.append(event)

    async def utter(self, message: UserMessage, conv: Conversation, name: str) -> None:
        body = {"response": name, "arguments": {}, "tracker": {"slots": dict(conv.slots)},
                "channel": {"name": message.input_channel}}
        reply = render_request(body)
        conv.events.append({"event": "bot", "text": reply["text"], "data": {"buttons": reply.get("buttons") or []},
                            "metadata": {"utter_action": name}})
        self.sent.append((name, reply))
        assert message.output_channel is not None
        await message.output_channel.send_response(message.sender_id or "", dict(reply))

    async def __call__(self, message: UserMessage) -> None:
        sender = message.sender_id or ""
        conv = self.conversations.setdefault(sender, Conversation())
        latest = self.parse(message.text or "")
        conv.events.append({"event": "user", "text": message.text, "parse_data": latest, "metadata": message.metadata or {}})
        context = await ActionReadContext().run(CollectingDispatcher(), self.tracker(sender, conv, latest), {})
        self.apply(conv, context)
        for step in RULES.get(latest["intent"]["name"], []):
            if step.startswith("utter_"):
                await self.utter(message, conv, step)
                continue
            dispatcher = CollectingDispatcher()
            events = await ACTIONS[step]().run(dispatcher, self.tracker(sender, conv, latest), {})
            self.apply(conv, events)
            for out in dispatcher.messages:
                await self.utter(message, conv, str(out["response"]))

    def slots(self, sender: Optional[str] = None) -> dict[str, Any]:
        conv = self.conversations[sender] if sender else next(iter(self.conversations.values()))
        return conv.slots
