"""The desk side of a case (officers): queue, detail, transitions, notes, contact, referrals.

Officers act on cases of their own team; supervisors read every case's status, never its
content; admins see no case. Every refusal is the same NotFound, audited as `case_denied`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional, TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.reporting import keys, views
from bot.reporting.common import deny, now_or, record, touch, write
from bot.reporting.errors import (
    ConsentRequired, ContactNotAllowed, InvalidRequest, InvalidTransition, NotFound, StaleCase,
)
from bot.reporting.models import (
    ACKNOWLEDGED, ANSWERS_CONTEXT, CASE_OUTCOMES, CLOSED, CONSENT_HOW, CONTACT, CONTACTED, NEW, NOTE,
    REFERRAL_NEXT, REFERRED, SHARE_FIELDS, STATEMENT_CONTEXT, STATUSES, TRANSITIONS, CaseEntry, Referral,
    ReportCase, entry_context,
)
from bot.reporting.ports import Officer
from bot.store.db import get_engine, session_scope

MAX_TEXT = 4000
T = TypeVar("T")


@dataclass(frozen=True)
class ReferralConsent:
    given: bool
    how: str  # chat | in_person | phone


@dataclass(frozen=True)
class ContactTarget:
    conversation_id: str
    channel: str
    language: str
    country: Optional[str]
    seq: int


class _Denied(Exception):
    def __init__(self, case_id: Optional[int], why: str) -> None:
        super().__init__(why)
        self.case_id, self.why = case_id, why


def _guarded(engine: Optional[Engine], officer_id: int, ip: Optional[str], fn: Callable[[], T]) -> T:
    """Run `fn`; a refusal inside is audited after its transaction ends, then raised as NotFound."""
    try:
        return fn()
    except _Denied as denied:
        deny(engine, actor_id=officer_id, case_id=denied.case_id, why=denied.why, ip=ip)
        raise NotFound("no such case") from None


def _officer(session: Session, officer_id: int) -> Officer:
    officer: Optional[Officer] = session.get(Officer, officer_id)
    if officer is None or not officer.active:
        raise _Denied(None, "no_officer")
    return officer


def _case(session: Session, case_id: int, officer: Officer, *, status_only: bool = False, lock: bool = False) -> ReportCase:
    """The case if this officer may see it (status_only: supervisors too)."""
    stmt = select(ReportCase).where(ReportCase.id == case_id)
    if lock and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    case: Optional[ReportCase] = session.execute(stmt).scalar_one_or_none()
    if case is None:
        raise _Denied(None, "unknown")
    if officer.role == "admin":
        raise _Denied(int(case.id), "admin")
    if officer.role == "supervisor":
        if status_only:
            return case
        raise _Denied(int(case.id), "supervisor_content")
    if officer.team_id is None or case.team_id != officer.team_id:
        raise _Denied(int(case.id), "other_team")
    return case


def _text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest("text is required")
    stripped = text.strip()
    if len(stripped) > MAX_TEXT or "\x00" in stripped:
        raise InvalidRequest(f"text is at most {MAX_TEXT} characters")
    return stripped


def _fenced(case: ReportCase, version: Any) -> None:
    if not isinstance(version, int) or isinstance(version, bool) or version != int(case.version):
        raise StaleCase("the case changed since you loaded it: reload")


# ------------------------------------------------------------------ reading


def team_queue(officer_id: int, *, include_closed: bool = False, engine: Optional[Engine] = None) -> list[views.CaseItem]:
    """Open cases of the officer's team, new first, then not-safe-now, then oldest."""
    with session_scope(engine or get_engine()) as session:
        officer = session.get(Officer, officer_id)
        if officer is None or not officer.active or officer.role != "officer" or officer.team_id is None:
            return []
        return views.team_cases(session, int(officer.team_id), now_or(None), include_closed)


def all_cases(officer_id: int, *, include_closed: bool = False, engine: Optional[Engine] = None) -> list[views.CaseItem]:
    """Every case's status (supervisors only; content-free)."""
    with session_scope(engine or get_engine()) as session:
        officer = session.get(Officer, officer_id)
        if officer is None or not officer.active or officer.role != "supervisor":
            return []
        return views.every_case(session, now_or(None), include_closed)


def case_status_view(case_id: int, officer_id: int, *, ip: Optional[str] = None, engine: Optional[Engine] = None) -> views.CaseItem:
    def run() -> views.CaseItem:
        with write(engine) as session:
            case = _case(session, case_id, _officer(session, officer_id), status_only=True)
            record(session, "case_view", actor_id=officer_id, case_id=int(case.id), team_id=case.team_id, outcome="status", ip=ip)
            return views.item(case, now_or(None))

    return _guarded(engine, officer_id, ip, run)


def _entries(session: Session, case: ReportCase, cipher: Any) -> list[views.EntryView]:
    rows = session.execute(select(CaseEntry).where(CaseEntry.case_id == case.id).order_by(CaseEntry.seq)).scalars()
    return [views.EntryView(r.seq, r.kind, r.officer_id, cipher.decrypt_text(r.body_ct, entry_context(int(case.id), r.seq)),
                            r.delivery, r.created_at) for r in rows]


def _referrals(session: Session, case_id: int) -> list[views.ReferralView]:
    from bot.directory.models import Service

    rows = session.execute(
        select(Referral, Service.name).outerjoin(Service, Service.id == Referral.service_id)
        .where(Referral.case_id == case_id).order_by(Referral.id)
    ).all()
    return [views.ReferralView(int(r.id), r.service_id, name, r.service_type, [s for s in r.shared.split(",") if s],
                               r.consent_by, r.consent_how, r.consent_at, r.recorded_by, r.status) for r, name in rows]


def case_detail(case_id: int, officer_id: int, *, ip: Optional[str] = None, engine: Optional[Engine] = None) -> views.CaseDetail:
    """Everything about a case, decrypted server-side, for an officer of its team (audited)."""

    def run() -> views.CaseDetail:
        with write(engine) as session:
            case = _case(session, case_id, _officer(session, officer_id))
            cipher = keys.load_cipher(session, int(case.id))
            if cipher is None:
                raise _Denied(int(case.id), "shredded")
            answers = json.loads(cipher.decrypt_text(case.answers_ct, ANSWERS_CONTEXT))
            statement = cipher.decrypt_text(case.statement_ct, STATEMENT_CONTEXT) if case.statement_ct else None
            contact = dict(answers.pop("contact", {}) or {})
            detail = views.CaseDetail(views.item(case, now_or(None)), answers, statement, contact,
                                      _entries(session, case, cipher), _referrals(session, int(case.id)), case.desk_service_id)
            record(session, "case_view", actor_id=officer_id, case_id=int(case.id), team_id=case.team_id, outcome="detail", ip=ip)
            return detail

    return _guarded(engine, officer_id, ip, run)


# ------------------------------------------------------------------ writing


def _move(case: ReportCase, to_status: str, officer_id: int, now: datetime) -> None:
    if to_status not in TRANSITIONS.get(case.status, ()):
        raise InvalidTransition(f"a {case.status} case cannot become {to_status}")
    if to_status == ACKNOWLEDGED:
        case.acknowledged_at, case.acknowledged_by = now, officer_id
    elif to_status == CONTACTED and case.first_contact_at is None:
        case.first_contact_at = now
    elif to_status == REFERRED:
        case.referred_at = now
    elif to_status == CLOSED:
        case.closed_at, case.closed_by = now, officer_id
    case.status = to_status


def transition(case_id: int, officer_id: int, to_status: str, *, version: int, outcome: Optional[str] = None,
               ip: Optional[str] = None, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> int:
    """Move the case along its workflow; returns the new version."""
    if to_status not in STATUSES:
        raise InvalidRequest("unknown status")
    if to_status == CLOSED and outcome not in CASE_OUTCOMES:
        raise InvalidRequest(f"closing needs an outcome: {', '.join(CASE_OUTCOMES)}")
    if to_status != CLOSED and outcome is not None:
        raise InvalidRequest("only closing takes an outcome")

    def run() -> int:
        at = now_or(now)
        with write(engine) as session:
            case = _case(session, case_id, _officer(session, officer_id), lock=True)
            _fenced(case, version)
            _move(case, to_status, officer_id, at)
            if to_status == CLOSED:
                case.outcome = outcome
            touch(session, case, at)
            word = f"closed:{outcome}" if to_status == CLOSED else to_status
            record(session, "case_status", actor_id=officer_id, case_id=int(case.id), team_id=case.team_id, outcome=word, ip=ip, now=at)
            return int(case.version)

    return _guarded(engine, officer_id, ip, run)


def _append(session: Session, case: ReportCase, kind: str, body: str, officer_id: int, now: datetime,
            delivery: Optional[str] = None) -> int:
    cipher = keys.load_cipher(session, int(case.id))
    if cipher is None:
        raise _Denied(int(case.id), "shredded")
    case.entry_seq = int(case.entry_seq or 0) + 1
    seq = int(case.entry_seq)
    session.add(CaseEntry(case_id=case.id, seq=seq, kind=kind, officer_id=officer_id, delivery=delivery,
                          body_ct=cipher.encrypt_text(body, entry_context(int(case.id), seq)), created_at=now))
    return seq


def add_note(case_id: int, officer_id: int, text: str, *, ip: Optional[str] = None, engine: Optional[Engine] = None,
             now: Optional[datetime] = None) -> int:
    """A private note on the case (never sent to her), under the case key; returns its seq."""
    body = _text(text)

    def run() -> int:
        at = now_or(now)
        with write(engine) as session:
            case = _case(session, case_id, _officer(session, officer_id), lock=True)
            if case.status == CLOSED:
                raise InvalidTransition("the case is closed")
            seq = _append(session, case, NOTE, body, officer_id, at)
            touch(session, case, at)
            record(session, "case_note", actor_id=officer_id, case_id=int(case.id), team_id=case.team_id, ip=ip, now=at)
            return seq

    return _guarded(engine, officer_id, ip, run)


def begin_contact(case_id: int, officer_id: int, text: str, *, version: int, confirm_safe_time: bool = False,
                  ip: Optional[str] = None, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> ContactTarget:
    """Check her contact choice and log the message (pending); the caller sends it through outbound."""
    body = _text(text)

    def run() -> ContactTarget:
        at = now_or(now)
        with write(engine) as session:
            case = _case(session, case_id, _officer(session, officer_id), lock=True)
            _fenced(case, version)
            if case.status == CLOSED:
                raise InvalidTransition("the case is closed")
            if case.contact_mode in ("none", "other_number"):
                raise ContactNotAllowed(
                    "she asked not to be contacted" if case.contact_mode == "none"
                    else "she asked to be reached on the number in the case, not in this chat"
                )
            if case.contact_mode == "safe_time" and not confirm_safe_time:
                raise ContactNotAllowed("confirm it is within the safe time she gave")
            seq = _append(session, case, CONTACT, body, officer_id, at, delivery="pending")
            touch(session, case, at)
            record(session, "case_contact", actor_id=officer_id, case_id=int(case.id), team_id=case.team_id, outcome="pending", ip=ip, now=at)
            return ContactTarget(case.conversation_id, case.channel, case.language, case.country, seq)

    return _guarded(engine, officer_id, ip, run)


def finish_contact(case_id: int, seq: int, delivery: str, error: Optional[str] = None, *,
                   engine: Optional[Engine] = None, now: Optional[datetime] = None) -> None:
    """Record how a contact went (sent | held | failed); a delivered one counts as first contact."""
    if delivery not in ("sent", "held", "failed"):
        raise InvalidRequest("delivery is sent, held or failed")
    at = now_or(now)
    with write(engine) as session:
        case = session.get(ReportCase, case_id)
        entry = session.execute(select(CaseEntry).where(CaseEntry.case_id == case_id, CaseEntry.seq == seq,
                                                        CaseEntry.kind == CONTACT)).scalar_one_or_none()
        if case is None or entry is None:
            return  # withdrawn meanwhile
        entry.delivery, entry.error = delivery, (error or None) and error[:64]
        if delivery == "sent":
            if case.status == NEW:
                _move(case, ACKNOWLEDGED, int(entry.officer_id or 0), at)
            if case.status == ACKNOWLEDGED:
                _move(case, CONTACTED, int(entry.officer_id or 0), at)
            case.first_contact_at = case.first_contact_at or at
        touch(session, case, at)
        record(session, "case_contact", actor_id=entry.officer_id, case_id=case_id, team_id=case.team_id, outcome=delivery, now=at)


def refer(case_id: int, officer_id: int, service_id: int, shared: list[str], consent: ReferralConsent, *,
          ip: Optional[str] = None, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> int:
    """Refer the case to a directory service with her consent (who, what is shared, when)."""
    if not isinstance(consent, ReferralConsent) or consent.given is not True:
        raise ConsentRequired("a referral needs her consent")
    if consent.how not in CONSENT_HOW:
        raise InvalidRequest(f"consent is given by {', '.join(CONSENT_HOW)}")
    if not isinstance(shared, list) or not shared or any(s not in SHARE_FIELDS for s in shared) or len(set(shared)) != len(shared):
        raise InvalidRequest(f"shared is a list of: {', '.join(SHARE_FIELDS)}")
    from bot.directory.models import Service

    def run() -> int:
        at = now_or(now)
        with write(engine) as session:
            case = _case(session, case_id, _officer(session, officer_id), lock=True)
            service = session.get(Service, service_id)
            if service is None or service.status != "active":
                raise InvalidRequest("no active directory service with that id")
            if case.status in (NEW, CLOSED):
                raise InvalidTransition("acknowledge the case first" if case.status == NEW else "the case is closed")
            ref = Referral(case_id=case.id, service_id=service.id, service_type=service.service_type,
                           shared=",".join(shared), consent_by="survivor", consent_how=consent.how, consent_at=at,
                           recorded_by=officer_id, status="proposed", created_at=at, updated_at=at)
            session.add(ref)
            session.flush()
            if case.status != REFERRED:
                _move(case, REFERRED, officer_id, at)
            touch(session, case, at)
            record(session, "case_refer", actor_id=officer_id, case_id=int(case.id), team_id=case.team_id,
                   outcome=service.service_type, ip=ip, now=at)
            return int(ref.id)

    return _guarded(engine, officer_id, ip, run)


def set_referral_status(case_id: int, referral_id: int, officer_id: int, status: str, *, ip: Optional[str] = None,
                        engine: Optional[Engine] = None, now: Optional[datetime] = None) -> None:
    if status not in REFERRAL_NEXT:
        raise InvalidRequest("unknown referral status")

    def run() -> None:
        at = now_or(now)
        with write(engine) as session:
            case = _case(session, case_id, _officer(session, officer_id), lock=True)
            ref = session.get(Referral, referral_id)
            if ref is None or ref.case_id != case.id:
                raise _Denied(int(case.id), "unknown_referral")
            if status not in REFERRAL_NEXT[ref.status]:
                raise InvalidTransition(f"a {ref.status} referral cannot become {status}")
            ref.status, ref.updated_at = status, at
            touch(session, case, at)
            record(session, "case_referral", actor_id=officer_id, case_id=int(case.id), team_id=case.team_id, outcome=status, ip=ip, now=at)

    _guarded(engine, officer_id, ip, run)
