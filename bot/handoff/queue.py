"""Read-side views of the queue: inbox lists, her position and expected wait, the transcript
(claimant only), and content-free aggregates for the supervisor dashboard.

Inbox views are small query functions (unassigned, mine, all), not copies of each other.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional, cast

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import audit
from bot.staff.models import Officer
from bot.crypto import DecryptionError, keyed_hash, load_cipher
from bot.handoff.models import (
    CLAIMED,
    CLOSED,
    OPEN_STATUSES,
    OUTCOMES,
    QUEUED,
    Handoff,
    HandoffMessage,
    message_context,
    summary_context,
    country_of,
    risk_of,
)
from bot.staff.roster import on_duty_ids
from bot.store.db import session_scope
from bot.store.models import utcnow

DEFAULT_HANDLE_MINUTES = 15
MAX_WAIT_MINUTES = 45  # beyond this she is told the wait is long and given the hotline


class AccessDenied(Exception):
    """The officer may not see this record (IDOR guard); deliberately vague."""


@dataclass(frozen=True)
class QueueItem:
    """One row of an inbox view; content-free (no summary, no text)."""

    id: int
    code: str
    language: str
    channel: str
    risk: str
    priority: int
    status: str
    waiting_seconds: int
    team_id: Optional[int]
    officer_id: Optional[int]
    version: Optional[int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class QueueStatus:
    """What the survivor is told: her place in line and an honest estimate (None: cannot say)."""

    handoff_id: int
    status: str
    position: int
    wait_minutes: Optional[int]
    officers_on_duty: int
    waited_minutes: int


def display_code(conversation_id: str, key: Optional[bytes] = None) -> str:
    """The pseudonym officers see: a short keyed hash, never the conversation id itself."""
    if key is None:
        from bot.settings import get_settings

        key = get_settings().pseudonym_key
    digest = keyed_hash(key, "handoff-display", conversation_id).upper()
    return f"{digest[:4]}-{digest[4:8]}"


def _item(h: Handoff, now: datetime, viewer_id: Optional[int], key: Optional[bytes]) -> QueueItem:
    mine = h.status == CLAIMED and h.officer_id == viewer_id
    lapsed = h.status == CLAIMED and h.lease_expires_at is not None and h.lease_expires_at <= now
    return QueueItem(
        id=int(h.id),
        code=display_code(h.conversation_id, key),
        language=h.language,
        channel=h.channel,
        risk=risk_of(h.priority),
        priority=int(h.priority),
        status=QUEUED if lapsed else h.status,
        waiting_seconds=max(0, int((now - h.enqueued_at).total_seconds())),
        team_id=h.team_id,
        officer_id=None if lapsed else h.officer_id,
        version=int(h.version) if mine and not lapsed else None,
    )


def _order(stmt: Any) -> Any:
    return stmt.order_by(Handoff.priority, Handoff.enqueued_at, Handoff.id)


def unassigned(session: Session, officer: Officer, now: datetime, key: Optional[bytes] = None) -> list[QueueItem]:
    """Waiting handoffs this officer could take (its team or none), most urgent first."""
    stmt = select(Handoff).where(
        or_(Handoff.status == QUEUED, and_(Handoff.status == CLAIMED, Handoff.lease_expires_at <= now)),
        or_(Handoff.team_id.is_(None), Handoff.team_id == officer.team_id),
    )
    return [_item(h, now, officer.id, key) for h in session.execute(_order(stmt)).scalars()]


def mine(session: Session, officer: Officer, now: datetime, key: Optional[bytes] = None) -> list[QueueItem]:
    stmt = select(Handoff).where(
        Handoff.status == CLAIMED, Handoff.officer_id == officer.id, Handoff.lease_expires_at > now
    )
    return [_item(h, now, officer.id, key) for h in session.execute(_order(stmt)).scalars()]


def all_open(session: Session, officer: Officer, now: datetime, key: Optional[bytes] = None) -> list[QueueItem]:
    """Every open handoff's status (supervisors): still content-free."""
    stmt = select(Handoff).where(Handoff.status.in_(OPEN_STATUSES))
    return [_item(h, now, officer.id, key) for h in session.execute(_order(stmt)).scalars()]


VIEWS = {"unassigned": unassigned, "mine": mine, "all": all_open}


def inbox(
    view: str, officer_id: int, key: Optional[bytes] = None, engine: Optional[Engine] = None, now: Optional[datetime] = None
) -> list[QueueItem]:
    """One inbox view (`VIEWS`) as this officer sees it, in one short read."""
    now = now or utcnow()
    with session_scope(engine) as session:
        officer = cast(Officer, session.get(Officer, officer_id))
        return VIEWS[view](session, officer, now, key)


def conversation_of(engine: Optional[Engine], handoff_id: int) -> Optional[tuple[str, str, str, Optional[str]]]:
    """(conversation id, channel, language, country) of a handoff, for sending her a line."""
    with session_scope(engine) as session:
        h = session.get(Handoff, handoff_id)
        return (h.conversation_id, h.channel, h.language, country_of(session, h)) if h else None


def handle_minutes(session: Session, now: datetime, language: Optional[str] = None) -> float:
    """Median minutes an officer spends on a handoff (last 7 days), or the default."""
    stmt = select(Handoff.first_claimed_at, Handoff.closed_at).where(
        Handoff.status == CLOSED, Handoff.first_claimed_at.is_not(None), Handoff.closed_at > now - timedelta(days=7)
    )
    if language:
        stmt = stmt.where(Handoff.language == language)
    spans = [(c - s).total_seconds() / 60 for s, c in session.execute(stmt.limit(500)).all() if s and c]
    if len(spans) < 5:
        return float(DEFAULT_HANDLE_MINUTES)
    return float(min(60.0, max(3.0, statistics.median(spans))))


def position_of(session: Session, handoff: Handoff, now: datetime) -> int:
    """1 + handoffs in her language that will be served before hers."""
    ahead = session.execute(
        select(func.count(Handoff.id)).where(
            or_(Handoff.status == QUEUED, and_(Handoff.status == CLAIMED, Handoff.lease_expires_at <= now)),
            Handoff.language == handoff.language,
            Handoff.id != handoff.id,
            or_(
                Handoff.priority < handoff.priority,
                and_(
                    Handoff.priority == handoff.priority,
                    or_(
                        Handoff.enqueued_at < handoff.enqueued_at,
                        and_(Handoff.enqueued_at == handoff.enqueued_at, Handoff.id < handoff.id),
                    ),
                ),
            ),
        )
    ).scalar_one()
    return int(ahead) + 1


def positions(session: Session, now: datetime) -> dict[int, int]:
    """position_of for every claimable handoff at once (one ordered read instead of a count each)."""
    stmt = select(Handoff.id, Handoff.language).where(
        or_(Handoff.status == QUEUED, and_(Handoff.status == CLAIMED, Handoff.lease_expires_at <= now))
    )
    out: dict[int, int] = {}
    seen: dict[str, int] = {}
    for hid, language in session.execute(_order(stmt)).all():
        seen[language] = seen.get(language, 0) + 1
        out[int(hid)] = seen[language]
    return out


def estimate(
    session: Session, handoff: Handoff, now: datetime, position: Optional[int] = None,
    memo: Optional[dict[Any, Any]] = None,
) -> QueueStatus:
    """Her position and an honest expected wait (None when no officer is on duty).

    A caller estimating many handoffs in one read passes each `position` (from `positions`) and
    one `memo` dict: who is on duty, how many are busy and the handling time per (language, team)
    are then read once, not once per handoff.
    """
    position = position_of(session, handoff, now) if position is None else position
    memo = {} if memo is None else memo
    key = ("duty", handoff.language, handoff.team_id)
    if key not in memo:
        memo[key] = on_duty_ids(session, now, handoff.language, handoff.team_id)
    duty = memo[key]
    waited = max(0, int((now - handoff.enqueued_at).total_seconds() // 60))
    if handoff.status == CLAIMED and handoff.lease_expires_at and handoff.lease_expires_at > now:
        return QueueStatus(int(handoff.id), CLAIMED, 0, 0, len(duty), waited)
    if not duty:
        return QueueStatus(int(handoff.id), QUEUED, position, None, 0, waited)
    if ("busy",) + key[1:] not in memo:
        memo[("busy",) + key[1:]] = session.execute(
            select(func.count(Handoff.id)).where(
                Handoff.status == CLAIMED, Handoff.lease_expires_at > now, Handoff.officer_id.in_(duty)
            )
        ).scalar_one()
    busy = memo[("busy",) + key[1:]]
    free = max(0, len(duty) - int(busy))
    if ("per", handoff.language) not in memo:
        memo[("per", handoff.language)] = handle_minutes(session, now, handoff.language)
    per = memo[("per", handoff.language)]
    if position <= free:
        minutes = 5
    else:
        rounds = math.ceil((position - free) / len(duty))
        minutes = int(math.ceil(rounds * per / 5.0) * 5)
    return QueueStatus(int(handoff.id), QUEUED, position, minutes, len(duty), waited)


def status_for_conversation(
    conversation_id: str, engine: Optional[Engine] = None, now: Optional[datetime] = None
) -> Optional[QueueStatus]:
    """Her open handoff's status, position and expected wait; None if she has none."""
    now = now or utcnow()
    with session_scope(engine) as session:
        handoff = session.execute(
            select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_STATUSES))
        ).scalar_one_or_none()
        if handoff is None:
            return None
        return estimate(session, handoff, now)


def officers_on_duty_count(language: str, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> int:
    with session_scope(engine) as session:
        return len(on_duty_ids(session, now or utcnow(), language))


# ------------------------------------------------------------------ transcript (claimant only)


@dataclass(frozen=True)
class TranscriptEntry:
    seq: int
    kind: str
    text: str
    at: datetime
    delivery: Optional[str]
    officer_id: Optional[int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "kind": self.kind, "text": self.text, "at": self.at.isoformat(),
            "delivery": self.delivery, "officer_id": self.officer_id,
        }


@dataclass(frozen=True)
class Detail:
    """A claimed handoff as its claimant sees it (decrypted server-side)."""

    item: QueueItem
    summary: Optional[str]
    country: Optional[str]
    lease_expires_at: Optional[datetime]
    messages: list[TranscriptEntry]


def claimant_view(
    handoff_id: int,
    officer_id: int,
    *,
    after_seq: int = 0,
    ip: Optional[str] = None,
    key: Optional[bytes] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Detail:
    """The transcript and summary, for the officer holding a live claim only (audited read)."""
    now = now or utcnow()
    with session_scope(engine, immediate=True) as session:
        handoff = session.get(Handoff, handoff_id)
        if (
            handoff is None
            or handoff.status != CLAIMED
            or handoff.officer_id != officer_id
            or handoff.lease_expires_at is None
            or handoff.lease_expires_at <= now
        ):
            raise AccessDenied("not available")
        cipher = load_cipher(session, handoff.conversation_id)
        summary = None
        entries: list[TranscriptEntry] = []
        if cipher is not None:
            if handoff.summary_ct is not None:
                try:
                    summary = cipher.decrypt_text(handoff.summary_ct, summary_context(int(handoff.id)))
                except DecryptionError:
                    summary = None
            rows = session.execute(
                select(HandoffMessage)
                .where(HandoffMessage.handoff_id == handoff_id, HandoffMessage.seq > after_seq)
                .order_by(HandoffMessage.seq)
            ).scalars()
            for row in rows:
                try:
                    body = cipher.decrypt_text(row.body_ct, message_context(handoff_id, int(row.seq)))
                except DecryptionError:
                    body = ""
                entries.append(TranscriptEntry(int(row.seq), row.kind, body, row.created_at, row.delivery, row.officer_id))
        audit.append(session, "transcript_read", actor_id=officer_id, handoff_id=handoff_id, ip=ip, now=now)
        country = country_of(session, handoff)
        return Detail(_item(handoff, now, officer_id, key), summary, country, handoff.lease_expires_at, entries)


# ------------------------------------------------------------------ dashboard (aggregates only)


def dashboard(engine: Optional[Engine] = None, now: Optional[datetime] = None) -> dict[str, Any]:
    """Queue length by risk, current waits, median wait per hour (24 h), on duty, outcomes (7 days)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        waiting = session.execute(
            select(Handoff.priority, Handoff.enqueued_at).where(
                or_(Handoff.status == QUEUED, and_(Handoff.status == CLAIMED, Handoff.lease_expires_at <= now))
            )
        ).all()
        by_risk = {"danger": 0, "disclosed": 0, "other": 0}
        waits = []
        for priority, enqueued_at in waiting:
            risk = risk_of(priority)
            by_risk[risk] = by_risk.get(risk, 0) + 1
            waits.append((now - enqueued_at).total_seconds() / 60)
        active = session.execute(
            select(func.count(Handoff.id)).where(Handoff.status == CLAIMED, Handoff.lease_expires_at > now)
        ).scalar_one()
        claimed = session.execute(
            select(Handoff.enqueued_at, Handoff.first_claimed_at).where(
                Handoff.first_claimed_at.is_not(None), Handoff.first_claimed_at > now - timedelta(hours=24)
            )
        ).all()
        hours: dict[int, list[float]] = {}
        for enqueued_at, first in claimed:
            slot = int((now - first).total_seconds() // 3600)
            hours.setdefault(slot, []).append((first - enqueued_at).total_seconds() / 60)
        chart = [
            {"hours_ago": h, "median_wait_minutes": round(statistics.median(hours[h]), 1) if h in hours else None,
             "count": len(hours.get(h, []))}
            for h in range(23, -1, -1)
        ]
        outcomes = dict(
            session.execute(
                select(Handoff.outcome, func.count(Handoff.id))
                .where(Handoff.status == CLOSED, Handoff.closed_at > now - timedelta(days=7))
                .group_by(Handoff.outcome)
            ).all()
        )
        on_duty = on_duty_ids(session, now)
    return {
        "queue_length": sum(by_risk.values()),
        "queue_by_risk": by_risk,
        "longest_wait_minutes": round(max(waits), 1) if waits else 0,
        "median_wait_minutes": round(statistics.median(waits), 1) if waits else 0,
        "active_conversations": int(active),
        "officers_on_duty": len(on_duty),
        "outcomes_7d": {name: int(outcomes.get(name, 0)) for name in OUTCOMES},
        "wait_chart_24h": chart,
    }
