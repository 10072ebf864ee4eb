"""`make bench-handoff`: claim throughput and live-queue latency of the handoff queue.

1. Claims per second with 50 concurrent claimers (threads, one officer each) draining a queue of
   N handoffs, on SQLite (the default engine of bot.store.db, i.e. SQLAlchemy 1.4's NullPool, and a
   QueuePool engine for comparison) and on PostgreSQL (HAVEN_BENCH_DATABASE_URL, else HAVEN_TEST_DATABASE_URL; a throw-away schema).
   Afterwards every handoff must be claimed exactly once: printed as lost / double-claimed counts,
   checked from the claimers' results and by replaying the audit log against the rows.
2. New-handoff-to-console latency over SSE: the real console (uvicorn) with a logged-in officer
   listening on /api/events; handoffs are enqueued from this process (in-process wake-up) and from
   another process (as the action server does: SQLite polling, PostgreSQL LISTEN/NOTIFY).

Usage: python bench/handoff.py [--handoffs 2000] [--claimers 50] [--events 40]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.stats import percentile  # noqa: E402 - after the path set-up for `python bench/handoff.py`
os.environ.setdefault("HAVEN_MASTER_KEY", "YmVuY2gtbWFzdGVyLWtleS0wMDAwMDAwMDAwMDAwMDA")
os.environ.setdefault("HAVEN_PSEUDONYM_KEY", "YmVuY2gtcHNldWRvbnltLWtleS0wMDAwMDAwMDAwMDA")

ENQUEUER = r"""
import json, random, sys, time
from bot.handoff import service
from bot.store.db import get_engine
url, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
engine = get_engine(url)
service.enqueue(prefix + "-warm", channel="sms", language="en", engine=engine)
print("ready", flush=True)
sys.stdin.readline()
for i in range(n):
    time.sleep(random.uniform(0.05, 0.15))
    hid = service.enqueue(f"{prefix}-{i}", channel="sms", language="en", engine=engine).handoff_id
    print(json.dumps({"id": hid, "t": time.time()}), flush=True)
"""


# ------------------------------------------------------------------ databases


class Database:
    """A migrated throw-away database (SQLite file or PostgreSQL schema)."""

    def __init__(self, label: str, url: str, engine: Any, cleanup: Any) -> None:
        self.label, self.url, self.engine, self._cleanup = label, url, engine, cleanup

    def close(self) -> None:
        self.engine.dispose()
        self._cleanup()


def sqlite_db(pooled: bool, workdir: str) -> Database:
    from sqlalchemy.pool import QueuePool

    from bot.store.db import make_engine
    from bot.store.migrate import upgrade

    url = f"sqlite:///{workdir}/bench-{'pooled' if pooled else 'nullpool'}-{secrets.token_hex(3)}.db"
    upgrade(url)
    engine = make_engine(url, poolclass=QueuePool, pool_size=55, max_overflow=5) if pooled else make_engine(url)
    return Database("SQLite (QueuePool)" if pooled else "SQLite (default engine)", url, engine, lambda: None)


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

    return Database("PostgreSQL", url, make_engine(url, pool_size=55, max_overflow=5), drop)


def add_officers(engine: Any, count: int) -> list[int]:
    """Officers inserted directly with one shared Argon2id hash (set-up cost, not measured)."""
    from bot.staff.credentials import HASHER
    from bot.staff.models import Officer
    from bot.store.db import session_scope
    from bot.store.models import utcnow

    shared = HASHER.hash("bench password not used")
    with session_scope(engine) as session:
        officers = [Officer(username=f"bench-{i}-{secrets.token_hex(2)}", display_name=f"Bench {i}", role="officer",
                            languages="", password_hash=shared, totp_last_step=0, active=True, created_at=utcnow())
                    for i in range(count)]
        session.add_all(officers)
        session.flush()
        return [int(o.id) for o in officers]


# ------------------------------------------------------------------ 1. claims per second


def bench_claims(db: Database, handoffs: int, claimers: int) -> dict[str, Any]:
    from bot.handoff import service

    sys.path.insert(0, str(ROOT / "tests" / "handoff"))
    from invariants import check_database  # noqa: E402 - the tests' audit replay

    engine = db.engine
    officers = add_officers(engine, claimers)
    for i in range(handoffs):
        service.enqueue(f"bench-{i}", channel="sms", language="en", risk=(None, "disclosed", "danger")[i % 3], engine=engine)
    results: list[list[tuple[int, int]]] = [[] for _ in range(claimers)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(claimers + 1)

    def claimer(idx: int) -> None:
        try:
            barrier.wait()
            while True:
                claim = service.claim_next(officers[idx], lease_seconds=600, engine=engine)
                if claim is None:
                    return
                results[idx].append((claim.handoff_id, claim.version))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(claimers)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    per_handoff = Counter(hid for rows in results for hid, _ in rows)
    claimed = len(per_handoff)
    double = sum(1 for n in per_handoff.values() if n > 1)
    report = check_database(engine, handoffs)
    return {
        "database": db.label, "handoffs": handoffs, "claimers": claimers, "seconds": round(elapsed, 2),
        "claims_per_s": round(sum(per_handoff.values()) / elapsed, 1), "lost": handoffs - claimed,
        "double_claimed": double, "audit_replay_errors": len(report.errors), "errors": len(errors),
    }


# ------------------------------------------------------------------ 2. SSE latency


def login(base: str, username: str, password: str, secret: str) -> Any:
    import httpx
    import pyotp

    client = httpx.Client(base_url=base, timeout=10)
    page = client.get("/login")
    token = re.search(r'name="prelogin" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    # the console's cookies are Secure (__Host-); the bench talks plain HTTP on loopback, so copy them by hand
    cookies = {c.name: c.value for c in client.cookies.jar}
    r = client.post("/login", data={"prelogin": token, "username": username, "password": password,
                                    "code": pyotp.TOTP(secret).now()}, cookies=cookies, follow_redirects=False)
    if r.status_code != 303:
        raise RuntimeError(f"login failed ({r.status_code})")
    session_cookie = r.cookies.get("__Host-haven_session")
    client.cookies.clear()
    client.headers["Cookie"] = f"__Host-haven_session={session_cookie}"
    return client


def bench_sse(db: Database, events: int) -> dict[str, Any]:
    import uvicorn

    from bot.console.app import ConsoleConfig, create_app
    from bot.staff.credentials import create_officer
    from bot.handoff import service
    from bot.settings import get_settings

    officer = create_officer(f"sse-{secrets.token_hex(3)}", "bench password long enough", engine=db.engine)
    app = create_app(get_settings(), outbound=None, config=ConsoleConfig(background_jobs=False, sse_max_seconds=600),
                     engine=db.engine)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    server_thread = threading.Thread(target=server.run, daemon=True)
    server_thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    client = login(base, officer.username, "bench password long enough", officer.totp_secret)
    arrivals: dict[int, float] = {}
    stop = threading.Event()
    connected = threading.Event()

    def listen() -> None:
        with client.stream("GET", "/api/events", timeout=None) as response:
            event = None
            for line in response.iter_lines():
                now = time.time()
                if line.startswith(": connected"):
                    connected.set()
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "queue":
                    for hid in json.loads(line[6:]).get("ids", []):
                        arrivals.setdefault(int(hid), now)
                if stop.is_set():
                    return

    threading.Thread(target=listen, daemon=True).start()
    connected.wait(10)
    time.sleep(0.3)
    out: dict[str, Any] = {"database": db.label}
    # same process: the in-process wake-up
    sent: dict[int, float] = {}
    for i in range(events):
        time.sleep(0.05 + (i % 3) * 0.05)
        t = time.time()
        sent[service.enqueue(f"sse-local-{i}", channel="sms", language="en", engine=db.engine).handoff_id] = t
    time.sleep(1.5)
    out["same_process"] = latencies(sent, arrivals)
    # another process (the action server's path): polling on SQLite, LISTEN/NOTIFY on PostgreSQL
    proc = subprocess.Popen([sys.executable, "-c", ENQUEUER, db.url, str(events), "sse-remote"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()  # imports done, engine warm
    time.sleep(0.5)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    remote: dict[int, float] = {}
    for line in proc.stdout:
        row = json.loads(line)
        remote[int(row["id"])] = float(row["t"])
    proc.wait(30)
    time.sleep(1.5)
    out["other_process"] = latencies(remote, arrivals)
    stop.set()
    client.close()
    server.should_exit = True
    server_thread.join(15)  # the watcher must stop before the database goes away
    return out


def latencies(sent: dict[int, float], arrivals: dict[int, float]) -> dict[str, Any]:
    values = [(arrivals[h] - t) * 1000 for h, t in sent.items() if h in arrivals]
    if not values:
        return {"n": 0, "missed": len(sent)}
    return {"n": len(values), "missed": len(sent) - len(values), "p50_ms": round(percentile(values, 50), 1),
            "p95_ms": round(percentile(values, 95), 1), "max_ms": round(max(values), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=2000)
    parser.add_argument("--claimers", type=int, default=50)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--skip-pooled", action="store_true", help="skip the SQLite run with a QueuePool engine")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    from bot.settings import get_settings

    workdir = tempfile.mkdtemp(prefix="haven-bench-")
    os.environ["HAVEN_DATABASE_URL"] = f"sqlite:///{workdir}/settings.db"
    get_settings.cache_clear()

    databases = [sqlite_db(False, workdir)]
    if not args.skip_pooled:
        databases.append(sqlite_db(True, workdir))
    pg = postgres_db()
    if pg is not None:
        databases.append(pg)
    else:
        print("PostgreSQL: no HAVEN_BENCH_DATABASE_URL / HAVEN_TEST_DATABASE_URL; skipped")
    failures = 0
    print(f"\n== claims: {args.claimers} concurrent claimers draining {args.handoffs} handoffs")
    print(f"{'database':<26} {'claims/s':>9} {'seconds':>8} {'lost':>5} {'double-claimed':>15} {'audit errors':>13}")
    for db in databases:
        n = args.handoffs
        r = bench_claims(db, n, args.claimers)
        failures += r["lost"] + r["double_claimed"] + r["audit_replay_errors"] + r["errors"]
        print(f"{r['database']:<26} {r['claims_per_s']:>9} {r['seconds']:>8} {r['lost']:>5} {r['double_claimed']:>15} "
              f"{r['audit_replay_errors']:>13}   ({n} handoffs)")
    print(f"\n== new handoff -> console over SSE ({args.events} handoffs each, logged-in officer on /api/events)")
    print(f"{'database':<26} {'enqueued from':<15} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'missed':>7}")
    for db in databases:
        if "QueuePool" in db.label:
            continue
        r = bench_sse(db, args.events)
        for key, label in (("same_process", "same process"), ("other_process", "other process")):
            v = r[key]
            failures += v.get("missed", 0)
            print(f"{db.label:<26} {label:<15} {v.get('p50_ms', '-'):>8} {v.get('p95_ms', '-'):>8} "
                  f"{v.get('max_ms', '-'):>8} {v.get('missed', 0):>7}")
    for db in databases:
        db.close()
    print("\nOK: 0 lost, 0 double-claimed" if failures == 0 else f"\nFAILED: {failures} problem(s)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
