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
