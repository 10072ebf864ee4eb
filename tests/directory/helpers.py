"""Drive the service-finder actions like Rasa does: a Tracker in, events and responses out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import i18n
from bot.nlg import render_request

LOCK_SCREEN_WORDS = ("haven", "violence", "abuse", "police", "rape", "assault", "gbv", "policia", "polisi", "viol", "abus", "estupro", "ukatili")


@dataclass
class Conversation:
    """A conversation's slots across turns, on one channel."""

    channel: str = "rest"
    slots: dict[str, Any] = field(default_factory=lambda: {"language": "en", "country": "KE"})
    now: Any = None

    def tracker(self, text: str, intent: str, entities: Optional[list[dict[str, Any]]] = None, metadata: Optional[dict[str, Any]] = None) -> Tracker:
        latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or [], "metadata": metadata or {}}
        events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": self.channel, "metadata": metadata or {}}]
        return Tracker("conv-test", dict(self.slots), latest, events, False, None, None, "action_listen")

    async def say(self, action: Any, text: str, intent: str, entities: Optional[list[dict[str, Any]]] = None, metadata: Optional[dict[str, Any]] = None) -> "Turn":
        import actions.services as module

        dispatcher = CollectingDispatcher()
        tracker = self.tracker(text, intent, entities, metadata)
        if self.now is not None:
            original = module.turn_from_tracker
            events = await _run_with_now(action, dispatcher, tracker, self.now, original, module)
        else:
            events = await action.run(dispatcher, tracker, {})
        for event in events:
            if event.get("event") == "slot":
                self.slots[event["name"]] = event["value"]
        return Turn(self, dispatcher.messages, events)


async def _run_with_now(action: Any, dispatcher: Any, tracker: Any, now: Any, original: Any, module: Any) -> Any:
    module.turn_from_tracker = lambda t, now_=None: original(t, now)
    try:
        return await action.run(dispatcher, tracker, {})
    finally:
        module.turn_from_tracker = original


@dataclass
class Turn:
    conversation: Conversation
    messages: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def responses(self) -> list[str]:
        return [m["response"] for m in self.messages]

    def rendered(self) -> list[dict[str, Any]]:
        """What she would receive: /nlg rendering of each response (+ buttons the action added)."""
        out = []
        for message in self.messages:
            args = {k: v for k, v in message.items() if k not in ("response", "template", "text", "buttons", "elements", "custom", "image", "attachment")}
            body = {"response": message["response"], "arguments": args, "tracker": {"slots": self.conversation.slots}, "channel": {"name": self.conversation.channel}}
            reply = render_request(body)
            reply["buttons"] = (reply.get("buttons") or []) + (message.get("buttons") or [])
            out.append(reply)
        return out

    def texts(self) -> list[str]:
        return [r["text"] for r in self.rendered()]

    def all_text(self) -> str:
        parts = []
        for reply in self.rendered():
            parts.append(reply["text"])
            parts += [b["title"] + " " + b["payload"] for b in reply["buttons"]]
        return "\n".join(parts)


def lock_screen_problems(texts: list[str]) -> list[str]:
    problems = []
    for text in texts:
        head = i18n.strip_accents_lower(text[:40])
        hits = [w for w in LOCK_SCREEN_WORDS if re.search(rf"\b{w}", head)]
        if hits:
            problems.append(f"{hits} in {text[:40]!r}")
    return problems
