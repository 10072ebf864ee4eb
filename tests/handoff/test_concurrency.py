"""Concurrency: thousands of handoffs, many claimers (threads), random releases, transfers,
stalls past the lease, lease expiries and killed workers, on SQLite and PostgreSQL.

Ends when every handoff is closed. Checked from three sides: what the claimers saw (no two
successful claims of one handoff at the same version; every successful close by a holder of
that version), the transcript rows (every acknowledged reply stored once, nothing else), and the
database's own record (the audit log replayed against the rows: nothing lost, no double claim,
no stale write applied; the hash chain verifies).
"""

from __future__ import annotations

import os
import random
import sys
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.pool import QueuePool

from bot import audit
from bot.handoff import service
from bot.handoff.models import CLOSED, OFFICER, Handoff, HandoffMessage
from bot.store.db import get_engine, make_engine, session_scope
from tests.handoff.invariants import check_database

N = int(os.environ.get("HAVEN_HANDOFF_STRESS_N", "2000"))
CLAIMERS = 16
KILLED = 3
LEASE = 0.4
RISKS = (None, None, "disclosed", "danger")


@pytest.fixture
def stress_engine(db_url):
    """On SQLite a pooled engine: SQLAlchemy 1.4's default NullPool reopens (and checkpoints) the
    file on every transaction, which costs more than the transaction itself (see the report)."""
    if db_url.startswith("sqlite"):
        engine = make_engine(db_url, poolclass=QueuePool, pool_size=CLAIMERS + 4, max_overflow=8)
        yield engine
        engine.dispose()
    else:
        yield get_engine(db_url)


def enqueue_all(engine, n: int, prefix: str, threads: int = 4) -> None:
    def run(part: int) -> None:
        rng = random.Random(part)
        for i in range(part, n, threads):
            service.enqueue(f"{prefix}-{i}", channel="sms", language="en", risk=rng.choice(RISKS), engine=engine)

    workers = [threading.Thread(target=run, args=(p,)) for p in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def closed_count(engine) -> int:
    with session_scope(engine) as s:
        return int(s.execute(select(func.count(Handoff.id)).where(Handoff.status == CLOSED)).scalar_one())


def test_many_claimers_threads(stress_engine, make_officer):
    engine = stress_engine
    officers = [make_officer(languages=()) for _ in range(CLAIMERS)]
    enqueue_all(engine, N, "stress")
    lock = threading.Lock()
    claims: list[tuple[int, int, int]] = []
    closes: list[tuple[int, int, int]] = []
    replies: Counter[int] = Counter()
    stale = Counter[str]()
    dead: set[int] = set()
    stop = threading.Event()
    errors: list[BaseException] = []

    def worker(idx: int) -> None:
        me = officers[idx]
        rng = random.Random(1000 + idx)
        die_after = rng.randint(10, 60) if idx < KILLED else None
        taken = 0
        try:
            while not stop.is_set():
                claim = service.claim_next(me.id, lease_seconds=LEASE, engine=engine)
                if claim is None:
                    time.sleep(0.005)
                    continue
                with lock:
                    claims.append((claim.handoff_id, claim.version, me.id))
                taken += 1
                if die_after is not None and taken >= die_after:
                    dead.add(me.id)  # killed while holding a claim: never releases, never renews
                    return
                hid, v, roll = claim.handoff_id, claim.version, rng.random()
                try:
                    if roll < 0.12:
                        service.release(hid, me.id, v, engine=engine)
                    elif roll < 0.17:
                        target = rng.choice(officers)
                        service.transfer(hid, me.id, v, to_officer_id=target.id, lease_seconds=LEASE, engine=engine)
                    else:
                        if roll < 0.22:
                            time.sleep(LEASE * 1.5)  # stalls past its lease: its writes must be refused
                        if rng.random() < 0.3:
                            service.reply(hid, me.id, v, "reply", lease_seconds=LEASE, engine=engine)
                            with lock:
                                replies[hid] += 1
                        if rng.random() < 0.2:
                            service.renew(hid, me.id, v, lease_seconds=LEASE, engine=engine)
                        service.close(hid, me.id, v, "information_given", engine=engine)
                        with lock:
                            closes.append((hid, v, me.id))
                except service.StaleClaim:
                    with lock:
                        stale["stale"] += 1
        except BaseException as exc:  # noqa: BLE001 - surfaced by the main thread
            errors.append(exc)

    def janitor() -> None:
        while not stop.is_set():
            try:
                service.expire_leases(engine=engine)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            time.sleep(0.1)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLAIMERS)] + [threading.Thread(target=janitor)]
    started = time.monotonic()
    for t in threads:
        t.start()
    while closed_count(engine) < N and time.monotonic() - started < 240 and not errors:
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert closed_count(engine) == N, "every handoff ends closed (none lost)"

    # what the claimers saw
    assert len(set((h, v) for h, v, _ in claims)) == len(claims), "two claims got the same version"
    held = {(h, v): o for h, v, o in claims}
    for hid, v, officer in closes:
        assert held.get((hid, v)) == officer, "a close was accepted from a non-holder"
    assert sorted(Counter(h for h, _, _ in closes).values()) == [1] * N, "each handoff closed exactly once"
    assert stale["stale"] > 0 and len(dead) == KILLED  # the hard paths were exercised
    # the transcript holds exactly the acknowledged replies
    with session_scope(engine) as s:
        stored = Counter(dict(s.execute(
            select(HandoffMessage.handoff_id, func.count(HandoffMessage.id))
            .where(HandoffMessage.kind == OFFICER).group_by(HandoffMessage.handoff_id)
        ).all()))
    assert stored == replies
    # the database's own record
    report = check_database(engine, N)
    assert report.errors == []
    assert audit.verify(engine).ok


WORKER = Path(__file__).with_name("claim_worker.py")


def test_killed_worker_processes(engine, db_url, make_officer):
    """Worker processes SIGKILLed mid-work (open transactions, held leases) lose nothing."""
    n = 300
    officers = [make_officer(languages=()) for _ in range(4)]
    enqueue_all(engine, n, "proc", threads=2)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), db_url, str(o.id), str(LEASE), str(i)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for i, o in enumerate(officers)
    ]
    try:
        rng = random.Random(7)
        deadline = time.monotonic() + 120
        victims = procs[:2]
        while closed_count(engine) < n // 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        for p in victims:  # kill at random moments, whatever they are doing
            time.sleep(rng.uniform(0.0, 0.3))
            p.kill()
        while closed_count(engine) < n and time.monotonic() < deadline:
            service.expire_leases(engine=engine)
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            p.wait(timeout=20)
    survivors_ok = [p.returncode for p in procs[2:]]
    assert all(code in (0, -15) for code in survivors_ok), [p.stderr.read().decode()[-2000:] for p in procs[2:]]
    assert closed_count(engine) == n
    report = check_database(engine, n)
    assert report.errors == []
    assert audit.verify(engine).ok
