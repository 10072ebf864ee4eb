"""Kill: SIGKILL one Rasa replica in the middle of SMS load while the fake provider's client
retries unanswered webhooks as Twilio does (same MessageSid). 0 lost turns, 0 duplicate replies,
and the killed replica's locks lapse within their lifetime. The turns the killed replica had
accepted are re-run by the survivor from their pending-turn records (channels/pending.py) once
their lease (HAVEN_PENDING_LEASE_SECONDS) runs out."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import time
from dataclasses import dataclass

import httpx
import pytest
from rasa.shared.core.events import BotUttered, UserUttered

from bench.load import Sent, sms_load
from bot.cluster import Cluster
from bot.crypto import pseudonym
from bot.runner import start
from tests.channels.conftest import PUBLIC_URL, SMS_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.cluster.checks import problems, trackers
from tests.cluster.conftest import LOCK_LIFETIME
from tests.conftest import TEST_KEYS

CONVERSATIONS = int(os.environ.get("HAVEN_CLUSTER_KILL_CONVERSATIONS", "30"))
PER_CONVERSATION = 6

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


@dataclass
class KillRun:
    sent: list[Sent]
    lingering: int
    lost: dict[str, int]
    duplicated_replies: dict[str, tuple[int, int]]
    other: dict[str, list[str]]
    held_at_kill: int = 0


def wait_idle(provider: str, after: int, quiet_for: float = 3.0, limit: float = 180.0) -> None:
    """Wait until the provider has received nothing new for `quiet_for` seconds (the backlog is done)."""
    deadline, last, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(httpx.get(f"{provider}/__fake__/requests", params={"after": after}, timeout=10).json())
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_for:
            return
        time.sleep(0.3)


def wait_no_pending(database_url: str, limit: float = 180.0) -> int:
    """Wait until no pending turn is left (the survivor re-ran the killed replica's); returns how many are left."""
    from sqlalchemy import func, select

    from bot.store.db import get_engine
    from bot.store.models import PendingTurn

    deadline, left = time.monotonic() + limit, -1
    while time.monotonic() < deadline:
        with get_engine(database_url).connect() as conn:
            left = int(conn.execute(select(func.count()).select_from(PendingTurn)).scalar_one())
        if not left:
            break
        time.sleep(0.5)
    return left


@pytest.fixture(scope="module")
def kill_run(haven_cluster: Cluster) -> KillRun:
    """The SMS load with one Rasa replica SIGKILLed a third of the way in (run once per module)."""
    info = haven_cluster
    victim = info.of("rasa")[0]
    run = int(time.time()) % 100000
    addresses = [f"+1555{run:05d}{i:02d}" for i in range(CONVERSATIONS)]
    provider = info.env["HAVEN_FAKE_PROVIDER_URL"]
    after = max((r["seq"] for r in httpx.get(f"{provider}/__fake__/requests", timeout=10).json()), default=0)
    killed_at: list[float] = []

    async def load_and_kill() -> list[Sent]:
        task = asyncio.create_task(sms_load(info.rasa_url, PUBLIC_URL, TWILIO_TOKEN, TWILIO_SID, SMS_FROM, addresses,
                                            PER_CONVERSATION, in_flight=20, retry_after=1.0, max_attempts=40))
        while True:  # kill once a third of the replies went out: mid-load, turns in flight on both replicas
            await asyncio.sleep(0.2)
            answered = len(httpx.get(f"{provider}/__fake__/requests", params={"after": after}, timeout=10).json())
            if answered >= CONVERSATIONS * PER_CONVERSATION // 3 or task.done():
                break
        assert victim.service.proc is not None
        os.killpg(victim.service.proc.pid, signal.SIGKILL)
        killed_at.append(time.monotonic())
        return await task

    sent = asyncio.run(load_and_kill())
    assert victim.service.proc is not None and victim.service.proc.wait(10) == -signal.SIGKILL
    key = base64.urlsafe_b64decode(TEST_KEYS["HAVEN_PSEUDONYM_KEY"] + "==")
    conv_of = {a: pseudonym(key, "sms", a) for a in addresses}
    # The killed replica's tickets (holding or waiting) lapse within their lifetime.
    from bot.rasa_adapters.redis_lock import RedisAtomicLockStore

    locks = RedisAtomicLockStore(info.env["HAVEN_REDIS_URL"])
    dead = f":{victim.service.proc.pid}"
    deadline = killed_at[0] + LOCK_LIFETIME + 1.0
    held_at_kill = lingering = sum(o.endswith(dead) for c in conv_of.values() for o in locks.owners(c).values())
    while time.monotonic() < deadline:
        lingering = sum(o.endswith(dead) for c in conv_of.values() for o in locks.owners(c).values())
        if not lingering:
            break
        time.sleep(0.2)
    lapsed_after = time.monotonic() - killed_at[0]
    wait_idle(provider, after)
    pending_left = wait_no_pending(info.database_url)  # re-runs happen a lease after the kill
    recovered_after = time.monotonic() - killed_at[0]
    wait_idle(provider, after)
    calls = [r for r in httpx.get(f"{provider}/__fake__/requests", params={"after": after}, timeout=10).json()
             if r["key"] == "twilio"]
    events = trackers(info.database_url, list(conv_of.values()))
    lost, duplicated, other = {}, {}, {}
    for address in addresses:
        mine = [s for s in sent if s.conversation == address]
        conv_events = events[conv_of[address]]
        recorded = [e for e in conv_events if isinstance(e, UserUttered)]
        if len(recorded) < len(mine):
            lost[address[-2:]] = len(mine) - len(recorded)
        bots = sum(isinstance(e, BotUttered) for e in conv_events)
        went_out = sum(1 for r in calls if r["recipient"] == address)
        # A turn the killed replica replied to but never saved is a lost turn (counted above), not a
        # duplicate; where no turn was lost, every reply recorded went out exactly once.
        if len(recorded) >= len(mine) and went_out != bots:
            duplicated[address[-2:]] = (went_out, bots)
        found = [p for p in problems(conv_events, mine, check_replies=False, check_order=False)
                 if not p.startswith("turns:")]
        if len(recorded) > len({e.text for e in recorded}):
            found.append("a turn recorded twice")
        if found:
            other[address[-2:]] = found
    print(f"\n[kill] {len(sent)} webhooks, {sum(s.attempts > 1 for s in sent)} retried, "
          f"{sum(not 200 <= s.status < 300 for s in sent)} never answered, {len(calls)} replies sent; "
          f"{sum(lost.values())} turn(s) lost in {len(lost)} conversation(s); {len(duplicated)} conversation(s) "
          f"with replies sent != recorded (among those with no lost turn); the killed replica held {held_at_kill} "
          f"ticket(s) at the kill, {lingering} left after {lapsed_after:.1f} s (lifetime {LOCK_LIFETIME} s); "
          f"{pending_left} pending turn(s) left {recovered_after:.1f} s after the kill")
    # Bring the replica back so the cluster is whole again (HAProxy marks it UP).
    start([victim.service], env=info.env, quiet=True)
    assert info.wait_status(victim, "UP", 90)
    return KillRun(sent, lingering, lost, duplicated, other, held_at_kill)


def test_every_webhook_is_answered_and_the_killed_replicas_locks_lapse_within_their_lifetime(kill_run: KillRun) -> None:
    assert not [s for s in kill_run.sent if not 200 <= s.status < 300]
    assert kill_run.lingering == 0


def test_no_turn_twice_or_interleaved_and_a_reply_repeated_only_where_a_turn_was_in_flight(kill_run: KillRun) -> None:
    """Replies are at-least-once by choice (docs/architecture.md: a lost reply may be the emergency
    number): a reply the provider took just before the SIGKILL, and not yet counted, goes again when a
    surviving replica re-runs that turn. So: never a reply fewer than recorded, at most one extra, and
    only in conversations whose turn the killed replica held at the kill."""
    assert not kill_run.other, f"e.g. {next(iter(kill_run.other.values()))}"
    for went_out, recorded in kill_run.duplicated_replies.values():
        assert went_out == recorded + 1, (went_out, recorded)
    assert len(kill_run.duplicated_replies) <= kill_run.held_at_kill


@pytest.mark.xfail(reason="at-least-once replies (see the test above): a reply in flight at the SIGKILL can go "
                          "twice; exactly-once would need an idempotency key at the provider, which Twilio's and "
                          "Telegram's send APIs do not offer", strict=False)
def test_no_duplicate_reply_when_a_replica_is_killed(kill_run: KillRun) -> None:
    assert not kill_run.duplicated_replies


def test_no_turn_is_lost_when_a_replica_is_killed(kill_run: KillRun) -> None:
    assert not kill_run.lost, f"{sum(kill_run.lost.values())} turn(s) lost"
