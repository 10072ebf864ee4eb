"""Operator tasks: which team works which desk, re-routing an unrouted case, case retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.reporting.common import now_or, record, touch, write
from bot.reporting.errors import InvalidRequest, NotFound
from bot.reporting.models import DeskTeam, ReportCase
from bot.store.db import checkpoint_sqlite, get_engine, session_scope

DEFAULT_RETENTION_DAYS = 365


@dataclass(frozen=True)
class DeskView:
    service_id: int
    external_id: str
    name: str
    service_type: str
    country: Optional[str]
    team_id: Optional[int]


def set_desk_team(service_ref: str, team_id: int, *, actor_id: Optional[int] = None, engine: Optional[Engine] = None) -> int:
    """Let `team_id` work the cases of a directory service flagged `desk` (by id or external id)."""
    from bot.directory.models import Service
    from bot.handoff.models import Team

    with write(engine) as session:
        stmt = select(Service).where(Service.external_id == service_ref)
        service = session.execute(stmt).scalar_one_or_none()
        if service is None and service_ref.isdigit():
            service = session.get(Service, int(service_ref))
        if service is None:
            raise InvalidRequest("no directory service with that id")
        if not service.desk:
            raise InvalidRequest("that service is not flagged `desk` in the directory")
        if session.get(Team, team_id) is None:
            raise InvalidRequest("no team with that id")
        row = session.get(DeskTeam, service.id)
        if row is None:
            session.add(DeskTeam(service_id=service.id, team_id=team_id, created_at=now_or(None)))
        else:
            row.team_id = team_id
        record(session, "case_route", actor_id=actor_id, actor_type=None if actor_id else "cli", team_id=team_id,
               outcome="desk_team")
        return int(service.id)


def list_desks(engine: Optional[Engine] = None) -> list[DeskView]:
    from bot.directory.models import Location, Service, ServiceAtLocation

    with session_scope(engine or get_engine()) as session:
        rows = session.execute(
            select(Service.id, Service.external_id, Service.name, Service.service_type, DeskTeam.team_id)
            .outerjoin(DeskTeam, DeskTeam.service_id == Service.id)
            .where(Service.desk.is_(True)).order_by(Service.name)
        ).all()
        out = []
        for sid, ext, name, stype, team in rows:
            country = session.execute(
                select(Location.country).join(ServiceAtLocation, ServiceAtLocation.location_id == Location.id)
                .where(ServiceAtLocation.service_id == sid).limit(1)
            ).scalar_one_or_none()
            out.append(DeskView(int(sid), ext, name, stype, country, team))
        return out


def route_case(reference: str, team_id: int, *, actor_id: Optional[int] = None, engine: Optional[Engine] = None) -> None:
    """Give a case (e.g. an unrouted one) to a team."""
    from bot.handoff.models import Team
    from bot.reporting.reference import normalise

    ref = normalise(reference)
    with write(engine) as session:
        case = session.execute(select(ReportCase).where(ReportCase.reference == ref)).scalar_one_or_none() if ref else None
        if case is None:
            raise NotFound("no such case")
        if session.get(Team, team_id) is None:
            raise InvalidRequest("no team with that id")
        case.team_id = team_id
        touch(session, case, now_or(None))
        record(session, "case_route", actor_id=actor_id, actor_type=None if actor_id else "cli", case_id=int(case.id),
               team_id=team_id, outcome="case")


def retention_days() -> int:
    from bot.settings import get_settings

    return int(getattr(get_settings(), "case_retention_days", DEFAULT_RETENTION_DAYS))


def expire_cases(days: Optional[int] = None, *, engine: Optional[Engine] = None, now: Optional[datetime] = None,
                 batch: int = 200) -> int:
    """Crypto-shred and delete every case submitted more than `days` ago; returns how many."""
    from bot.reporting.intake import destroy

    engine = engine or get_engine()
    days = retention_days() if days is None else days
    if days < 1:
        raise InvalidRequest("retention is at least one day")
    cutoff = now_or(now) - timedelta(days=days)
    count = 0
    while True:
        with write(engine) as session:
            ids = list(session.execute(
                select(ReportCase.id, ReportCase.team_id).where(ReportCase.submitted_at < cutoff).limit(batch)
            ).all())
            for case_id, team_id in ids:
                destroy(session, int(case_id))
                record(session, "case_expire", actor_type="system", case_id=int(case_id), team_id=team_id)
        count += len(ids)
        if len(ids) < batch:
            break
    if count:
        checkpoint_sqlite(engine)
    return count
