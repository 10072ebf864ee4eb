"""Read models for the desk: content-free queue items, and the decrypted case detail."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Optional

from sqlalchemy import case as sql_case, select
from sqlalchemy.orm import Session

from bot.reporting.models import CLOSED, OPEN_STATUSES, ReportCase

STATUS_RANK = {"new": 0, "acknowledged": 1, "contacted": 2, "referred": 3, "closed": 4}


@dataclass(frozen=True)
class CaseItem:
    """One queue row: no answers, no statement, no contact details."""

    id: int
    reference: str
    status: str
    outcome: Optional[str]
    team_id: Optional[int]
    channel: str
    language: str
    incident_types: list[str]
    safe_now: Optional[bool]
    submitted_at: datetime
    updated_at: datetime
    version: int
    waiting_seconds: int

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["submitted_at"], out["updated_at"] = self.submitted_at.isoformat(), self.updated_at.isoformat()
        return out


@dataclass(frozen=True)
class EntryView:
    seq: int
    kind: str
    officer_id: Optional[int]
    text: str
    delivery: Optional[str]
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class ReferralView:
    id: int
    service_id: Optional[int]
    service_name: Optional[str]
    service_type: str
    shared: list[str]
    consent_by: str
    consent_how: str
    consent_at: datetime
    recorded_by: int
    status: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "consent_at": self.consent_at.isoformat()}


@dataclass(frozen=True)
class CaseDetail:
    item: CaseItem
    answers: dict[str, Any]
    statement: Optional[str]
    contact: dict[str, Any]
    entries: list[EntryView] = field(default_factory=list)
    referrals: list[ReferralView] = field(default_factory=list)
    desk_service_id: Optional[int] = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.item.as_dict(), "answers": self.answers, "statement": self.statement, "contact": self.contact,
            "entries": [e.as_dict() for e in self.entries], "referrals": [r.as_dict() for r in self.referrals],
            "desk_service_id": self.desk_service_id,
        }


def item(case: ReportCase, now: datetime) -> CaseItem:
    return CaseItem(
        id=int(case.id), reference=case.reference, status=case.status, outcome=case.outcome, team_id=case.team_id,
        channel=case.channel, language=case.language,
        incident_types=[t for t in (case.incident_types or "").split(",") if t], safe_now=case.safe_now,
        submitted_at=case.submitted_at, updated_at=case.updated_at, version=int(case.version),
        waiting_seconds=max(0, int(((case.closed_at or now) - case.submitted_at).total_seconds())),
    )


def _ordered(stmt: Any) -> Any:
    rank = sql_case({k: v for k, v in STATUS_RANK.items()}, value=ReportCase.status, else_=9)
    danger = sql_case((ReportCase.safe_now.is_(False), 0), else_=1)
    return stmt.order_by(rank, danger, ReportCase.submitted_at, ReportCase.id)


def team_cases(session: Session, team_id: int, now: datetime, include_closed: bool = False, limit: int = 500) -> list[CaseItem]:
    stmt = select(ReportCase).where(ReportCase.team_id == team_id)
    if not include_closed:
        stmt = stmt.where(ReportCase.status.in_(OPEN_STATUSES))
    return [item(c, now) for c in session.execute(_ordered(stmt).limit(limit)).scalars()]


def every_case(session: Session, now: datetime, include_closed: bool = False, limit: int = 1000) -> list[CaseItem]:
    stmt = select(ReportCase)
    if not include_closed:
        stmt = stmt.where(ReportCase.status != CLOSED)
    return [item(c, now) for c in session.execute(_ordered(stmt).limit(limit)).scalars()]


REFERRAL_TYPES = ("hospital", "shelter", "legal_aid", "counselling", "one_stop_centre", "gender_desk", "hotline", "police")


def referral_services(engine: Any, service_type: Optional[str] = None) -> list[dict[str, Any]]:
    """Active directory services an officer may refer to (public fields only)."""
    from bot.directory.models import Service
    from bot.store.db import session_scope

    with session_scope(engine) as session:
        stmt = select(Service.id, Service.name, Service.service_type).where(
            Service.status == "active", Service.service_type.in_(REFERRAL_TYPES))
        if service_type:
            stmt = stmt.where(Service.service_type == service_type)
        return [{"id": i, "name": n, "service_type": t} for i, n, t in session.execute(stmt.order_by(Service.name).limit(500))]


def conversation_of_case(engine: Any, case_id: int) -> Any:
    """The conversation that submitted a case (None if it is gone)."""
    from bot.store.db import session_scope

    with session_scope(engine) as session:
        case = session.get(ReportCase, case_id)
        return case.conversation_id if case is not None else None
