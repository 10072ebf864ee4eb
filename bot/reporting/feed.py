"""The desk's live feed: content-free case changes (ids, team, status), read from the database.

Every case write bumps `report_cases.updated_at`. `signal(session, id)` issues a PostgreSQL
NOTIFY on CHANNEL inside the transaction (other processes), `wake()` runs local callbacks after
commit, and `CaseFeed` re-reads changed rows (with a look-back window for late commits) and fans
them out to subscribers; it runs only while someone is subscribed.
"""

from __future__ import annotations

import asyncio
import logging
import select as select_module
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.reporting.models import ReportCase
from bot.store.db import session_scope
from bot.store.models import utcnow

log = logging.getLogger("haven.reporting.feed")
CHANNEL = "haven_cases"
LOOKBACK = timedelta(seconds=5)  # updated_at is stamped inside the (short) write transaction
_lock = threading.Lock()
_callbacks: list[Callable[[], None]] = []


@dataclass(frozen=True)
class CaseChange:
    id: int
    team_id: Optional[int]
    status: str
    version: int
    updated_at: datetime


def subscribe_local(callback: Callable[[], None]) -> None:
    with _lock:
        _callbacks.append(callback)


def unsubscribe_local(callback: Callable[[], None]) -> None:
    with _lock:
        if callback in _callbacks:
            _callbacks.remove(callback)


def signal(session: Session, case_id: int) -> None:
    """Inside the writing transaction: NOTIFY other processes (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": str(case_id)})


def wake() -> None:
    """After commit: local listeners re-read at once."""
    with _lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001
            log.exception("case change callback failed")


def high_water(engine: Engine) -> datetime:
    with session_scope(engine) as session:
        return session.execute(select(func.max(ReportCase.updated_at))).scalar_one_or_none() or utcnow()


def changes_since(engine: Engine, since: datetime) -> list[CaseChange]:
    """Cases changed after `since` minus the look-back window (callers de-duplicate)."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(ReportCase.id, ReportCase.team_id, ReportCase.status, ReportCase.version, ReportCase.updated_at)
            .where(ReportCase.updated_at > since - LOOKBACK)
        ).all()
    return [CaseChange(int(r[0]), r[1], r[2], int(r[3]), r[4]) for r in rows]


class CaseFeed:
    """Polls (and on PostgreSQL listens) for case changes while anyone is subscribed."""

    def __init__(self, engine: Engine, poll_interval: float = 0.25) -> None:
        self.engine, self.poll_interval = engine, poll_interval
        self._subs: set[asyncio.Queue[list[CaseChange]]] = set()
        self._seen: dict[int, tuple[str, int, datetime]] = {}
        self._since: Optional[datetime] = None
        self._event: Optional[asyncio.Event] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._task: Optional[asyncio.Task[None]] = None
        self._stop = threading.Event()

    async def subscribe(self) -> "asyncio.Queue[list[CaseChange]]":
        queue: asyncio.Queue[list[CaseChange]] = asyncio.Queue(maxsize=100)
        self._subs.add(queue)
        if self._task is None or self._task.done():
            await self._start()
        return queue

    async def unsubscribe(self, queue: "asyncio.Queue[list[CaseChange]]") -> None:
        self._subs.discard(queue)
        if not self._subs:
            await self.stop()

    def wake(self) -> None:
        loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass

    async def _start(self) -> None:
        self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
        self._stop.clear()
        self._since = await asyncio.to_thread(high_water, self.engine)
        self._fresh(await asyncio.to_thread(changes_since, self.engine, self._since))
        subscribe_local(self.wake)
        self._task = asyncio.create_task(self._run(), name="haven-case-feed")
        if self.engine.dialect.name == "postgresql":
            threading.Thread(target=self._listen, name="haven-case-listen", daemon=True).start()

    async def stop(self) -> None:
        unsubscribe_local(self.wake)
        self._stop.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    def _fresh(self, rows: list[CaseChange]) -> list[CaseChange]:
        out = []
        for row in rows:
            sig = (row.status, row.version, row.updated_at)
            if self._seen.get(row.id) != sig:
                self._seen[row.id] = sig
                out.append(row)
        if len(self._seen) > 20000:
            horizon = (self._since or utcnow()) - LOOKBACK
            self._seen = {k: v for k, v in self._seen.items() if v[2] > horizon}
        return out

    async def poll_once(self) -> list[CaseChange]:
        since = self._since or utcnow()
        rows = await asyncio.to_thread(changes_since, self.engine, since)
        if rows:
            self._since = max(since, max(r.updated_at for r in rows))
        fresh = self._fresh(rows)
        for queue in list(self._subs):
            if fresh:
                try:
                    queue.put_nowait(fresh)
                except asyncio.QueueFull:
                    pass
        return fresh

    async def _run(self) -> None:
        assert self._event is not None
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), timeout=self.poll_interval)
            except asyncio.TimeoutError:
                pass
            self._event.clear()
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                log.exception("case feed poll failed")
                await asyncio.sleep(1.0)

    def _listen(self) -> None:
        while not self._stop.is_set():
            raw = None
            try:
                raw = self.engine.raw_connection()
                conn = raw.dbapi_connection
                conn.set_isolation_level(0)
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}")
                while not self._stop.is_set():
                    if select_module.select([conn], [], [], 0.5) == ([], [], []):
                        continue
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        self.wake()
            except Exception:  # noqa: BLE001
                log.warning("case LISTEN connection lost; retrying")
                self._stop.wait(2.0)
            finally:
                if raw is not None:
                    try:
                        raw.invalidate()
                    except Exception:  # noqa: BLE001
                        pass
