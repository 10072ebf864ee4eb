"""The handoff service: the only code that changes handoff state.

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

import asyncio
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Iterator, Optional, cast

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.console import audit
from bot.console.models import Officer
from bot.crypto import DecryptionError, get_or_create_cipher, load_cipher
from bot.handoff import notify
from bot.handoff.models import (
    CANCELLED,
    CLAIMED,
    CLOSED,
    FAILED,
    HELD,
    NOTE,
    OFFICER,
    OPEN_STATUSES,
    OUTCOMES,
    PENDING,
    QUEUED,
    SENT,
    SURVIVOR,
    Handoff,
    HandoffMessage,
    Team,
    country_of,
    message_context,
    priority_for,
    set_country,
    summary_context,
)
from bot.store.db import get_engine, session_scope
from bot.store.models import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from bot.safety.gate import Inbound

log = logging.getLogger("haven.handoff")

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


# ------------------------------------------------------------------ survivor side (the bot)


def enqueue(
    conversation_id: str,
    *,
    channel: str,
    language: str,
    risk: Optional[str] = None,
    country: Optional[str] = None,
    summary: Optional[str] = None,
    team_id: Optional[int] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Enqueued:
    """Queue a conversation (idempotent: an open handoff is returned, its priority raised if needed)."""
    now = _now(now)
    for _attempt in range(3):
        try:
            return _enqueue_once(conversation_id, channel, language, risk, country, summary, team_id, engine, now)
        except IntegrityError:  # a concurrent enqueue of the same conversation won: read it
            continue
    raise HandoffError("could not enqueue")


def _enqueue_once(
    conversation_id: str,
    channel: str,
    language: str,
    risk: Optional[str],
    country: Optional[str],
    summary: Optional[str],
    team_id: Optional[int],
    engine: Optional[Engine],
    now: datetime,
) -> Enqueued:
    with _write(engine) as session:
        existing = session.execute(
            _locked(
                session,
                select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES)),
            )
        ).scalar_one_or_none()
        if existing is not None:
            if priority_for(risk) < existing.priority:
                existing.priority = priority_for(risk)
                _changed(session, existing, now)
            return Enqueued(int(existing.id), False, int(existing.priority), str(existing.status))
        handoff = Handoff(
            conversation_id=conversation_id,
            channel=channel,
            language=language,
            priority=priority_for(risk),
            status=QUEUED,
            team_id=team_id,
            version=0,
            enqueued_at=now,
            updated_at=now,
            message_seq=0,
        )
        session.add(handoff)
        session.flush()
        set_country(session, handoff, country)
        if summary:
            cipher = get_or_create_cipher(session, conversation_id)
            handoff.summary_ct = cipher.encrypt_text(summary, summary_context(int(handoff.id)))
        notify.signal(session, int(handoff.id))
        result = Enqueued(int(handoff.id), True, int(handoff.priority), QUEUED)
    notify.wake()
    log.info("handoff %s queued (priority %s)", result.handoff_id, result.priority)
    return result


def escalate(conversation_id: str, risk: str, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> bool:
    """Raise the priority of her open handoff (e.g. she says she is in danger while waiting)."""
    now = _now(now)
    with _write(engine) as session:
        handoff = session.execute(
            _locked(
                session,
                select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES)),
            )
        ).scalar_one_or_none()
        if handoff is None or priority_for(risk) >= handoff.priority:
            return False
        handoff.priority = priority_for(risk)
        _changed(session, handoff, now)
    notify.wake()
    return True


def cancel(conversation_id: str, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> bool:
    """She leaves the queue; only a queued (not yet claimed) handoff can be cancelled."""
    now = _now(now)
    with _write(engine) as session:
        handoff = session.execute(
            _locked(session, select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status == QUEUED))
        ).scalar_one_or_none()
        if handoff is None:
            return False
        handoff.status, handoff.closed_at, handoff.version = CANCELLED, now, handoff.version + 1
        _changed(session, handoff, now)
        audit.append(session, "cancel", actor_type="survivor", handoff_id=int(handoff.id), now=now)
    notify.wake()
    return True


# ------------------------------------------------------------------ officer side (the console)


def _take(session: Session, handoff: Handoff, officer: Officer, now: datetime, lease_seconds: Optional[float], ip: Optional[str]) -> Claim:
    previous = handoff.officer_id if handoff.status == CLAIMED else None
    handoff.status = CLAIMED
    handoff.officer_id = officer.id
    handoff.version = handoff.version + 1
    handoff.lease_expires_at = _lease(now, lease_seconds)
    handoff.claimed_at = now
    handoff.first_claimed_at = handoff.first_claimed_at or now
    _changed(session, handoff, now)
    # One audit row per ownership change; a re-claim of a lapsed lease names the fenced-off owner.
    audit.append(session, "claim", actor_id=int(officer.id), handoff_id=int(handoff.id), target_id=previous, ip=ip, now=now)
    return Claim(int(handoff.id), int(officer.id), int(handoff.version), handoff.lease_expires_at)


def claim_next(
    officer_id: int,
    *,
    languages: Optional[list[str]] = None,
    ip: Optional[str] = None,
    lease_seconds: Optional[float] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Optional[Claim]:
    """Claim the most urgent, oldest claimable handoff for this officer (None if none)."""
    now = _now(now)
    with _write(engine) as session:
        officer = _working_officer(session, officer_id)
        langs = languages if languages is not None else (officer.language_list() or None)
        stmt = select(Handoff).where(_claimable(now), or_(Handoff.team_id.is_(None), Handoff.team_id == officer.team_id))
        if langs:
            stmt = stmt.where(Handoff.language.in_(langs))
        stmt = stmt.order_by(Handoff.priority, Handoff.enqueued_at, Handoff.id).limit(1)
        handoff = session.execute(_locked(session, stmt, skip_locked=True)).scalar_one_or_none()
        if handoff is None:
            return None
        claim = _take(session, handoff, officer, now, lease_seconds, ip)
    notify.wake()
    return claim


def claim(
    handoff_id: int,
    officer_id: int,
    *,
    ip: Optional[str] = None,
    lease_seconds: Optional[float] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Claim:
    """Claim one particular handoff (the console's "take" button); NotClaimable if already taken."""
    now = _now(now)
    with _write(engine) as session:
        officer = _working_officer(session, officer_id)
        handoff = _get(session, handoff_id)
        lapsed = handoff.status == CLAIMED and handoff.lease_expires_at is not None and handoff.lease_expires_at <= now
        if handoff.status != QUEUED and not lapsed:
            raise NotClaimable("this conversation is not waiting in the queue")
        if handoff.team_id is not None and handoff.team_id != officer.team_id:
            raise NotClaimable("this conversation is routed to another team")
        result = _take(session, handoff, officer, now, lease_seconds, ip)
    notify.wake()
    return result


def renew(
    handoff_id: int,
    officer_id: int,
    version: int,
    *,
    lease_seconds: Optional[float] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Claim:
    """Extend the lease while the officer is active; StaleClaim once it lapsed or moved on."""
    now = _now(now)
    with _write(engine) as session:
        handoff = _fenced(session, handoff_id, officer_id, version, now)
        handoff.lease_expires_at = _lease(now, lease_seconds)
        return Claim(handoff_id, officer_id, version, handoff.lease_expires_at)


def release(
    handoff_id: int,
    officer_id: int,
    version: int,
    *,
    ip: Optional[str] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> None:
    """Give the handoff back to the queue (original priority and age kept)."""
    now = _now(now)
    with _write(engine) as session:
        handoff = _fenced(session, handoff_id, officer_id, version, now)
        _requeue(handoff)
        _changed(session, handoff, now)
        audit.append(session, "release", actor_id=officer_id, handoff_id=handoff_id, ip=ip, now=now)
    notify.wake()


def _requeue(handoff: Handoff) -> None:
    handoff.status = QUEUED
    handoff.officer_id = None
    handoff.version = handoff.version + 1
    handoff.lease_expires_at = None
    handoff.claimed_at = None


def transfer(
    handoff_id: int,
    actor_id: int,
    version: int,
    *,
    to_officer_id: Optional[int] = None,
    to_team_id: Optional[int] = None,
    as_supervisor: bool = False,
    ip: Optional[str] = None,
    lease_seconds: Optional[float] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Optional[Claim]:
    """Hand the conversation to another officer (claimed for them) or to a team's queue.

    The owner transfers with its claim version; a supervisor (`as_supervisor`) may reassign any
    open handoff but must pass the version it saw, so two reassignments cannot cross.
    """
    if (to_officer_id is None) == (to_team_id is None):
        raise InvalidRequest("transfer to exactly one officer or one team")
    now = _now(now)
    with _write(engine) as session:
        if as_supervisor:
            handoff = _get(session, handoff_id)
            if handoff.status not in OPEN_STATUSES or handoff.version != version:
                raise StaleClaim("this conversation changed since you loaded it; reload")
        else:
            handoff = _fenced(session, handoff_id, actor_id, version, now)
        result: Optional[Claim] = None
        if to_officer_id is not None:
            target = session.get(Officer, to_officer_id)
            if target is None or not target.active or target.role not in WORKING_ROLES:
                raise InvalidRequest("that officer cannot take conversations")
            handoff.status = CLAIMED
            handoff.officer_id = to_officer_id
            handoff.version = handoff.version + 1
            handoff.lease_expires_at = _lease(now, lease_seconds)
            handoff.claimed_at = now
            handoff.first_claimed_at = handoff.first_claimed_at or now
            result = Claim(handoff_id, to_officer_id, int(handoff.version), handoff.lease_expires_at)
        else:
            team = session.get(Team, to_team_id)
            if team is None or not team.active:
                raise InvalidRequest("no such team")
            _requeue(handoff)
            handoff.team_id = to_team_id
        _changed(session, handoff, now)
        audit.append(
            session, "transfer", actor_id=actor_id, handoff_id=handoff_id, target_id=to_officer_id,
            team_id=to_team_id, ip=ip, now=now,
        )
    notify.wake()
    return result


def _append(session: Session, handoff: Handoff, kind: str, body: str, officer_id: Optional[int], now: datetime, delivery: Optional[str]) -> int:
    seq = int(handoff.message_seq) + 1
    handoff.message_seq = seq
    cipher = get_or_create_cipher(session, handoff.conversation_id)
    session.add(
        HandoffMessage(
            handoff_id=handoff.id,
            seq=seq,
            kind=kind,
            officer_id=officer_id,
            body_ct=cipher.encrypt_text(body, message_context(int(handoff.id), seq)),
            created_at=now,
            delivery=delivery,
        )
    )
    return seq


def _clean_text(text: str) -> str:
    body = (text or "").strip()
    if not body:
        raise InvalidRequest("the message is empty")
    if len(body) > MAX_TEXT:
        raise InvalidRequest(f"the message is longer than {MAX_TEXT} characters")
    return body


def reply(
    handoff_id: int,
    officer_id: int,
    version: int,
    text: str,
    *,
    ip: Optional[str] = None,
    lease_seconds: Optional[float] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Delivery:
    """Store an officer's reply (encrypted, pending delivery); the caller sends it and marks delivery."""
    body = _clean_text(text)
    now = _now(now)
    with _write(engine) as session:
        handoff = _fenced(session, handoff_id, officer_id, version, now)
        held = session.execute(
            select(HandoffMessage.id).where(
                HandoffMessage.handoff_id == handoff_id, HandoffMessage.kind == OFFICER, HandoffMessage.delivery == HELD
            ).limit(1)
        ).first()
        seq = _append(session, handoff, OFFICER, body, officer_id, now, PENDING)
        handoff.lease_expires_at = _lease(now, lease_seconds)
        _changed(session, handoff, now)
        audit.append(session, "reply", actor_id=officer_id, handoff_id=handoff_id, ip=ip, now=now)
        result = Delivery(
            handoff_id, seq, handoff.conversation_id, handoff.channel, handoff.language, country_of(session, handoff),
            held is not None
        )
    notify.wake()
    return result


def add_note(
    handoff_id: int,
    officer_id: int,
    version: int,
    text: str,
    *,
    ip: Optional[str] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> int:
    """A private note on the transcript (never sent; encrypted like the rest; erased with it)."""
    body = _clean_text(text)
    now = _now(now)
    with _write(engine) as session:
        handoff = _fenced(session, handoff_id, officer_id, version, now)
        seq = _append(session, handoff, NOTE, body, officer_id, now, None)
        _changed(session, handoff, now)
        audit.append(session, "note", actor_id=officer_id, handoff_id=handoff_id, ip=ip, now=now)
    notify.wake()
    return seq


def mark_delivery(
    handoff_id: int, seq: int, delivery: str, error: Optional[str] = None, engine: Optional[Engine] = None
) -> None:
    """Record what happened to an officer's message (sent, held for the WhatsApp window, failed)."""
    if delivery not in (PENDING, SENT, HELD, FAILED):
        raise InvalidRequest("unknown delivery state")
    with _write(engine) as session:
        session.execute(
            update(HandoffMessage)
            .where(HandoffMessage.handoff_id == handoff_id, HandoffMessage.seq == seq, HandoffMessage.kind == OFFICER)
            .values(delivery=delivery, error=(error or None) and error[:64])
        )
        handoff = session.get(Handoff, handoff_id)
        if handoff is not None:
            _changed(session, handoff, utcnow())
    notify.wake()


def close(
    handoff_id: int,
    officer_id: int,
    version: int,
    outcome: str,
    *,
    ip: Optional[str] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Delivery:
    """Close with an outcome code; returns where the bot's closing line should go."""
    if outcome not in OUTCOMES:
        raise InvalidRequest("unknown outcome")
    now = _now(now)
    with _write(engine) as session:
        handoff = _fenced(session, handoff_id, officer_id, version, now)
        handoff.status, handoff.outcome, handoff.closed_at, handoff.closed_by = CLOSED, outcome, now, officer_id
        handoff.version = handoff.version + 1
        handoff.lease_expires_at = None
        _changed(session, handoff, now)
        audit.append(session, "close", actor_id=officer_id, handoff_id=handoff_id, outcome=outcome, ip=ip, now=now)
        result = Delivery(
            handoff_id, int(handoff.message_seq), handoff.conversation_id, handoff.channel, handoff.language,
            country_of(session, handoff),
        )
    notify.wake()
    return result


def expire_leases(engine: Optional[Engine] = None, now: Optional[datetime] = None) -> list[int]:
    """Put every claimed handoff whose lease lapsed back in the queue (original priority and age)."""
    now = _now(now)
    with _write(engine) as session:
        stmt = select(Handoff).where(Handoff.status == CLAIMED, Handoff.lease_expires_at <= now).order_by(Handoff.id)
        expired = []
        rows = session.execute(_locked(session, stmt, skip_locked=True)).scalars().all()
        audit.lock_chains(session, [audit.chain_for(int(h.id)) for h in rows])
        for handoff in rows:
            previous = handoff.officer_id
            _requeue(handoff)
            _changed(session, handoff, now)
            audit.append(session, "lease_expired", actor_type="system", handoff_id=int(handoff.id), target_id=previous, now=now)
            expired.append(int(handoff.id))
    if expired:
        notify.wake()
        log.info("%d handoff lease(s) expired and went back to the queue", len(expired))
    return expired


# ------------------------------------------------------------------ hooks (safety gate, erase)


def _inbound_body(inbound: "Inbound") -> Optional[str]:
    if inbound.text and inbound.text.strip():
        return inbound.text.strip()[:MAX_TEXT]
    if inbound.location:
        lat, lon = inbound.location
        return f"\U0001F4CD {lat:.5f}, {lon:.5f}"
    if inbound.payload:
        return inbound.payload[:MAX_TEXT]
    return None


def has_active_claim(conversation_id: str, engine: Optional[Engine] = None) -> bool:
    """Read-only: does an officer currently hold this conversation's handoff?"""
    with session_scope(engine) as session:
        found = session.execute(
            select(Handoff.id).where(Handoff.conversation_id == conversation_id, Handoff.status == CLAIMED).limit(1)
        ).first()
    return found is not None


def append_survivor_message(
    conversation_id: str, body: str, engine: Optional[Engine] = None, now: Optional[datetime] = None
) -> Optional[Relayed]:
    """If the conversation has a claimed handoff, add her message to its transcript."""
    now = _now(now)
    with _write(engine) as session:
        handoff = session.execute(
            _locked(session, select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status == CLAIMED))
        ).scalar_one_or_none()
        if handoff is None:
            return None
        seq = _append(session, handoff, SURVIVOR, body, None, now, None)
        _changed(session, handoff, now)
        held = list(
            session.execute(
                select(HandoffMessage.seq).where(
                    HandoffMessage.handoff_id == handoff.id, HandoffMessage.kind == OFFICER, HandoffMessage.delivery == HELD
                ).order_by(HandoffMessage.seq)
            ).scalars()
        )
        result = Relayed(int(handoff.id), seq, [int(s) for s in held])
    notify.wake()
    return result


def held_messages(handoff_id: int, seqs: list[int], engine: Optional[Engine] = None) -> tuple[str, list[tuple[int, str]]]:
    """Decrypt officer replies that waited for the WhatsApp window (for delivery now)."""
    with session_scope(engine) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return "", []
        cipher = load_cipher(session, handoff.conversation_id)
        rows = session.execute(
            select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id, HandoffMessage.seq.in_(seqs))
        ).scalars()
        out = []
        for row in rows:
            if cipher is None:
                break
            try:
                out.append((int(row.seq), cipher.decrypt_text(row.body_ct, message_context(handoff_id, int(row.seq)))))
            except DecryptionError:
                continue
        return handoff.conversation_id, sorted(out)


async def relay_inbound_if_active(inbound: "Inbound") -> bool:
    """Safety-gate hook: while an officer has her conversation, her message goes to the officer.

    Returns True when the message was added to the transcript (Rasa is skipped); False while the
    handoff is merely queued or there is none (the bot answers, e.g. to let her leave the queue).
    """
    body = _inbound_body(inbound)
    if body is None or not await asyncio.to_thread(has_active_claim, inbound.conversation_id):
        return False  # the common case costs one indexed read, not a write transaction
    relayed = await asyncio.to_thread(append_survivor_message, inbound.conversation_id, body)
    if relayed is None:
        return False
    if relayed.held_seqs:
        await deliver_held(relayed.handoff_id, relayed.held_seqs)
    return True


async def deliver_held(handoff_id: int, seqs: list[int], outbound: Any = None) -> None:
    """Send replies held while the WhatsApp window was closed (she has just written, so it is open)."""
    if outbound is None:
        try:
            from bot import outbound as outbound_module
        except ModuleNotFoundError:
            return
        outbound = outbound_module
    conversation_id, messages = await asyncio.to_thread(held_messages, handoff_id, seqs)
    for seq, body in messages:
        try:
            await outbound.send_to_conversation(conversation_id, [{"text": body}])
        except Exception as exc:  # noqa: BLE001 - typed channel errors; record the type only
            await asyncio.to_thread(mark_delivery, handoff_id, seq, FAILED, type(exc).__name__)
            continue
        await asyncio.to_thread(mark_delivery, handoff_id, seq, SENT)


def on_conversation_erased(session: Session, conversation_id: str) -> None:
    """Erase hook (inside the erase transaction): drop transcripts and summaries, close as `left`.

    The officer then sees only that the person left. Content-free rows stay for statistics, with
    the conversation id replaced so nothing links them back to her.
    """
    now = utcnow()
    handoffs = session.execute(
        _locked(session, select(Handoff).where(Handoff.conversation_id == conversation_id))
    ).scalars().all()
    audit.lock_chains(session, [audit.chain_for(int(h.id)) for h in handoffs])
    for handoff in handoffs:
        session.execute(delete(HandoffMessage).where(HandoffMessage.handoff_id == handoff.id))
        handoff.summary_ct = None
        handoff.country_ct = None
        handoff.priority = priority_for(None)  # the priority stood for her risk flag
        handoff.message_seq = 0
        if handoff.status in OPEN_STATUSES:
            handoff.status, handoff.outcome, handoff.closed_at = CLOSED, "left", now
            handoff.version = handoff.version + 1
            handoff.lease_expires_at = None
        handoff.conversation_id = f"erased:{handoff.id}"
        _changed(session, handoff, now)
        audit.append(session, "erase", actor_type="survivor", handoff_id=int(handoff.id), now=now)
    if handoffs:
        session.flush()


# ------------------------------------------------------------------ what she is told while waiting


@dataclass(frozen=True)
class Notice:
    """A queue update owed to a waiting survivor (rendered and sent by the caller)."""

    handoff_id: int
    kind: str  # "update" | "long_wait" | "no_officer"
    conversation_id: str
    channel: str
    language: str
    country: Optional[str]
    position: int
    wait_minutes: Optional[int]


UPDATE_MIN_GAP = timedelta(minutes=10)


def record_notice(
    handoff_id: int,
    wait_minutes: Optional[int],
    *,
    long_wait: bool = False,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> None:
    """Remember what she was just told (position/wait, or that no one is on duty)."""
    now = _now(now)
    values: dict[str, Any] = {"notice_at": now, "notice_wait": wait_minutes}
    if long_wait:
        values["long_wait_notice_at"] = now
    with _write(engine) as session:
        session.execute(update(Handoff).where(Handoff.id == handoff_id).values(**values))


def due_notices(
    max_wait_minutes: Optional[int] = None, engine: Optional[Engine] = None, now: Optional[datetime] = None
) -> list[Notice]:
    """Queued handoffs whose survivor should hear something now; each is marked as told.

    - nobody on duty for her language (told once, with the hotline and the choice to stay);
    - waited longer than `max_wait_minutes` (told once, same choice);
    - the expected wait changed a lot since she was last told (at most every 10 minutes).
    Safe with several console replicas: rows are locked (SKIP LOCKED) while being marked.
    """
    from bot.handoff.queue import MAX_WAIT_MINUTES, estimate

    limit = MAX_WAIT_MINUTES if max_wait_minutes is None else max_wait_minutes
    now = _now(now)
    notices: list[Notice] = []
    with _write(engine) as session:
        stmt = select(Handoff).where(Handoff.status == QUEUED).order_by(Handoff.priority, Handoff.enqueued_at)
        for handoff in session.execute(_locked(session, stmt, skip_locked=True)).scalars().all():
            status = estimate(session, handoff, now)
            kind = None
            if handoff.long_wait_notice_at is None and status.wait_minutes is None:
                kind = "no_officer"
            elif handoff.long_wait_notice_at is None and status.waited_minutes >= limit:
                kind = "long_wait"
            elif (
                status.wait_minutes is not None
                and handoff.notice_wait is not None
                and (handoff.notice_at is None or now - handoff.notice_at >= UPDATE_MIN_GAP)
                and abs(status.wait_minutes - handoff.notice_wait) >= max(10, handoff.notice_wait // 2)
            ):
                kind = "update"
            if kind is None:
                continue
            handoff.notice_at, handoff.notice_wait = now, status.wait_minutes
            if kind != "update":
                handoff.long_wait_notice_at = now
            notices.append(
                Notice(int(handoff.id), kind, handoff.conversation_id, handoff.channel, handoff.language,
                       country_of(session, handoff), status.position, status.wait_minutes)
            )
    return notices
