"""Read-side views of officers for the console: the people list and a name by id."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.staff.models import Officer
from bot.staff.roster import on_duty_ids
from bot.store.db import session_scope
from bot.store.models import utcnow


def directory(full: bool, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> list[dict[str, Any]]:
    """Officers by display name with their duty state; `full` (admins) adds usernames and disabled ones."""
    now = now or utcnow()
    with session_scope(engine) as session:
        duty = on_duty_ids(session, now)
        out = []
        for o in session.execute(select(Officer).order_by(Officer.display_name)).scalars():
            if not full and not o.active:
                continue
            row = {"id": o.id, "display_name": o.display_name, "role": o.role, "team_id": o.team_id,
                   "languages": o.language_list(), "on_duty": o.id in duty}
            if full:
                row.update(username=o.username, active=o.active)
            out.append(row)
        return out


def username_of(officer_id: int, engine: Optional[Engine] = None) -> Optional[str]:
    """The officer's username, or None if there is no such officer."""
    with session_scope(engine) as session:
        officer = session.get(Officer, officer_id)
        return str(officer.username) if officer else None
