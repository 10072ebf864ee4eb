"""Helpers every case write shares: the write transaction, version bump, audit, wake-up."""

from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any, Iterator, Optional

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.reporting import feed
from bot.reporting.models import ReportCase
from bot.reporting.ports import audit
from bot.store.db import get_engine, session_scope
from bot.store.models import utcnow


_sqlite_writers: dict[int, threading.RLock] = {}
_guard = threading.Lock()


def _writer_lock(engine: Engine) -> Any:
    """SQLite: one in-process queue for case writers, so a burst of submits waits its turn
    instead of timing out in SQLite's busy handler (which is not first come, first served)."""
    if engine.dialect.name != "sqlite":
        return nullcontext()
    with _guard:
        return _sqlite_writers.setdefault(id(engine), threading.RLock())


@contextmanager
def write(engine: Optional[Engine]) -> Iterator[Session]:
    """A write transaction (SQLite write lock at BEGIN); local listeners are woken after commit."""
    engine = engine or get_engine()
    with _writer_lock(engine):
        with session_scope(engine, immediate=True) as session:
            yield session
    if session.info.get("haven_case_changed"):
        feed.wake()


def touch(session: Session, case: ReportCase, now: datetime) -> None:
    """Record a change: new version, updated_at for the live feed, NOTIFY other processes."""
    case.version = int(case.version or 0) + 1
    # The commit instant, near enough: the live feed reads by updated_at with a short look-back,
    # so a transaction that waited for the write lock must not stamp the time it started.
    case.updated_at = max(now, utcnow())
    session.info["haven_case_changed"] = True
    session.flush()
    feed.signal(session, int(case.id))


def record(session: Session, action: str, *, actor_id: Optional[int] = None, actor_type: Optional[str] = None,
           case_id: Optional[int] = None, team_id: Optional[int] = None, outcome: Optional[str] = None,
           ip: Optional[str] = None, now: Optional[datetime] = None) -> Any:
    """One content-free audit row (ids and a status word only)."""
    kind = actor_type or ("officer" if actor_id is not None else "survivor")
    return audit.append(session, action, actor_type=kind, actor_id=actor_id, target_id=case_id, team_id=team_id,
                        outcome=outcome, ip=ip, now=now)


def now_or(now: Optional[datetime]) -> datetime:
    if now is not None and now.tzinfo is None:
        raise ValueError("naive datetime")
    return now or utcnow()


def deny(engine: Optional[Engine], *, actor_id: Optional[int], case_id: Optional[int], why: str,
         ip: Optional[str] = None, actor_type: Optional[str] = None) -> None:
    """Audit a refused access in its own transaction (the caller then raises NotFound)."""
    with write(engine) as session:
        record(session, "case_denied", actor_id=actor_id, actor_type=actor_type, case_id=case_id, outcome=why, ip=ip)
