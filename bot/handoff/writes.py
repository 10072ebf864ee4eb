"""How handoff state is written: one short transaction per change, fenced by version.

The modules of bot.handoff (claims, transcript, relay, notices, erase_hook) are the only code
that changes handoff state; they share the write path, the errors and the result types here.

Every function runs one short transaction. Claims are atomic on both backends with one API:
PostgreSQL locks the chosen row with `SELECT ... FOR UPDATE SKIP LOCKED` (claimers skip each
other's rows instead of queueing behind them); SQLite takes the database write lock at BEGIN
(`session_scope(immediate=True)`), so select-then-update cannot interleave.

Fencing: a claim returns the handoff's `version`. Every officer write (renew, reply, note,
release, transfer, close) passes that version back and is applied only if the handoff is still
claimed by that officer at that version with an unexpired lease; otherwise `StaleClaim`. Every
ownership change increments the version, so an officer whose lease lapsed (crashed browser,
lost network) can never write over the next owner. An expired lease puts the handoff back in
the queue with its original priority and `enqueued_at`.

Each change records who acted and from where in the audit log (no content), bumps
`updated_at` and signals the console (bot.handoff.notify).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterator, Optional, cast

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.handoff import notify
from bot.handoff.models import CLAIMED, QUEUED, Handoff
from bot.staff.models import Officer
from bot.store.db import get_engine, session_scope
from bot.store.models import utcnow

LEASE_SECONDS = 90
MAX_TEXT = 1600
WORKING_ROLES = ("officer", "supervisor")


class HandoffError(Exception):
    """Base class; messages are safe to show an officer (no content, no addresses)."""


class NotFound(HandoffError):
    """No such handoff."""


class NotClaimable(HandoffError):
    """The handoff is not in the queue (or not for this officer's team), or the officer cannot claim."""


class StaleClaim(HandoffError):
    """The write carried a version that no longer owns the handoff (fenced off)."""


class InvalidRequest(HandoffError):
    """The request itself is wrong (unknown outcome, empty text, bad transfer target)."""


@dataclass(frozen=True)
class Claim:
    """Proof of ownership: pass `version` back with every write."""

    handoff_id: int
    officer_id: int
    version: int
    lease_expires_at: datetime


@dataclass(frozen=True)
class Enqueued:
    handoff_id: int
    created: bool
    priority: int
    status: str


@dataclass(frozen=True)
class Delivery:
    """Where an officer's message (or the closing line) must go; the caller sends it."""

    handoff_id: int
    seq: int
    conversation_id: str
    channel: str
    language: str
    country: Optional[str]
    held_pending: bool = False  # an earlier reply already waits for her WhatsApp window


@dataclass(frozen=True)
class Relayed:
    handoff_id: int
    seq: int
    held_seqs: list[int] = field(default_factory=list)


_sqlite_writers: dict[str, threading.Lock] = {}
_sqlite_writers_guard = threading.Lock()


@contextmanager
def _write(engine: Optional[Engine]) -> Iterator[Session]:
    """A write transaction: BEGIN IMMEDIATE on SQLite, a plain transaction on PostgreSQL.

    On SQLite, threads of this process also queue on a lock first: SQLite's busy handler sleeps
    with growing back-off (up to 100 ms) while the write lock is taken, so in-process claimers
    hand the lock over directly instead. Other processes still wait on SQLite's own lock.
    """
    engine = engine or get_engine()
    if engine.dialect.name != "sqlite":
        with session_scope(engine, immediate=True) as session:
            yield session
        return
    key = str(engine.url)
    with _sqlite_writers_guard:
        lock = _sqlite_writers.setdefault(key, threading.Lock())
    with lock, session_scope(engine, immediate=True) as session:
        yield session


def _now(now: Optional[datetime]) -> datetime:
    return now or utcnow()


def _lease(now: datetime, lease_seconds: Optional[float]) -> datetime:
    return now + timedelta(seconds=LEASE_SECONDS if lease_seconds is None else lease_seconds)


def _is_pg(session: Session) -> bool:
    return bool(session.get_bind().dialect.name == "postgresql")


def _locked(session: Session, stmt: Any, skip_locked: bool = False) -> Any:
    return stmt.with_for_update(skip_locked=skip_locked) if _is_pg(session) else stmt


def _claimable(now: datetime) -> Any:
    """Queued, or claimed with a lapsed lease (its owner is fenced off when it is taken)."""
    return or_(Handoff.status == QUEUED, (Handoff.status == CLAIMED) & (Handoff.lease_expires_at <= now))


def _changed(session: Session, handoff: Handoff, now: datetime) -> None:
    handoff.updated_at = now
    notify.signal(session, int(handoff.id))


def _get(session: Session, handoff_id: int) -> Handoff:
    handoff = session.execute(_locked(session, select(Handoff).where(Handoff.id == handoff_id))).scalar_one_or_none()
    if handoff is None:
        raise NotFound("no such handoff")
    return cast(Handoff, handoff)


def _fenced(session: Session, handoff_id: int, officer_id: int, version: int, now: datetime) -> Handoff:
    """The handoff, locked, if `officer_id` still owns it at `version` with a live lease."""
    handoff = _get(session, handoff_id)
    if (
        handoff.status != CLAIMED
        or handoff.officer_id != officer_id
        or handoff.version != version
        or handoff.lease_expires_at is None
        or handoff.lease_expires_at <= now
    ):
        raise StaleClaim("this conversation is no longer yours; reload the queue")
    return handoff


def _working_officer(session: Session, officer_id: int) -> Officer:
    officer = session.get(Officer, officer_id)
    if officer is None or not officer.active or officer.role not in WORKING_ROLES:
        raise NotClaimable("this account cannot take conversations")
    return cast(Officer, officer)
