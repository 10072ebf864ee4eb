"""Fixtures for reporting: desks in the directory with their teams, officers, a submit helper."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Callable, Optional

import pytest

from tests.handoff.conftest import (  # noqa: F401  (shared fixtures)
    FakeOutbound, OfficerHandle, client_for, console_app, engine, make_officer, outbound,
)


@dataclass
class Desk:
    service_id: int
    team_id: int
    name: str


def add_service(engine: Any, name: str, service_type: str, lat: float, lon: float, *, desk: bool,
                country: str = "KE", region: str = "Nairobi") -> int:
    from bot.directory.models import Location, Organization, Service, ServiceAtLocation
    from bot.store.db import session_scope

    tag = secrets.token_hex(4)
    with session_scope(engine) as s:
        org = Organization(external_id=f"org-{tag}", name=f"{name} org", is_demo=True)
        s.add(org)
        s.flush()
        svc = Service(external_id=f"svc-{tag}", organization_id=org.id, name=name, service_type=service_type,
                      status="active", desk=desk, is_demo=True)
        loc = Location(external_id=f"loc-{tag}", organization_id=org.id, country=country, region=region,
                       latitude=lat, longitude=lon, time_zone="Africa/Nairobi")
        s.add_all([svc, loc])
        s.flush()
        s.add(ServiceAtLocation(service_id=svc.id, location_id=loc.id))
        return int(svc.id)


@pytest.fixture
def make_desk(engine: Any) -> Callable[..., Desk]:
    from bot.staff.roster import add_team
    from bot.reporting.desks import set_desk_team

    def make(name: str, lat: float, lon: float, region: str = "Nairobi", country: str = "KE") -> Desk:
        service_id = add_service(engine, name, "gender_desk", lat, lon, desk=True, country=country, region=region)
        team_id = add_team(f"team {name} {secrets.token_hex(2)}", engine)
        set_desk_team(str(service_id), team_id, engine=engine)
        return Desk(service_id, team_id, name)

    return make


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:
    return make_desk("Central desk", -1.286, 36.817)


CONSENT = None


def consent() -> Any:
    from bot.reporting.draft import Consent

    return Consent(given=True, told_kept_after_exit=True)


def draft(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "incident_types": ["physical_assault", "psychological_abuse"], "when": "this_week",
        "place": {"name": "Kibera", "lat": -1.31, "lon": 36.79, "region": "Nairobi", "country": "KE"},
        "safe_now": True, "needs_doctor": False, "relationship": "partner", "age_band": "25-39",
        "contact": {"mode": "chat"}, "statement": None,
    }
    base.update(over)
    return base


@pytest.fixture
def submit(engine: Any) -> Callable[..., Any]:
    from bot.reporting.intake import submit as do_submit

    def run(conversation_id: Optional[str] = None, channel: str = "sms", **over: Any) -> Any:
        conv = conversation_id or "conv-" + secrets.token_hex(6)
        result = do_submit(conv, draft(**over), consent(), channel=channel, language="en", country="KE", engine=engine)
        return conv, result

    return run


def audit_rows(engine: Any, action: Optional[str] = None) -> list[Any]:
    from sqlalchemy import select

    from bot.reporting.ports import AuditEntry
    from bot.store.db import session_scope

    with session_scope(engine) as s:
        stmt = select(AuditEntry).order_by(AuditEntry.at, AuditEntry.chain, AuditEntry.seq)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        return list(s.execute(stmt).scalars())
