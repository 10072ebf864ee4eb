"""Danger during a live officer chat: flagged for the officer, and the number if nobody answers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.handoff import service
from bot.handoff.models import NOTE, Handoff, HandoffMessage, risk_of
from bot.safety import live_danger
from bot.safety.gate import Inbound, Verdict, screen
from bot.store.db import session_scope
from tests.handoff.conftest import MARKER

DANGER_TEXT = f"he has a knife {MARKER}"


def claimed(engine, make_officer, cid: str = "c-live-1", country: str = "KE"):
    officer = make_officer()
    hid = service.enqueue(cid, channel="sms", language="en", country=country, engine=engine).handoff_id
    claim = service.claim(hid, officer.id, engine=engine)
    return hid, officer, claim


def notes(engine, hid: int) -> list[str]:
    from bot.crypto import load_cipher
    from bot.handoff.models import message_context

    with session_scope(engine) as s:
        rows = s.execute(select(HandoffMessage).where(HandoffMessage.handoff_id == hid, HandoffMessage.kind == NOTE)
                         .order_by(HandoffMessage.seq)).scalars().all()
        cipher = load_cipher(s, s.get(Handoff, hid).conversation_id)
        return [cipher.decrypt_text(r.body_ct, message_context(hid, int(r.seq))) for r in rows]


async def test_no_officer_answer_yet_sends_the_number_at_once_and_flags(engine, make_officer, outbound) -> None:
    from bot import countries

    hid, _, _ = claimed(engine, make_officer)
    flag = await live_danger.on_live_message(Inbound("sms", "c-live-1", text=DANGER_TEXT), outbound, engine)
    assert flag is not None and not flag.officer_recent
    number = countries.numbers("KE", "en")["emergency_number"]
    assert len(outbound.sent) == 1 and number in outbound.texts()[0]
    assert MARKER not in outbound.texts()[0]
    assert notes(engine, hid) == [live_danger.FLAG_NOTE.format(then=live_danger.THEN_SENT)]
    with session_scope(engine) as s:
        assert risk_of(s.get(Handoff, hid).priority) == "danger"


async def test_officer_active_waits_a_minute_then_sends_if_no_answer(engine, make_officer, outbound) -> None:
    hid, officer, claim = claimed(engine, make_officer)
    service.reply(hid, officer.id, claim.version, "hello, I am here", engine=engine,
                  now=datetime.now(timezone.utc) - timedelta(seconds=10))
    flag = await live_danger.on_live_message(Inbound("sms", "c-live-1", text=DANGER_TEXT), outbound, engine, wait=0.05)
    assert flag is not None and flag.officer_recent
    assert outbound.sent == []  # the officer was answering: not at once
    await asyncio.sleep(0.5)
    assert len(outbound.sent) == 1
    assert notes(engine, hid)[-1] == live_danger.SENT_NOTE


async def test_officer_answers_within_the_minute_nothing_automatic(engine, make_officer, outbound) -> None:
    hid, officer, claim = claimed(engine, make_officer)
    service.reply(hid, officer.id, claim.version, "hello", engine=engine,
                  now=datetime.now(timezone.utc) - timedelta(seconds=5))
    flag = await live_danger.on_live_message(Inbound("sms", "c-live-1", text=DANGER_TEXT), outbound, engine, wait=0.3)
    assert flag is not None
    with session_scope(engine) as s:
        version = s.get(Handoff, hid).version
    service.reply(hid, officer.id, version, "call now, I am with you", engine=engine)
    await asyncio.sleep(0.6)
    assert outbound.sent == []


async def test_calm_message_and_unclaimed_conversation_do_nothing(engine, make_officer, outbound) -> None:
    hid, _, _ = claimed(engine, make_officer)
    assert await live_danger.on_live_message(Inbound("sms", "c-live-1", text="thank you"), outbound, engine) is None
    assert await live_danger.on_live_message(Inbound("sms", "c-nobody", text=DANGER_TEXT), outbound, engine) is None
    assert outbound.sent == [] and notes(engine, hid) == []


async def test_someone_else_gets_the_helper_phrased_reply(engine, make_officer, outbound) -> None:
    from bot import i18n

    claimed(engine, make_officer)
    await live_danger.on_live_message(
        Inbound("sms", "c-live-1", text="my neighbour is being beaten right now"), outbound, engine)
    helper = i18n.text("utter_emergency_other", "en", "sms", **__import__("bot.countries").countries.numbers("KE", "en"))
    assert outbound.texts() == [helper]


async def test_gate_relays_then_flags(engine, make_officer, outbound, monkeypatch: pytest.MonkeyPatch) -> None:
    hid, _, _ = claimed(engine, make_officer)
    monkeypatch.setattr(live_danger, "_default_sender", lambda: outbound)
    result = await screen(Inbound("sms", "c-live-1", text=DANGER_TEXT))
    assert result.verdict is Verdict.HANDOFF
    assert len(outbound.sent) == 1 and len(notes(engine, hid)) == 1
    with session_scope(engine) as s:
        kinds = [m.kind for m in s.execute(select(HandoffMessage).where(HandoffMessage.handoff_id == hid)
                                           .order_by(HandoffMessage.seq)).scalars()]
    assert kinds == ["survivor", "note"]  # the flag sits right after her message
