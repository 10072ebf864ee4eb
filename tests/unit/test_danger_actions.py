"""Triage turn and disclosure support: number and question first, then her own request."""

from __future__ import annotations

from typing import Any, Optional

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.danger import ActionDangerTriage, ActionDisclosureSupport, is_forced_marriage, steps_for


def tracker(text: str, intent: str, original: Optional[str] = None, slots: Optional[dict[str, Any]] = None) -> Tracker:
    latest: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    if original:
        latest["danger"] = {"level": "triage", "original_intent": original, "probability": 0.1}
    events = [{"event": "user", "text": text, "parse_data": latest, "metadata": {}}]
    return Tracker("conv-x1", slots or {}, latest, events, False, None, {}, "action_listen")


async def run(action: Any, t: Tracker) -> tuple[list[str], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return [m["response"] for m in dispatcher.messages], events


def test_rule_steps_follow_the_rules_files() -> None:
    assert steps_for("ask_medical", True) == ["utter_medical_info"]
    assert steps_for("ask_safety_info", False) == ["action_safety_info"]
    # First contact: the safe-to-talk question is left out (the triage question asks it).
    assert steps_for("disclose_abuse", False) == ["action_mark_onboarded", "action_disclosure_support"]
    assert steps_for("disclose_abuse", True) == ["action_acknowledge_disclosure"]
    assert steps_for("no_such_intent", True) == []


async def test_triage_puts_number_and_question_first_then_answers_her_request() -> None:
    responses, events = await run(ActionDangerTriage(), tracker("how do i get the morning after pill", "danger_check",
                                                                "ask_medical", {"onboarded": True}))
    assert responses == ["utter_danger_triage", "utter_medical_info"]
    assert events == []


async def test_triage_runs_custom_actions_and_keeps_their_events() -> None:
    responses, events = await run(ActionDangerTriage(), tracker("my husband took my salary and my id", "danger_check",
                                                                "disclose_abuse", {"onboarded": False}))
    assert responses == ["utter_danger_triage", "utter_disclosure_support"]
    assert {"event": "slot", "timestamp": None, "name": "onboarded", "value": True} in events
    responses, _ = await run(ActionDangerTriage(), tracker("how can i stay safe", "danger_check", "ask_safety_info"))
    assert responses[0] == "utter_danger_triage" and "utter_safety_plan" in responses


async def test_triage_without_an_original_intent_asks_only() -> None:
    responses, _ = await run(ActionDangerTriage(), tracker("/danger_check", "danger_check"))
    assert responses == ["utter_danger_triage"]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("my father is marrying me off, they already took the bride price", True),
        ("wazazi wanataka kuniozesha kwa mzee, wamepokea mahari", True),
        ("meu tio quer me casar com um homem velho", True),
        ("mes parents veulent me marier de force", True),
        ("mis papás me quieren casar con un señor", True),
        ("he took my salary again", False),
    ],
)
def test_forced_marriage_words(text: str, expected: bool) -> None:
    assert is_forced_marriage(text) is expected


async def test_disclosure_adds_forced_marriage_support_only_when_it_applies() -> None:
    responses, _ = await run(ActionDisclosureSupport(), tracker("they want me to marry him, i am 15", "disclose_abuse"))
    assert responses == ["utter_disclosure_support", "utter_forced_marriage_support"]
    responses, _ = await run(ActionDisclosureSupport(), tracker("he shouts at me every day", "disclose_abuse"))
    assert responses == ["utter_disclosure_support"]
