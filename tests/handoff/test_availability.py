"""Asking for a person: first whether someone is free now and how long it may take, with her
country's line meanwhile (SAFETY.md 8; issue 15), then the consent question."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import handoff as actions
from bot.nlg import render_request
from tests.handoff.conftest import MARKER


def tracker(sender: str, language: str = "en", country: str = "KE", risk: Any = None) -> Tracker:
    events = [{"event": "user", "text": MARKER, "input_channel": "sms", "parse_data": {"intent": {"name": "request_officer"}}}]
    slots = {"language": language, "risk": risk, "country": country}
    return Tracker.from_dict({"sender_id": sender, "slots": slots, "latest_message": {"text": MARKER}, "events": events})


async def ask(sender: str, **kw: Any) -> tuple[list[str], list[str]]:
    dispatcher = CollectingDispatcher()
    t = tracker(sender, **kw)
    await actions.ActionRequestOfficer().run(dispatcher, t, {})
    names = [m["response"] for m in dispatcher.messages]
    texts = []
    for m in dispatcher.messages:
        args = {k: v for k, v in m.items() if k not in ("response", "buttons", "template", "elements", "attachment", "image", "custom", "text")}
        body = {"response": m["response"], "arguments": args, "tracker": {"slots": t.slots}, "channel": {"name": "sms"}}
        texts.append(render_request(body)["text"])
    return names, texts


@pytest.mark.parametrize("lang,country,numbers", [("en", "KE", ("1195", "999")), ("fr", "SN", ("17",)), ("es", "PE", ("100", "105"))])
async def test_nobody_on_duty_is_said_first_with_her_line(db_url, lang: str, country: str, numbers: tuple[str, ...]) -> None:
    names, texts = await ask("conv-nobody-" + lang, language=lang, country=country)
    assert names == ["utter_handoff_available_nobody", "utter_handoff_consent"]
    assert all(n in texts[0] for n in numbers), texts[0]
    if len(numbers) == 1:  # no verified support line: the emergency number once, not as a "free line"
        assert texts[0].count(numbers[0]) == 1


async def test_someone_free_now(db_url, make_officer, on_duty) -> None:
    on_duty(make_officer(languages=("pt",)), languages=("pt",))
    names, texts = await ask("conv-free", language="pt", country="BR")
    assert names == ["utter_handoff_available_now", "utter_handoff_consent"]
    assert "180" in texts[0] and "190" in texts[0] and "5 minutos" in texts[0]


async def test_everyone_busy_gives_the_wait(db_url, make_officer, on_duty) -> None:
    on_duty(make_officer())
    await actions.ActionHandoffEnqueue().run(CollectingDispatcher(), tracker("conv-ahead-1"), {})
    await actions.ActionHandoffEnqueue().run(CollectingDispatcher(), tracker("conv-ahead-2"), {})
    names, texts = await ask("conv-third")
    assert names[0] == "utter_handoff_available_wait", names
    assert "minutes" in texts[0] and "1195" in texts[0]
    danger, _ = await ask("conv-danger", risk="danger")
    assert danger[0] == "utter_handoff_available_now"  # danger goes before the others


async def test_danger_while_in_line_goes_to_the_front(db_url, make_officer, on_duty) -> None:
    """The turn's context action escalates her open handoff when she says she is in danger."""
    from actions.context import ActionReadContext
    from bot.handoff.queue import status_for_conversation

    on_duty(make_officer())
    for sender in ("conv-q1", "conv-q2", "conv-q3"):
        await actions.ActionHandoffEnqueue().run(CollectingDispatcher(), tracker(sender), {})
    assert status_for_conversation("conv-q3").position == 3
    latest = {"text": MARKER, "intent": {"name": "immediate_danger", "confidence": 0.9}, "entities": []}
    t = Tracker("conv-q3", {"language": "en", "risk": None}, latest, [{"event": "user", "text": MARKER, "parse_data": latest}],
                False, None, {}, "action_listen")
    await ActionReadContext().run(CollectingDispatcher(), t, {})
    assert status_for_conversation("conv-q3").position == 1
