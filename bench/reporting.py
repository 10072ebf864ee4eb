"""`make bench-reporting`: safe-report throughput, time to the desk's live queue, statistics export.

1. Submit R reports from C concurrent conversations (threads; each conversation submits R/C in
   turn, as an action server's worker pool would), routed to 4 desks, on SQLite (the default
   engine) and on PostgreSQL (HAVEN_BENCH_DATABASE_URL, else HAVEN_TEST_DATABASE_URL; a
   throw-away schema): reports per second, and for every report the time from submit() returning
   (her final confirmation) to the case arriving on the desk's live feed (the CaseFeed behind the
   console's /api/cases/events, in this process: in-process wake-up) — p50/p99/max.
   Checked afterwards: R case rows, R unique references, R case keys, R case_submit audit rows,
   and the audit log verifies.
2. Statistics export (every standard table, suppressed, as `haven stats export`) over S cases
   bulk-inserted with random categories.

Usage: python bench/reporting.py [--reports 2000] [--conversations 200] [--stats-cases 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.stats import percentile  # noqa: E402
os.environ.setdefault("HAVEN_MASTER_KEY", "YmVuY2gtbWFzdGVyLWtleS0wMDAwMDAwMDAwMDAwMDA")
os.environ.setdefault("HAVEN_PSEUDONYM_KEY", "YmVuY2gtcHNldWRvbnltLWtleS0wMDAwMDAwMDAwMDA")

DESKS = [("Nairobi", -1.286, 36.817), ("Mombasa", -4.043, 39.668), ("Kisumu", -0.092, 34.768), ("Nakuru", -0.303, 36.08)]


class Database:
    def __init__(self, label: str, url: str, engine: Any, cleanup: Any) -> None:
        self.label, self.url, self.engine, self._cleanup = label, url, engine, cleanup

    def close(self) -> None:
        self.engine.dispose()
        self._cleanup()


def sqlite_db(workdir: str) -> Database:
    from bot.store.db import get_engine
    from bot.store.migrate import upgrade

    url = f"sqlite:///{workdir}/bench-reporting-{secrets.token_hex(3)}.db"
    upgrade(url)
    return Database("SQLite", url, get_engine(url), lambda: None)


def postgres_db() -> Optional[Database]:
    from sqlalchemy import create_engine, text

    from bot.store.db import make_engine
    from bot.store.migrate import upgrade

    base = os.environ.get("HAVEN_BENCH_DATABASE_URL") or os.environ.get("HAVEN_TEST_DATABASE_URL")
    if not base:
        return None
    schema = "bench_" + secrets.token_hex(4)
    admin = create_engine(base, future=True)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001
        print(f"PostgreSQL unavailable ({type(exc).__name__}); skipped")
        return None
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    upgrade(url)

    def drop() -> None:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    # A bounded pool, as an action server has: 200 conversations queue for 40 connections.
    return Database("PostgreSQL", url, make_engine(url, pool_size=40, max_overflow=0, pool_timeout=600), drop)


def add_desks(engine: Any) -> None:
    from bot.directory.models import Location, Organization, Service, ServiceAtLocation
    from bot.handoff.models import Team
    from bot.reporting.models import DeskTeam
    from bot.store.db import session_scope

    with session_scope(engine) as s:
        for name, lat, lon in DESKS:
            org = Organization(external_id=f"org-{name}", name=f"{name} (bench)", is_demo=True)
            team = Team(name=f"desk {name}", active=True)
            s.add_all([org, team])
            s.flush()
            svc = Service(external_id=f"desk-{name}", organization_id=org.id, name=f"{name} desk", service_type="gender_desk",
                          status="active", desk=True, is_demo=True)
            loc = Location(external_id=f"loc-{name}", organization_id=org.id, country="KE", region=name,
                           latitude=lat, longitude=lon, time_zone="Africa/Nairobi")
            s.add_all([svc, loc])
            s.flush()
            s.add(ServiceAtLocation(service_id=svc.id, location_id=loc.id))
            s.add(DeskTeam(service_id=svc.id, team_id=team.id))


def random_draft(rng: random.Random) -> dict[str, Any]:
    from bot.reporting.models import AGE_BANDS, INCIDENT_TYPES, WHEN_BANDS

    name, lat, lon = rng.choice(DESKS)
    return {
        "incident_types": rng.sample(INCIDENT_TYPES, rng.randint(1, 2)), "when": rng.choice(WHEN_BANDS),
        "place": {"lat": lat + rng.uniform(-0.2, 0.2), "lon": lon + rng.uniform(-0.2, 0.2), "region": name, "country": "KE"},
        "safe_now": rng.random() > 0.2, "age_band": rng.choice(AGE_BANDS), "contact": {"mode": "chat"},
        "statement": "bench statement " + secrets.token_hex(24),
    }


def bench_submit(db: Database, reports: int, conversations: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from bot.console import audit
    from bot.reporting import intake
    from bot.reporting.draft import Consent
    from bot.reporting.feed import CaseFeed
    from bot.reporting.models import CaseKey, ReportCase
    from bot.store.db import session_scope

    add_desks(db.engine)
    submitted: dict[int, float] = {}
    seen: dict[int, float] = {}
    ready, done = threading.Event(), threading.Event()
    loop_box: dict[str, Any] = {}

    from bot.store.db import make_engine

    console_engine = make_engine(db.url)  # the console is its own process with its own pool

    async def watch() -> None:
        feed = CaseFeed(console_engine, poll_interval=0.25)
        queue = await feed.subscribe()
        loop_box["loop"] = asyncio.get_running_loop()
        ready.set()
        try:
            while not (done.is_set() and len(seen) >= reports):
                try:
                    changes = await asyncio.wait_for(queue.get(), timeout=0.5)
                except asyncio.TimeoutError:
                    if done.is_set() and time.monotonic() - loop_box.get("done_at", time.monotonic()) > 10:
                        break
                    continue
                now = time.time()
                for change in changes:
                    seen.setdefault(change.id, now)
        finally:
            await feed.unsubscribe(queue)

    watcher = threading.Thread(target=lambda: asyncio.run(watch()), daemon=True)
    watcher.start()
    ready.wait(10)
    per = max(1, reports // conversations)
    consent = Consent(True, True)
    lock = threading.Lock()

    def conversation(index: int) -> int:
        rng = random.Random(index)
        conv = f"bench-{index}-{secrets.token_hex(4)}"
        for i in range(per):
            result = intake.submit(conv, random_draft(rng), consent, channel=rng.choice(["sms", "whatsapp", "telegram"]),
                                   language="en", country="KE", submit_key=f"m{i}", engine=db.engine)
            with lock:
                submitted[result.case_id] = time.time()
        return per

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=conversations) as pool:
        total = sum(pool.map(conversation, range(conversations)))
    elapsed = time.perf_counter() - started
    loop_box["done_at"] = time.monotonic()
    done.set()
    watcher.join(30)
    console_engine.dispose()
    delays = [seen[c] - t for c, t in submitted.items() if c in seen]
    with session_scope(db.engine) as s:
        rows = s.execute(select(func.count(ReportCase.id), func.count(func.distinct(ReportCase.reference)))).one()
        keys = s.execute(select(func.count()).select_from(CaseKey)).scalar_one()
    audit_rows = sum(1 for _ in _audit_submits(db.engine))
    verified = audit.verify(db.engine).ok
    return {
        "reports": total, "seconds": elapsed, "per_second": total / elapsed, "rows": rows[0], "unique_refs": rows[1],
        "keys": keys, "audit": audit_rows, "audit_ok": verified, "missed_on_feed": total - len(delays),
        "p50": percentile(delays, 50) if delays else None, "p99": percentile(delays, 99) if delays else None,
        "max": max(delays) if delays else None,
    }


def _audit_submits(engine: Any) -> Any:
    from sqlalchemy import select

    from bot.staff.models import AuditEntry
    from bot.store.db import session_scope

    with session_scope(engine) as s:
        yield from s.execute(select(AuditEntry.seq).where(AuditEntry.action == "case_submit")).scalars()


def bench_stats(db: Database, cases: int) -> dict[str, Any]:
    from sqlalchemy import insert

    from bot.reporting import stats
    from bot.reporting.models import AGE_BANDS, CASE_OUTCOMES, INCIDENT_TYPES, ReportCase
    from bot.store.db import session_scope

    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    batch = []
    for i in range(cases):
        submitted = now - timedelta(days=rng.uniform(0, 365))
        closed = rng.random() < 0.6
        batch.append(dict(
            reference=f"S{i:07d}", conversation_id=f"stats-{i}", channel=rng.choice(["sms", "whatsapp", "telegram"]),
            language="en", country="KE", region=rng.choice([d[0] for d in DESKS] + ["Turkana"]),
            incident_types=",".join(rng.sample(INCIDENT_TYPES, rng.randint(1, 2))), age_band=rng.choice(AGE_BANDS + (None,)),
            anonymous=True, contact_mode="chat", answers_ct=b"x", consent_version="v1", consent_at=submitted,
            status="closed" if closed else "new", outcome=rng.choice(CASE_OUTCOMES) if closed else None, version=1,
            entry_seq=0, submitted_at=submitted, updated_at=submitted,
            first_contact_at=submitted + timedelta(hours=rng.expovariate(1 / 20)) if closed else None,
        ))
        if len(batch) == 5000:
            with session_scope(db.engine) as s:
                s.execute(insert(ReportCase), batch)
            batch = []
    if batch:
        with session_scope(db.engine) as s:
            s.execute(insert(ReportCase), batch)
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    text = stats.export_csv(engine=db.engine)
    export = time.perf_counter() - t1
    return {"cases": cases, "load_seconds": load, "export_seconds": export, "csv_rows": len(text.splitlines()) - 1,
            "suppressed": text.count(",<5\n") + text.count(",*\n")}


def fmt(value: Optional[float], unit: str = "ms") -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if unit == "ms" else f"{value:.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--stats-cases", type=int, default=100_000)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as workdir:
        for make in (lambda: sqlite_db(workdir), postgres_db):
            db = make()
            if db is None:
                print("PostgreSQL: HAVEN_TEST_DATABASE_URL not set; skipped")
                continue
            try:
                r = bench_submit(db, args.reports, args.conversations)
                print(f"{db.label}: {r['reports']} reports from {args.conversations} conversations in {r['seconds']:.1f} s "
                      f"= {r['per_second']:.0f} reports/s; submit -> desk live feed p50 {fmt(r['p50'])}, "
                      f"p99 {fmt(r['p99'])}, max {fmt(r['max'])} (missed {r['missed_on_feed']})")
                print(f"  checks: {r['rows']} case rows, {r['unique_refs']} unique references, {r['keys']} case keys, "
                      f"{r['audit']} case_submit audit rows, audit chain {'verifies' if r['audit_ok'] else 'BROKEN'}")
                s = bench_stats(db, args.stats_cases)
                print(f"  stats export over {s['cases'] + r['rows']} cases: {s['export_seconds']:.2f} s "
                      f"({s['csv_rows']} CSV rows, {s['suppressed']} suppressed; bulk load {s['load_seconds']:.1f} s)")
            finally:
                db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
