"""Live updates: a database watcher feeding server-sent events to every open console.

The watcher is the single source of truth for "something changed": it reads handoff rows whose
`updated_at` moved, a few times a second. It is woken at once by local changes (in-process
pub/sub, bot.handoff.notify) and, on PostgreSQL, by LISTEN/NOTIFY from other processes and
replicas (the action server that enqueues, other console replicas). Events carry row ids and
statuses only, never content.

Rows are re-read with a look-back window (a transaction can commit after a later one), and
de-duplicated by their (status, version, message_seq, updated_at) signature.
"""

from __future__ import annotations

import asyncio
import logging
import select as select_module
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bot.handoff import notify
from bot.handoff.models import Handoff
from bot.store.db import session_scope
from bot.store.models import utcnow

log = logging.getLogger("haven.console.live")
LOOKBACK = timedelta(seconds=30)


@dataclass(frozen=True)
class Change:
    id: int
    status: str
    officer_id: Optional[int]
    version: int
    message_seq: int
    updated_at: datetime


class Watcher:
    """Polls (and on PostgreSQL listens) for handoff changes; fans them out to subscribers."""

    def __init__(self, engine: Engine, poll_interval: float = 0.25) -> None:
        self.engine = engine
        self.poll_interval = poll_interval
        self._subscribers: set[asyncio.Queue[list[Change]]] = set()
        self._seen: dict[int, tuple[Any, ...]] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._event: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task[None]] = None
        self._stop = threading.Event()
        self._listener: Optional[threading.Thread] = None
        self._since: Optional[datetime] = None

    # ---- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._since = await asyncio.to_thread(self._high_water)
        notify.subscribe(self.wake)
        self._task = asyncio.create_task(self._run(), name="haven-console-watcher")
        if self.engine.dialect.name == "postgresql":
            self._listener = threading.Thread(target=self._listen, name="haven-pg-listen", daemon=True)
            self._listener.start()

    async def stop(self) -> None:
        notify.unsubscribe(self.wake)
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self._listener is not None:
            await asyncio.to_thread(self._listener.join, 3)

    def wake(self) -> None:
        """Thread-safe: re-read now."""
        loop, event = self._loop, self._event
        if loop is not None and event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass

    # ---- subscribers
    def subscribe(self) -> "asyncio.Queue[list[Change]]":
        queue: asyncio.Queue[list[Change]] = asyncio.Queue(maxsize=100)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: "asyncio.Queue[list[Change]]") -> None:
        self._subscribers.discard(queue)

    # ---- internals
    def _high_water(self) -> datetime:
        with session_scope(self.engine) as session:
            latest = session.execute(select(func.max(Handoff.updated_at))).scalar_one_or_none()
        return latest or utcnow()

    def _read(self, since: datetime) -> list[Change]:
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(
                    Handoff.id, Handoff.status, Handoff.officer_id, Handoff.version, Handoff.message_seq, Handoff.updated_at
                ).where(Handoff.updated_at > since - LOOKBACK)
            ).all()
        return [Change(int(r[0]), r[1], r[2], int(r[3]), int(r[4]), r[5]) for r in rows]

    def _fresh(self, rows: list[Change]) -> list[Change]:
        fresh = []
        for row in rows:
            signature = (row.status, row.officer_id, row.version, row.message_seq, row.updated_at)
            if self._seen.get(row.id) != signature:
                self._seen[row.id] = signature
                fresh.append(row)
        return fresh

    def _prune(self, horizon: datetime) -> None:
        if len(self._seen) > 5000:
            self._seen = {k: v for k, v in self._seen.items() if v[-1] > horizon}

    async def poll_once(self) -> list[Change]:
        since = self._since or utcnow()
        rows = await asyncio.to_thread(self._read, since)
        fresh = self._fresh(rows)
        if rows:
            self._since = max(since, max(r.updated_at for r in rows))
        self._prune(since - LOOKBACK)
        if fresh:
            for queue in list(self._subscribers):
                try:
                    queue.put_nowait(fresh)
                except asyncio.QueueFull:  # a stalled client: it will resync on reconnect
                    pass
        return fresh

    async def _run(self) -> None:
        assert self._event is not None
        # Seed the signature map so the first poll does not replay the look-back window.
        self._fresh(await asyncio.to_thread(self._read, self._since or utcnow()))
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
            except Exception:  # noqa: BLE001 - keep watching; the DB may be briefly unavailable
                log.exception("console watcher poll failed")
                await asyncio.sleep(1.0)

    def _listen(self) -> None:
        """PostgreSQL LISTEN loop in a thread; each notification wakes the watcher."""
        while not self._stop.is_set():
            raw = None
            try:
                raw = self.engine.raw_connection()
                conn = raw.dbapi_connection
                conn.set_isolation_level(0)  # autocommit: notifications arrive between statements
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {notify.CHANNEL}")
                while not self._stop.is_set():
                    if select_module.select([conn], [], [], 0.5) == ([], [], []):
                        continue
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        self.wake()
            except Exception:  # noqa: BLE001 - reconnect after a pause; polling still runs
                log.warning("LISTEN connection lost; retrying")
                self._stop.wait(2.0)
            finally:
                if raw is not None:
                    try:
                        raw.invalidate()
                    except Exception:  # noqa: BLE001
                        pass
