"""The queue's state changes: enqueue, escalate, cancel; claim (atomic, leased, fenced), renew,
release, transfer, close; and lease expiry. See bot.handoff.writes for fencing and locking."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import audit
from bot.crypto import get_or_create_cipher
from bot.handoff import notify
from bot.handoff.models import (
    CANCELLED,
    CLAIMED,
    CLOSED,
    OPEN_STATUSES,
    OUTCOMES,
    QUEUED,
    Handoff,
    Team,
    country_of,
    priority_for,
    set_country,
    summary_context,
)
from bot.handoff.writes import (
    WORKING_ROLES,
    Claim,
    Delivery,
    Enqueued,
    HandoffError,
    InvalidRequest,
    NotClaimable,
    StaleClaim,
    _changed,
    _claimable,
    _fenced,
    _get,
    _lease,
    _locked,
    _is_pg,
    _now,
    _working_officer,
    _write,
)
from bot.staff.models import Officer
from bot.handoff.claim_pg import take_next_pg
from bot.handoff.takeover import TAKEOVER_REASONS

log = logging.getLogger("haven.handoff")


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
        if _is_pg(session):
            claim = take_next_pg(session, officer_id, languages, now, lease_seconds, ip)
        else:
            officer = _working_officer(session, officer_id)
            langs = languages if languages is not None else (officer.language_list() or None)
            stmt = select(Handoff).where(_claimable(now), or_(Handoff.team_id.is_(None), Handoff.team_id == officer.team_id))
            if langs:
                stmt = stmt.where(Handoff.language.in_(langs))
            stmt = stmt.order_by(Handoff.priority, Handoff.enqueued_at, Handoff.id).limit(1)
            handoff = session.execute(stmt).scalar_one_or_none()
            claim = None if handoff is None else _take(session, handoff, officer, now, lease_seconds, ip)
        if claim is None:
            return None
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
    reason: Optional[str] = None,
    ip: Optional[str] = None,
    lease_seconds: Optional[float] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Optional[Claim]:
    """Hand the conversation to another officer (claimed for them) or to a team's queue.

    The owner transfers with its claim version; a supervisor (`as_supervisor`) may reassign any
    open handoff but must pass the version it saw, so two reassignments cannot cross. Taking it
    from another officer who holds it is a takeover: it needs a `reason` (TAKEOVER_REASONS).
    """
    if (to_officer_id is None) == (to_team_id is None):
        raise InvalidRequest("transfer to exactly one officer or one team")
    now = _now(now)
    with _write(engine) as session:
        if as_supervisor:
            handoff = _get(session, handoff_id)
            if handoff.status not in OPEN_STATUSES or handoff.version != version:
                raise StaleClaim("this conversation changed since you loaded it; reload")
            holder = handoff.officer_id if handoff.status == CLAIMED else None
            if holder is not None and holder != actor_id and holder != to_officer_id:
                if reason not in TAKEOVER_REASONS:
                    raise InvalidRequest("taking over a live conversation needs a reason: " + ", ".join(TAKEOVER_REASONS))
                audit.append(session, "takeover", actor_id=actor_id, handoff_id=handoff_id, target_id=holder,
                             outcome=reason, ip=ip, now=now)
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
