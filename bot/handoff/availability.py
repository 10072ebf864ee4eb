"""Before she is asked to join the line: is someone free now, and about how long would it take?

The same arithmetic as bot.handoff.queue.estimate, for someone not yet in the queue: officers on
duty for her language, how many of them are busy, and the handoffs that would be served before
hers (her risk priority, joining now). Read-only; one short session (SAFETY.md 8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine

from bot.handoff.models import CLAIMED, QUEUED, Handoff, priority_for
from bot.handoff.queue import MAX_WAIT_MINUTES, handle_minutes
from bot.staff.roster import on_duty_ids
from bot.store.db import session_scope
from bot.store.models import utcnow

SOON_MINUTES = 5  # what "someone is free now" is told as


@dataclass(frozen=True)
class Availability:
    """kind: 'now' (someone free), 'wait' (about `minutes`), 'long' (over MAX_WAIT_MINUTES) or
    'nobody' (no one on duty for her language)."""

    kind: str
    minutes: Optional[int]
    ahead: int
    on_duty: int


def availability(language: str, risk: Optional[str] = None, engine: Optional[Engine] = None,
                 now: Optional[datetime] = None) -> Availability:
    """What she would be told if she joined the line now."""
    now = now or utcnow()
    priority = priority_for(risk)
    with session_scope(engine) as session:
        duty = on_duty_ids(session, now, language)
        waiting = or_(Handoff.status == QUEUED, and_(Handoff.status == CLAIMED, Handoff.lease_expires_at <= now))
        ahead = int(session.execute(
            select(func.count(Handoff.id)).where(waiting, Handoff.language == language, Handoff.priority <= priority)
        ).scalar_one())  # fmt: skip
        if not duty:
            return Availability("nobody", None, ahead, 0)
        busy = int(session.execute(
            select(func.count(Handoff.id)).where(Handoff.status == CLAIMED, Handoff.lease_expires_at > now,
                                                 Handoff.officer_id.in_(duty))
        ).scalar_one())  # fmt: skip
        per = handle_minutes(session, now, language)
    free = max(0, len(duty) - busy)
    position = ahead + 1
    if position <= free:
        return Availability("now", SOON_MINUTES, ahead, len(duty))
    minutes = int(math.ceil(math.ceil((position - free) / len(duty)) * per / 5.0) * 5)
    return Availability("long" if minutes > MAX_WAIT_MINUTES else "wait", minutes, ahead, len(duty))
