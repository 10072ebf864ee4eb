"""Teams and roster shifts: who is on duty, for which language and team, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.staff.models import Officer
from bot.handoff.models import RosterShift, Team
from bot.store.db import session_scope
from bot.store.models import utcnow


class RosterError(ValueError):
    """A roster or team request is invalid (the message is safe to show an operator)."""


@dataclass(frozen=True)
class ShiftView:
    id: int
    officer_id: int
    username: str
    team_id: Optional[int]
    language: str
    starts_at: datetime
    ends_at: datetime


def add_team(name: str, engine: Optional[Engine] = None, actor_id: Optional[int] = None) -> int:
    """Create a team; returns its id."""
    name = name.strip()
    if not name:
        raise RosterError("a team needs a name")
    if len(name) > 80:
        raise RosterError("a team name is at most 80 characters")
    with session_scope(engine, immediate=True) as session:
        if session.execute(select(Team.id).where(Team.name == name)).first():
            raise RosterError(f"team {name!r} already exists")
        team = Team(name=name, created_at=utcnow())
        session.add(team)
        session.flush()
        from bot import audit

        audit.append(
            session, "team_add", actor_type="officer" if actor_id else "cli", actor_id=actor_id, team_id=int(team.id)
        )
        return int(team.id)


def list_teams(engine: Optional[Engine] = None) -> list[tuple[int, str, bool]]:
    with session_scope(engine) as session:
        return [(r.id, r.name, r.active) for r in session.execute(select(Team).order_by(Team.name)).scalars()]


def team_id_by_name(session: Session, name: str) -> int:
    found = session.execute(select(Team.id).where(Team.name == name)).scalar_one_or_none()
    if found is None:
        raise RosterError(f"no team named {name!r}")
    return int(found)


def add_shifts(
    officer_id: int,
    languages: Iterable[str],
    starts_at: datetime,
    ends_at: datetime,
    *,
    team_id: Optional[int] = None,
    repeat_days: int = 1,
    actor_id: Optional[int] = None,
    engine: Optional[Engine] = None,
) -> list[int]:
    """Put an officer on duty for each language, optionally repeated on consecutive days."""
    langs = sorted({code.strip().lower() for code in languages if code.strip()})
    if not langs:
        raise RosterError("a shift needs at least one language")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise RosterError("shift times must carry a timezone")
    if ends_at <= starts_at:
        raise RosterError("a shift must end after it starts")
    if ends_at - starts_at > timedelta(hours=24):
        raise RosterError("a shift is at most 24 hours long")
    if not 1 <= repeat_days <= 366:
        raise RosterError("repeat must be between 1 and 366 days")
    if any(len(code) > 8 for code in langs):
        raise RosterError("language codes are at most 8 characters")
    try:
        ends_at + timedelta(days=repeat_days)
    except OverflowError as exc:
        raise RosterError("shift times are out of range") from exc
    ids: list[int] = []
    with session_scope(engine, immediate=True) as session:
        officer = session.get(Officer, officer_id)
        if officer is None or not officer.active:
            raise RosterError("no active officer with that id")
        if team_id is not None and not session.execute(
            select(Team.id).where(Team.id == team_id, Team.active.is_(True))
        ).first():
            raise RosterError("no active team with that id")
        for day in range(repeat_days):
            offset = timedelta(days=day)
            for lang in langs:
                shift = RosterShift(
                    officer_id=officer_id,
                    team_id=team_id,
                    language=lang,
                    starts_at=starts_at + offset,
                    ends_at=ends_at + offset,
                    created_at=utcnow(),
                )
                session.add(shift)
                session.flush()
                ids.append(int(shift.id))
        from bot import audit

        audit.append(
            session, "roster_add", actor_type="officer" if actor_id else "cli", actor_id=actor_id, target_id=officer_id
        )
    return ids


def remove_shift(shift_id: int, actor_id: Optional[int] = None, engine: Optional[Engine] = None) -> bool:
    with session_scope(engine, immediate=True) as session:
        shift = session.get(RosterShift, shift_id)
        if shift is None:
            return False
        officer_id = shift.officer_id
        session.execute(delete(RosterShift).where(RosterShift.id == shift_id))
        from bot import audit

        audit.append(
            session, "roster_remove", actor_type="officer" if actor_id else "cli", actor_id=actor_id, target_id=officer_id
        )
        return True


def list_shifts(
    start: Optional[datetime] = None, end: Optional[datetime] = None, engine: Optional[Engine] = None
) -> list[ShiftView]:
    """Shifts overlapping [start, end) (default: from now, the next 7 days)."""
    start = start or utcnow()
    end = end or start + timedelta(days=7)
    with session_scope(engine) as session:
        rows = session.execute(
            select(RosterShift, Officer.username)
            .join(Officer, Officer.id == RosterShift.officer_id)
            .where(RosterShift.ends_at > start, RosterShift.starts_at < end)
            .order_by(RosterShift.starts_at, Officer.username, RosterShift.language)
        ).all()
        return [
            ShiftView(s.id, s.officer_id, username, s.team_id, s.language, s.starts_at, s.ends_at) for s, username in rows
        ]


def on_duty_ids(
    session: Session, now: datetime, language: Optional[str] = None, team_id: Optional[int] = None
) -> set[int]:
    """Active officers with a shift covering `now` (for a language / team if given)."""
    stmt = (
        select(RosterShift.officer_id)
        .join(Officer, Officer.id == RosterShift.officer_id)
        .where(Officer.active.is_(True), RosterShift.starts_at <= now, RosterShift.ends_at > now)
    )
    if language:
        stmt = stmt.where(RosterShift.language == language)
    if team_id is not None:
        stmt = stmt.where(
            or_(RosterShift.team_id == team_id, and_(RosterShift.team_id.is_(None), Officer.team_id == team_id))
        )
    return {int(r) for r in session.execute(stmt).scalars()}


def officers_on_duty(
    now: Optional[datetime] = None, language: Optional[str] = None, engine: Optional[Engine] = None
) -> set[int]:
    with session_scope(engine) as session:
        return on_duty_ids(session, now or utcnow(), language)
