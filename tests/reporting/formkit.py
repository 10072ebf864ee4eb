"""Helpers for the report form's action tests: a tracker mid-form and running actions."""

from __future__ import annotations

from typing import Any, Optional

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.settings import ROOT

DOMAIN = yaml.safe_load((ROOT / "domain" / "reporting.yml").read_text(encoding="utf-8"))


def form_tracker(slot: Optional[str], text: str, *, intent: str = "report_choice", choice: Optional[str] = None,
                 entities: Optional[list[dict[str, Any]]] = None, sender: str = "conv-form", channel: str = "whatsapp",
                 metadata: Optional[dict[str, Any]] = None, message_id: str = "m-1", **slots: Any) -> Tracker:
    """A tracker whose latest message `text` answered `slot` of report_form (None: outside the form)."""
    ents = list(entities or []) + ([{"entity": "report_choice", "value": choice}] if choice else [])
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": ents,
              "message_id": message_id, "metadata": metadata or {}}
    events: list[dict[str, Any]] = [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel,
                                     "metadata": metadata or {}, "message_id": message_id}]
    base: dict[str, Any] = {"language": "en", "country": "KE", "report_consent": True, "report_stage": "form",
                            "requested_slot": slot}
    base.update(slots)
    if slot is not None:
        events.append({"event": "slot", "name": slot, "value": text})
        base.setdefault(slot, text)
        base[slot] = text
    return Tracker.from_dict({"sender_id": sender, "slots": base, "latest_message": latest, "events": events,
                              "latest_input_channel": channel,
                              "active_loop": {"name": "report_form"} if slot else {}})


async def run(action: Any, tracker: Tracker) -> tuple[dict[str, Any], list[str], list[dict[str, Any]]]:
    """(slot values set, response names sent, raw messages) of one action run."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return slots, [str(m.get("response")) for m in dispatcher.messages], dispatcher.messages
