"""Danger decision actions: the triage turn, disclosure support (forced and child marriage).

The triage turn (intent `danger_check`, set by bot.rasa_adapters.components.DangerBackstop when the model
is unsure): the emergency number and one short question with buttons first, then her own request,
answered in the same turn by the steps the rules give her original intent, so it is never lost.
"""

from __future__ import annotations

import asyncio
import copy
import importlib
import logging
from functools import lru_cache
from typing import Any, Dict, List, Optional, Text

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.settings import ROOT
from bot.text import contains_phrase, normalise

log = logging.getLogger("haven.actions.danger")

RULES_DIR = ROOT / "data" / "dialogue"
ACTION_MODULES = ("actions.context", "actions.safety", "actions.services", "actions.handoff", "actions.danger")
# The triage question already asks whether she is safe: the first-contact safe-to-talk check would
# be a second yes/no question in the same turn.
SKIPPED_AFTER_TRIAGE = {"utter_safe_check"}


@lru_cache(maxsize=1)
def _rules() -> tuple[tuple[str, Optional[bool], tuple[str, ...]], ...]:
    """(intent, onboarded condition or None, actions) for each rule that starts with an intent."""
    found = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for rule in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("rules") or []:
            steps = rule.get("steps") or []
            if not steps or "intent" not in steps[0]:
                continue
            onboarded = None
            for cond in rule.get("condition") or []:
                for slot in cond.get("slot_was_set") or []:
                    if "onboarded" in slot:
                        onboarded = bool(slot["onboarded"])
            actions = []
            for step in steps[1:]:
                if "intent" in step:
                    break
                if "action" in step:
                    actions.append(str(step["action"]))
            found.append((str(steps[0]["intent"]), onboarded, tuple(actions)))
    return tuple(found)


def steps_for(intent: Optional[str], onboarded: bool) -> list[str]:
    """The actions the rules run for `intent` in this state (empty when no rule starts with it)."""
    for rule_intent, condition, actions in _rules():
        if rule_intent == intent and condition in (None, onboarded):
            return [a for a in actions if a not in SKIPPED_AFTER_TRIAGE]
    return []


@lru_cache(maxsize=1)
def _registry() -> Dict[str, type]:
    """Action name -> class for Haven's custom actions."""
    for name in ACTION_MODULES:
        importlib.import_module(name)
    found: Dict[str, type] = {}
    pending = list(Action.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if cls.__module__.startswith("actions."):
            try:
                found[cls().name()] = cls
            except Exception:  # noqa: BLE001 - an abstract helper class, not an action
                continue
    return found


def _as_original(tracker: Tracker, intent: str) -> Tracker:
    """A copy of the tracker whose latest message carries her original intent."""
    clone = copy.copy(tracker)
    clone.latest_message = {**tracker.latest_message, "intent": {"name": intent, "confidence": 1.0}}
    return clone


class ActionDangerTriage(Action):
    """Number first, the triage question, then her original request (SAFETY.md guarantee 10)."""

    def name(self) -> Text:
        return "action_danger_triage"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_danger_triage")
        original = (tracker.latest_message.get("danger") or {}).get("original_intent")
        events: List[Dict[Text, Any]] = []
        if not original or original == "danger_check":
            return events
        followup = _as_original(tracker, original)
        for step in steps_for(original, bool(tracker.get_slot("onboarded"))):
            if step.startswith("utter_"):
                dispatcher.utter_message(response=step)
                continue
            action = _registry().get(step)
            if action is None:
                log.warning("triage: no action class for a rule step")
                continue
            events += await action().run(dispatcher, followup, domain)
        return events


def is_forced_marriage(text: Optional[str]) -> bool:
    """The message speaks of a forced or child marriage (any language's lexicon list)."""
    from bot import i18n

    phrases = [p for lex in i18n.catalog().lexicons.values() for p in lex.forced_marriage]
    return bool(text) and contains_phrase(normalise(str(text)), phrases)


class ActionDisclosureSupport(Action):
    """Believe her; for a forced or child marriage, her rights and who can step in."""

    def name(self) -> Text:
        return "action_disclosure_support"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        support_disclosure(dispatcher, tracker)
        return []


def support_disclosure(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The disclosure acknowledgement, plus the forced-marriage text when her words tell of one."""
    dispatcher.utter_message(response="utter_disclosure_support")
    if is_forced_marriage(tracker.latest_message.get("text")):
        dispatcher.utter_message(response="utter_forced_marriage_support")


async def escalate_if_queued(conversation_id: str) -> None:
    """Raise her open handoff (if any) to danger priority; never fails her turn."""
    try:
        from bot.handoff import service

        await asyncio.to_thread(service.escalate, conversation_id, "danger")
    except Exception as exc:  # noqa: BLE001 - no database or handoff here: the reply still goes out
        log.warning("danger escalation skipped (%s)", type(exc).__name__)
