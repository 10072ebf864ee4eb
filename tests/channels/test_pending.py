"""Pending turns: written before the 200, deleted after the turn, re-run once after a death, never
after an erase, and stored encrypted. Every test runs on SQLite and PostgreSQL (channel_env)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any, Optional

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.shared.core.events import UserUttered
from sqlalchemy import func, select, text, update

from bot.crypto import keyed_hash, load_cipher, pseudonym
from bot.settings import get_settings
from bot.store import pending_turns
from bot.store.db import get_engine, session_scope
from bot.store.models import PendingTurn, utcnow
from channels import pending
from tests.channels.conftest import SMS_FROM, TWILIO_SID, FakeRasa, Harness, twilio_request
from tests.fakes.provider import FakeProvider

SENDER = "+15550100042"
DEAD = "dead-host:1:00000000"


class Idle(pending.Recovery):
    """The process's recovery without its loop: the test decides when a replica recovers."""

    def register(self, channel: Any, app: Any, on_new_message: Any) -> None:
        self.channels[channel.name()] = (channel, app, on_new_message)


@pytest.fixture(autouse=True)
def idle_recovery(monkeypatch: pytest.MonkeyPatch) -> Idle:
    idle = Idle()
    monkeypatch.setattr(pending, "RECOVERY", idle)
    return idle


class BlockingRasa(FakeRasa):
    """Sends its replies, then waits until released (a turn in flight)."""

    def __init__(self, replies: Optional[list[dict[str, Any]]] = None) -> None:
        super().__init__(replies)
        self.release = asyncio.Event()
        self.entered = asyncio.Event()

    async def __call__(self, message: UserMessage) -> None:
        await super().__call__(message)
        self.entered.set()
        await self.release.wait()


def _sms(sid: str, body: str, path: str) -> tuple[bytes, dict[str, str]]:
    form = {"MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "From": SENDER, "To": SMS_FROM, "Body": body,
            "NumMedia": "0", "AccountSid": TWILIO_SID, "FromCountry": "US"}
    return twilio_request(form, path=path)


def _sms_channel() -> Any:
    from channels.sms import SmsInput

    return SmsInput.from_credentials(None)


def _turn_id(sid: str) -> str:
    return keyed_hash(get_settings().pseudonym_key, "turn|sms", sid)


def _conversation() -> str:
    return pseudonym(get_settings().pseudonym_key, "sms", SENDER)


def _rows() -> list[PendingTurn]:
    with session_scope() as s:
        return list(s.execute(select(PendingTurn)).scalars())


def _kill(turn_id: str) -> None:
    """What a SIGKILL leaves: the record, owned by a process that no longer heart-beats."""
    with session_scope() as s:
        s.execute(update(PendingTurn).where(PendingTurn.id == turn_id)
                  .values(owner=DEAD, lease_until=utcnow() - timedelta(seconds=1)))


async def _die_mid_turn(sid: str, body: str, replies: Optional[list[dict[str, Any]]] = None) -> BlockingRasa:
    """Post a message; its turn is in flight (after `replies` went out) when the replica 'dies'."""
    rasa = BlockingRasa(replies)
    channel = _sms_channel()
    harness = await Harness(channel, rasa).start()
    try:
        response = await harness.post(*_sms(sid, body, harness.path))
        assert response.status_code == 200
        await asyncio.wait_for(rasa.entered.wait(), 10)
        _kill(_turn_id(sid))
        for task in list(channel.turns._tasks):  # the process is gone: its task never finishes
            task.cancel()
        await asyncio.gather(*channel.turns._tasks, return_exceptions=True)
    finally:
        await harness.stop()
    return rasa


async def _settle(*channels: Any) -> None:
    for _ in range(5):  # a re-run from the gate queues its turn behind itself
        await asyncio.gather(*(c.turns.drain(10) for c in channels))


def _survivor(rasa: FakeRasa) -> tuple[Any, pending.Recovery]:
    channel = _sms_channel()
    recovery = pending.Recovery()
    recovery.channels[channel.name()] = (channel, None, rasa)
    return channel, recovery


async def test_the_record_is_written_before_the_200_and_deleted_after_the_turn(
    channel_env: str, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    import channels.pipeline as pipeline

    at_gate: list[list[tuple[str, str]]] = []
    real = pipeline.screen

    async def watching(inbound: Any) -> Any:
        at_gate.append([(r.stage, r.owner) for r in _rows()])
        return await real(inbound)

    monkeypatch.setattr(pipeline, "screen", watching)
    rasa = BlockingRasa([{"text": "a reply"}])
    harness = await Harness(_sms_channel(), rasa).start()
    try:
        response = await harness.post(*_sms("SM0000000000000000000000000000p001", "hello", harness.path))
        assert response.status_code == 200
        # Answered: the record is there, at the turn stage, owned by this process.
        assert at_gate == [[(pending_turns.RECEIVED, pending_turns.owner())]]
        rows = _rows()
        assert [(r.id, r.stage, r.owner, r.conversation_id) for r in rows] == [
            (_turn_id("SM0000000000000000000000000000p001"), pending_turns.TURN, pending_turns.owner(), _conversation())]
        await asyncio.wait_for(rasa.entered.wait(), 10)
        assert rasa.messages[0].message_id == rows[0].id  # the deterministic Rasa message id
        assert _rows()[0].replies_sent == 1
        rasa.release.set()
        await harness.settle()
        assert _rows() == []
    finally:
        rasa.release.set()
        await harness.stop()


async def test_the_record_goes_after_a_failed_turn_and_when_there_is_no_turn(channel_env: str, fake: FakeProvider) -> None:
    class Failing(FakeRasa):
        async def __call__(self, message: UserMessage) -> None:
            raise RuntimeError("rasa failed")

    harness = await Harness(_sms_channel(), Failing()).start()
    try:
        assert (await harness.post(*_sms("SM0000000000000000000000000000p002", "hello", harness.path))).status_code == 200
        await harness.settle()
        assert _rows() == []
        assert (await harness.post(*_sms("SM0000000000000000000000000000p003", "STOP", harness.path))).status_code == 200
        await harness.settle()
        assert _rows() == []
    finally:
        await harness.stop()


async def test_no_survivor_content_in_the_table_unencrypted(channel_env: str, fake: FakeProvider) -> None:
    marker = "MRK-pend-7741"
    rasa = await _die_mid_turn("SM0000000000000000000000000000p004", f"he is outside {marker}")
    with get_engine().connect() as conn:
        raw = conn.execute(text("SELECT * FROM pending_turns")).all()
    dump = b"".join(bytes(v) if isinstance(v, (bytes, memoryview)) else str(v).encode() for r in raw for v in r)
    assert len(raw) == 1
    for secret in (marker, SENDER, SENDER[1:], "SM0000000000000000000000000000p004", "outside"):
        assert secret.encode() not in dump
    # ... and it is there, encrypted under her key (so the re-run can read it).
    with session_scope() as s:
        row = s.execute(select(PendingTurn)).scalar_one()
        cipher = load_cipher(s, row.conversation_id)
        assert cipher is not None
        assert marker in cipher.decrypt_text(row.input_ct, f"pending_turns|input|{row.stage}|{row.id}")
    assert [m.text for m in rasa.messages] == [f"he is outside {marker}"]


async def test_a_dead_owners_turn_is_re_run_exactly_once_by_two_racing_replicas(channel_env: str, fake: FakeProvider) -> None:
    sid = "SM0000000000000000000000000000p005"
    first = await _die_mid_turn(sid, "is anyone there", replies=[{"text": "one"}])
    assert len(fake.of("twilio")) == 1  # the first reply went out before the death
    # A live lease is not taken over.
    with session_scope() as s:
        s.execute(update(PendingTurn).values(lease_until=utcnow() + timedelta(seconds=30)))
    rasa_a, rasa_b = FakeRasa([{"text": "one"}, {"text": "two"}]), FakeRasa([{"text": "one"}, {"text": "two"}])
    (chan_a, rec_a), (chan_b, rec_b) = _survivor(rasa_a), _survivor(rasa_b)
    assert await rec_a.recover_once() == 0
    _kill(_turn_id(sid))
    counts = await asyncio.gather(rec_a.recover_once(), rec_b.recover_once())
    await _settle(chan_a, chan_b)
    assert sorted(counts) == [0, 1]
    messages = rasa_a.messages + rasa_b.messages
    assert [(m.text, m.message_id, m.sender_id) for m in messages] == [("is anyone there", _turn_id(sid), _conversation())]
    assert float(messages[0].metadata[pending.STARTED_AT]) > 0
    # Reply "one" went out before the death: only "two" is sent by the re-run.
    assert [r.form["Body"] for r in fake.of("twilio")] == ["one", "two"]
    assert [r.recipient for r in fake.of("twilio")] == [SENDER, SENDER]
    assert _rows() == []
    assert len(first.messages) == 1


async def test_claims_are_fenced_between_threads(channel_env: str, fake: FakeProvider) -> None:
    sid = "SM0000000000000000000000000000p006"
    await _die_mid_turn(sid, "hello")
    barrier = threading.Barrier(4)
    got: list[Optional[pending_turns.Claimed]] = []

    def racer() -> None:
        barrier.wait()
        got.append(pending_turns.claim(_turn_id(sid)))

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    claimed = [c for c in got if c is not None]
    assert len(got) == 4 and len(claimed) == 1
    assert claimed[0].stage == pending_turns.TURN and claimed[0].data["text"] == "hello"
    assert [(r.owner, r.attempts) for r in _rows()] == [(pending_turns.owner(), 2)]


async def test_a_turn_killed_before_the_gate_is_re_run_from_the_gate(channel_env: str, fake: FakeProvider) -> None:
    from channels.contacts import record_inbound

    sid = "SM0000000000000000000000000000p007"
    cid, turn_id = _conversation(), _turn_id(sid)
    class P:  # what the webhook parsed
        text, payload, location, unsupported, language_hint, country, extra = "hi there", None, None, None, None, "US", {}

    rows = pending.with_record(None, turn_id, "sms", pending.received_data(P, utcnow()))
    receipt = keyed_hash(get_settings().pseudonym_key, "inbound_receipt|sms", sid)
    assert await asyncio.to_thread(record_inbound, "sms", cid, receipt, SENDER, "US", False, rows) is not None
    _kill(turn_id)
    rasa = FakeRasa([{"text": "hello"}])
    channel, recovery = _survivor(rasa)
    assert await recovery.recover_once() == 1
    await _settle(channel)
    assert [(m.text, m.message_id) for m in rasa.messages] == [("hi there", turn_id)]
    assert [r.recipient for r in fake.of("twilio")] == [SENDER]
    assert _rows() == []


async def test_a_turn_that_finds_no_model_loaded_is_kept_and_run_once_a_model_is(
    channel_env: str, fake: FakeProvider, idle_recovery: Idle
) -> None:
    from rasa.core.agent import Agent

    sid = "SM0000000000000000000000000000p009"
    rasa = FakeRasa([{"text": "a reply"}])
    channel = _sms_channel()
    harness = await Harness(channel, rasa).start()
    # What Rasa serves with when its model failed to load: an agent without a processor (its
    # handle_message would drop the message with a log line).
    harness.app.ctx.agent = Agent()
    try:
        assert (await harness.post(*_sms(sid, "is anyone there", harness.path))).status_code == 200
        await harness.settle()
        assert rasa.messages == [] and fake.of("twilio") == []
        assert [(r.id, r.stage, r.owner, r.attempts) for r in _rows()] == [
            (_turn_id(sid), pending_turns.TURN, pending_turns.RELEASED, 0)]
        assert await idle_recovery.recover_once() == 0  # no model here either: it takes no one's turn
        assert len(_rows()) == 1
        harness.app.ctx.agent = None  # a model now (no agent: the handler is the turn, as in these tests)
        assert await idle_recovery.recover_once() == 1
        await _settle(channel)
        assert [(m.text, m.message_id) for m in rasa.messages] == [("is anyone there", _turn_id(sid))]
        assert [r.form["Body"] for r in fake.of("twilio")] == ["a reply"]
        assert _rows() == []
    finally:
        await harness.stop()


async def test_a_record_that_already_ran_is_dropped_under_the_rasa_lock(channel_env: str, fake: FakeProvider) -> None:
    from datetime import datetime, timezone

    class Store:
        def __init__(self, events: list[Any]) -> None:
            self.events = events

        async def retrieve_full_tracker(self, conversation_id: str) -> Any:
            return type("T", (), {"events": self.events})()

    class Processor:
        def __init__(self) -> None:
            self.handled: list[str] = []

        async def handle_message(self, message: UserMessage) -> None:
            self.handled.append(str(message.message_id))

    def app(events: list[Any], processor: Processor) -> Any:
        agent = type("A", (), {"lock_store": InMemoryLockStore(), "tracker_store": Store(events), "processor": processor})()
        return type("App", (), {"ctx": type("Ctx", (), {"agent": agent})()})()

    async def unused(message: UserMessage) -> None:
        raise AssertionError("the agent path is used")

    started = datetime.now(timezone.utc)
    message = UserMessage("hello", None, "conv-x", message_id="turn-1")
    saved = Processor()
    await pending.exactly_once(app([UserUttered("hello", message_id="turn-1")], saved), unused, started)(message)
    assert saved.handled == []
    fresh = Processor()
    await pending.exactly_once(app([UserUttered("older", message_id="turn-0")], fresh), unused, started)(message)
    assert fresh.handled == ["turn-1"]


async def test_erase_deletes_pending_turns_and_a_claimed_one_never_revives_her(channel_env: str, fake: FakeProvider) -> None:
    from bot.safety.erase import erase_conversation

    sid, other = "SM0000000000000000000000000000p008", "SM0000000000000000000000000000p009"
    await _die_mid_turn(sid, "first")
    await _die_mid_turn(other, "second")
    # One record is claimed by a survivor just before she erases; the other is still waiting.
    claimed = await asyncio.to_thread(pending_turns.claim, _turn_id(other))
    assert claimed is not None
    await asyncio.to_thread(erase_conversation, _conversation())
    assert _rows() == []
    rasa = FakeRasa([{"text": "hello"}])
    channel, recovery = _survivor(rasa)
    assert await recovery.recover_once() == 0
    await channel.rerun(claimed, None, rasa)
    await _settle(channel)
    assert rasa.messages == [] and fake.of("twilio") == []
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(PendingTurn)).scalar_one() == 0
        assert load_cipher(s, _conversation()) is None  # not revived: no new key, no contact


async def test_a_replayed_turn_from_before_an_erase_writes_no_events(channel_env: str) -> None:
    """The tracker store refuses a re-run's events (stamped now) when she erased after the turn began."""
    import time

    from rasa.shared.core.domain import Domain

    from bot.rasa_adapters.tracker_store import TURN_STARTED_AT, EncryptedTrackerStore
    from bot.safety.erase import erase_conversation
    from bot.store.models import TrackerEvent

    assert TURN_STARTED_AT == pending.STARTED_AT
    began = time.time() - 5
    await asyncio.to_thread(erase_conversation, "conv-erased")
    store = EncryptedTrackerStore(domain=Domain.empty(), engine=get_engine())
    tracker = await store.get_or_create_tracker("conv-erased", append_action_listen=False)
    tracker.update(UserUttered("replayed", {"name": "greet", "confidence": 1.0}, metadata={TURN_STARTED_AT: began}))
    await store.save(tracker)
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(TrackerEvent)).scalar_one() == 0
    # A new turn she starts after the erase is kept.
    fresh = await store.get_or_create_tracker("conv-erased", append_action_listen=False)
    fresh.update(UserUttered("new", {"name": "greet", "confidence": 1.0}, metadata={TURN_STARTED_AT: time.time() + 1}))
    await store.save(fresh)
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(TrackerEvent)).scalar_one() == 1
