"""Survivor-side actions: consent first, queue with risk priority, honest position/wait, hotline
when nobody can answer, leave/stay. Tracker.from_dict + CollectingDispatcher, real database."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions import handoff as actions
from bot import i18n
from bot.handoff.models import Handoff, country_of
from bot.store.db import session_scope
from tests.handoff.conftest import MARKER


def tracker(sender: str = "conv-a", intents: tuple[str, ...] = ("ask_safety_info",), **slots: Any) -> Tracker:
    events = [
        {"event": "user", "text": MARKER, "input_channel": "whatsapp", "parse_data": {"intent": {"name": name}}}
        for name in intents
    ]
    base = {"language": "en", "risk": None, "country": "KE"}
    base.update(slots)
    return Tracker.from_dict({"sender_id": sender, "slots": base, "latest_message": {"text": MARKER}, "events": events})


async def run(action: Any, t: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    assert events == []
    return dispatcher.messages


async def test_consent_comes_first_with_a_content_free_summary(db_url):
    t = tracker(intents=("greet", "ask_safety_info", "find_service", "ask_safety_info"), language="fr", risk="danger")
    messages = await run(actions.ActionRequestOfficer(), t)
    # first whether someone is free (nobody on duty here), then the consent (tests/listening)
    assert [m["response"] for m in messages] == ["utter_handoff_available_nobody", "utter_handoff_consent"]
    summary = messages[1]["summary"]
    assert summary == "; ".join(i18n.text(f"handoff_topic_{k}", "fr") for k in ("urgent", "safety", "services"))
    assert MARKER not in summary
    with session_scope() as s:
        assert s.execute(select(Handoff)).first() is None  # nothing queued before she agrees


async def test_enqueue_without_anyone_on_duty_gives_the_hotline(db_url):
    messages = await run(actions.ActionHandoffEnqueue(), tracker(risk="danger", language="sw"))
    assert [m["response"] for m in messages] == ["utter_handoff_no_officer"]
    with session_scope() as s:
        h = s.execute(select(Handoff)).scalar_one()
        assert (h.priority, h.language, h.channel, country_of(s, h), h.status) == (0, "sw", "whatsapp", "KE", "queued")
        assert b"KE" not in (h.country_ct or b"")  # encrypted under her conversation key
        assert h.long_wait_notice_at is not None  # the console job will not repeat it
        assert MARKER.encode() not in (h.summary_ct or b"")
    # she chooses to stay; asking again does not queue her twice
    assert [m["response"] for m in await run(actions.ActionHandoffStay(), tracker(language="sw"))] == ["utter_handoff_staying"]
    again = await run(actions.ActionRequestOfficer(), tracker(language="sw"))
    assert [m["response"] for m in again] == ["utter_handoff_no_officer"]


async def test_enqueue_with_officers_on_duty_tells_position_and_wait(db_url, make_officer, on_duty):
    on_duty(make_officer())
    await run(actions.ActionHandoffEnqueue(), tracker("first", risk="disclosed"))
    messages = await run(actions.ActionHandoffEnqueue(), tracker("second"))
    assert messages[0]["response"] == "utter_handoff_queued"
    assert (messages[0]["position"], messages[0]["count"]) == (2, 15)
    danger = await run(actions.ActionHandoffEnqueue(), tracker("third", risk="danger"))
    assert (danger[0]["position"], danger[0]["count"]) == (1, 5)  # danger goes to the front
    status = await run(actions.ActionHandoffStatus(), tracker("second"))
    assert status[0]["response"] == "utter_handoff_wait_update" and status[0]["position"] == 3


async def test_danger_while_waiting_moves_her_up(db_url, make_officer, on_duty):
    on_duty(make_officer())
    await run(actions.ActionHandoffEnqueue(), tracker("early"))
    await run(actions.ActionHandoffEnqueue(), tracker("late"))
    assert (await run(actions.ActionHandoffStatus(), tracker("late")))[0]["position"] == 2
    again = await run(actions.ActionRequestOfficer(), tracker("late", risk="danger"))
    assert again[0]["response"] == "utter_handoff_wait_update" and again[0]["position"] == 1


async def test_leave_the_line(db_url):
    await run(actions.ActionHandoffEnqueue(), tracker())
    assert [m["response"] for m in await run(actions.ActionHandoffLeave(), tracker())] == ["utter_handoff_left_queue"]
    assert [m["response"] for m in await run(actions.ActionHandoffLeave(), tracker())] == ["utter_handoff_not_waiting"]
    assert [m["response"] for m in await run(actions.ActionHandoffStatus(), tracker())] == ["utter_handoff_not_waiting"]
    assert [m["response"] for m in await run(actions.ActionHandoffStay(), tracker())] == ["utter_handoff_not_waiting"]
    assert [m["response"] for m in await run(actions.ActionHandoffDecline(), tracker())] == ["utter_handoff_declined"]


async def test_enqueue_failure_is_never_silent(db_url, monkeypatch):
    from bot.handoff import service

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database down")

    monkeypatch.setattr(service, "enqueue", broken)
    messages = await run(actions.ActionHandoffEnqueue(), tracker())
    assert [m["response"] for m in messages] == ["utter_handoff_failed"]


def test_action_names_match_the_domain():
    import yaml

    from bot.settings import ROOT

    declared = set()
    for path in (ROOT / "domain").glob("*.yml"):
        declared |= set((yaml.safe_load(path.read_text()) or {}).get("actions") or [])
    classes = [actions.ActionRequestOfficer, actions.ActionHandoffEnqueue, actions.ActionHandoffDecline,
               actions.ActionHandoffLeave, actions.ActionHandoffStay, actions.ActionHandoffStatus]
    assert {cls().name() for cls in classes} <= declared


@pytest.mark.parametrize("lang", ["en", "fr", "es", "pt", "sw"])
def test_handoff_texts_render_in_every_language(lang):
    args = dict(position=2, count=15, summary="x", hotline_number="1195", emergency_number="999", country_name="Kenya")
    for name in ("utter_handoff_consent", "utter_handoff_queued", "utter_handoff_no_officer", "utter_handoff_closed"):
        rendered = i18n.render(name, lang, "sms", **args)
        assert rendered["text"] and "{" not in rendered["text"]
