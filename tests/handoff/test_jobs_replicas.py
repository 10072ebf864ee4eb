"""Background jobs with several replicas alive: lease expiry, queue notices and retention run
from two "replicas" (threads with their own connections) at the same moment, on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from sqlalchemy import func, select

from bot.action_server import retention_once
from bot.staff.models import AuditEntry
from bot.crypto import get_or_create_cipher
from bot.handoff import service
from bot.safety.erase import erase_idle_conversations
from bot.singleton import exclusive
from bot.store.db import session_scope
from bot.store.models import Contact, ConversationKey, Erasure

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def pg_engine(engine: Any) -> Any:
    if engine.dialect.name != "postgresql":
        pytest.skip("replica job tests need PostgreSQL (HAVEN_TEST_DATABASE_URL); SQLite has one writer")
    return engine


def _together(job: Callable[[], Any], replicas: int = 2) -> list[Any]:
    """Run `job` in `replicas` threads released at the same instant; their results."""
    barrier, results = threading.Barrier(replicas), [None] * replicas

    def run(i: int) -> None:
        barrier.wait()
        results[i] = job()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(replicas)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_lease_expiry_from_two_replicas_requeues_each_handoff_once(pg_engine, make_officer) -> None:
    officer = make_officer()
    ids = [service.enqueue(f"c-lease-{i}", channel="sms", language="en", engine=pg_engine, now=T0).handoff_id
           for i in range(40)]
    for hid in ids:
        service.claim(hid, officer.id, engine=pg_engine, now=T0, lease_seconds=60)
    later = T0 + timedelta(seconds=61)
    a, b = _together(lambda: service.expire_leases(engine=pg_engine, now=later))
    assert sorted(a + b) == sorted(ids) and not set(a) & set(b)
    with session_scope(pg_engine) as s:
        expired_rows = s.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "lease_expired")).scalar()
    assert expired_rows == len(ids)


def test_queue_notices_from_two_replicas_tell_each_survivor_once(pg_engine) -> None:
    ids = [service.enqueue(f"c-notice-{i}", channel="sms", language="en", engine=pg_engine, now=T0).handoff_id
           for i in range(30)]
    later = T0 + timedelta(minutes=1)
    a, b = _together(lambda: service.due_notices(engine=pg_engine, now=later))
    told = [n.conversation_id for n in a + b]
    assert len(told) == len(ids) and len(set(told)) == len(ids)  # nobody on duty: one notice each
    assert service.due_notices(engine=pg_engine, now=later) == []


def test_retention_from_two_replicas_runs_once_and_erases_each_conversation_once(pg_engine) -> None:
    now = datetime.now(timezone.utc)
    with session_scope(pg_engine) as s:
        for i in range(25):
            cid = f"c-idle-{i}"
            get_or_create_cipher(s, cid)
            s.get(ConversationKey, cid).created_at = now - timedelta(days=45)
            s.add(Contact(conversation_id=cid, channel="sms", last_active_at=now - timedelta(days=45)))
    a, b = _together(lambda: retention_once(lambda: erase_idle_conversations(days=30, engine=pg_engine, now=now)))
    assert a + b == 25 and 0 in (a, b)
    with session_scope(pg_engine) as s:
        assert s.execute(select(func.count()).select_from(Erasure)).scalar() == 25


def test_exclusive_grants_one_holder_at_a_time(pg_engine) -> None:
    with exclusive("test-job", pg_engine) as first:
        with exclusive("test-job", pg_engine) as second:
            assert first and not second
        with exclusive("other-job", pg_engine) as other:
            assert other
    with exclusive("test-job", pg_engine) as again:
        assert again
