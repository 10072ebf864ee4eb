"""What a waiting survivor is told: queue updates, a long wait, nobody on duty (marked as told)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.handoff.models import QUEUED, Handoff, country_of
from bot.handoff.writes import _locked, _now, _write


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


def _kind(handoff: Handoff, wait_minutes: Optional[int], waited_minutes: int, limit: int, now: datetime) -> Optional[str]:
    if handoff.long_wait_notice_at is None and wait_minutes is None:
        return "no_officer"
    if handoff.long_wait_notice_at is None and waited_minutes >= limit:
        return "long_wait"
    if (
        wait_minutes is not None
        and handoff.notice_wait is not None
        and (handoff.notice_at is None or now - handoff.notice_at >= UPDATE_MIN_GAP)
        and abs(wait_minutes - handoff.notice_wait) >= max(10, handoff.notice_wait // 2)
    ):
        return "update"
    return None


def due_notices(
    max_wait_minutes: Optional[int] = None, engine: Optional[Engine] = None, now: Optional[datetime] = None
) -> list[Notice]:
    """Queued handoffs whose survivor should hear something now; each is marked as told.

    - nobody on duty for her language (told once, with the hotline and the choice to stay);
    - waited longer than `max_wait_minutes` (told once, same choice);
    - the expected wait changed a lot since she was last told (at most every 10 minutes).
    The estimates are read without locks (a long queue takes a while and claims must not wait
    or skip it meanwhile); then only the handoffs due are locked (SKIP LOCKED), re-checked (still
    queued, not told meanwhile by another replica) and marked in one short transaction.
    """
    from bot.handoff.queue import MAX_WAIT_MINUTES, estimate, positions
    from bot.store.db import session_scope

    limit = MAX_WAIT_MINUTES if max_wait_minutes is None else max_wait_minutes
    now = _now(now)
    due: dict[int, tuple[str, Any, Any, int, Optional[int]]] = {}
    with session_scope(engine) as session:
        ahead = positions(session, now)
        memo: dict[Any, Any] = {}
        stmt = select(Handoff).where(Handoff.status == QUEUED).order_by(Handoff.priority, Handoff.enqueued_at)
        for handoff in session.execute(stmt).scalars():
            status = estimate(session, handoff, now, position=ahead.get(int(handoff.id), 1), memo=memo)
            kind = _kind(handoff, status.wait_minutes, status.waited_minutes, limit, now)
            if kind is not None:
                due[int(handoff.id)] = (kind, handoff.notice_at, handoff.long_wait_notice_at, status.position,
                                        status.wait_minutes)
    notices: list[Notice] = []
    if not due:
        return notices
    with _write(engine) as session:
        stmt = select(Handoff).where(Handoff.id.in_(list(due)), Handoff.status == QUEUED)
        stmt = stmt.order_by(Handoff.priority, Handoff.enqueued_at, Handoff.id)
        for handoff in session.execute(_locked(session, stmt, skip_locked=True)).scalars().all():
            kind, notice_at, long_wait_at, position, wait_minutes = due[int(handoff.id)]
            if handoff.notice_at != notice_at or handoff.long_wait_notice_at != long_wait_at:
                continue  # told meanwhile (another replica)
            handoff.notice_at, handoff.notice_wait = now, wait_minutes
            if kind != "update":
                handoff.long_wait_notice_at = now
            notices.append(
                Notice(int(handoff.id), kind, handoff.conversation_id, handoff.channel, handoff.language,
                       country_of(session, handoff), position, wait_minutes)
            )
    return notices
