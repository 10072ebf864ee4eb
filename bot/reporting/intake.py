"""The survivor side of a case: submit (with consent), status, withdraw (crypto-shred).

The only writer of new cases. Nothing is stored without her explicit consent; a report lives
under its own data key, so her conversation's erase (quick exit) never reaches it; withdrawing
shreds that key and deletes every row of the case.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional, Union

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.crypto import keyed_hash
from bot.reporting import keys, reference as refs, routing
from bot.reporting.common import deny, now_or, record, touch, write
from bot.reporting.draft import Consent, Draft
from bot.reporting.errors import ConsentRequired, InvalidDraft, NotFound
from bot.reporting.models import (
    ANSWERS_CONTEXT, STATEMENT_CONTEXT, CaseEntry, CaseKey, Referral, ReportCase,
)
from bot.reporting.ports import AuditEntry
from bot.store.db import checkpoint_sqlite, get_engine, session_scope
from bot.store.models import SafetyState

CHANNELS = ("sms", "whatsapp", "telegram", "rest", "console")
DEFAULT_EXPECTED_HOURS = 48
UNROUTED_EXPECTED_HOURS = 72
MAX_DENIALS = 5  # refused status/withdraw attempts on one case per window, then refuse all
DENIAL_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Submitted:
    case_id: int
    reference: str
    team_id: Optional[int]
    desk_service_id: Optional[int]
    desk_name: Optional[str]
    expected_hours: int


@dataclass(frozen=True)
class CaseStatus:
    reference: str
    status: str
    outcome: Optional[str]
    submitted_at: datetime
    updated_at: datetime
    referrals: int


@dataclass(frozen=True)
class Withdrawn:
    reference: str


def _pseudonym_key() -> bytes:
    from bot.settings import get_settings

    return get_settings().pseudonym_key


def _expected_hours(session: Session, team_id: Optional[int], now: datetime) -> int:
    """An honest estimate: the team's median time to acknowledge (last 90 days, 5+ cases)."""
    if team_id is None:
        return UNROUTED_EXPECTED_HOURS
    rows = session.execute(
        select(ReportCase.submitted_at, ReportCase.acknowledged_at).where(
            ReportCase.team_id == team_id, ReportCase.acknowledged_at.is_not(None),
            ReportCase.submitted_at > now - timedelta(days=90),
        ).limit(500)
    ).all()
    if len(rows) < 5:
        return DEFAULT_EXPECTED_HOURS
    median = statistics.median((a - s).total_seconds() / 3600 for s, a in rows)
    return max(1, int(median + 0.999))


def _insert(session: Session, values: dict[str, Any]) -> ReportCase:
    """Insert with a fresh unique reference (the unique constraint decides under races)."""
    for _ in range(20):
        ref = refs.new_reference()
        if session.execute(select(ReportCase.id).where(ReportCase.reference == ref)).first():
            continue
        case = ReportCase(reference=ref, **values)
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
        except IntegrityError:
            if values.get("submit_key") and _by_submit_key(session, values["submit_key"]) is not None:
                raise
            continue
        return case
    raise RuntimeError("no free case reference after 20 tries")


def _by_submit_key(session: Session, key: str) -> Optional[ReportCase]:
    case: Optional[ReportCase] = session.execute(select(ReportCase).where(ReportCase.submit_key == key)).scalar_one_or_none()
    return case


def submit(
    conversation_id: str,
    draft: Union[Draft, Mapping[str, Any]],
    consent: Consent,
    *,
    channel: str,
    language: str,
    country: Optional[str],
    submit_key: Optional[str] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Submitted:
    """Turn her confirmed draft into a case for the desk of her area; returns its reference."""
    if not (isinstance(consent, Consent) and consent.given is True and consent.told_kept_after_exit is True):
        raise ConsentRequired("a report needs her explicit consent")
    form = draft if isinstance(draft, Draft) else Draft.from_dict(draft)
    form.validate()
    if not conversation_id or len(conversation_id) > 64:
        raise InvalidDraft("conversation_id", "missing or too long")
    if channel not in CHANNELS:
        raise InvalidDraft("channel")
    if not language or len(language) > 8 or (country is not None and len(country) != 2):
        raise InvalidDraft("language" if not language or len(language) > 8 else "country")
    now = now_or(now)
    place = form.place
    country = (country or (place.country if place else None) or "").upper() or None
    hashed_key = keyed_hash(_pseudonym_key(), "case-submit", f"{conversation_id}\x1f{submit_key}") if submit_key else None
    engine = engine or get_engine()
    with session_scope(engine) as session:  # reads first: the write lock is held only to insert
        if hashed_key is not None:
            existing = _by_submit_key(session, hashed_key)
            if existing is not None:
                return _submitted(session, existing, now)
        where = routing.route(session, country, place.lat if place else None, place.lon if place else None,
                              place.region if place else None)
        safety = session.get(SafetyState, conversation_id)
        code_word_hash = safety.code_word_hash if safety is not None else None
    answers = json.dumps(form.answers(), sort_keys=True)
    values = dict(
        conversation_id=conversation_id, submit_key=hashed_key, code_word_hash=code_word_hash,
        channel=channel, language=language, country=country, region=where.region,
        incident_types=",".join(form.incident_types), when_band=form.when, age_band=form.age_band,
        relationship=form.relationship, safe_now=form.safe_now, needs_doctor=form.needs_doctor,
        anonymous=form.anonymous, contact_mode=form.contact.mode, answers_ct=b"",
        consent_version=consent.version[:16], consent_at=now, desk_service_id=where.service_id,
        team_id=where.team_id, status="new", version=0, entry_seq=0, submitted_at=now, updated_at=now,
    )
    with write(engine) as session:
        existing = _by_submit_key(session, hashed_key) if hashed_key is not None else None
        if existing is None:
            try:
                case = _insert(session, values)
            except IntegrityError:
                existing = _by_submit_key(session, hashed_key or "")
                assert existing is not None
        if existing is not None:
            case_id = int(existing.id)
        else:
            cipher = keys.create_cipher(session, int(case.id))
            case.answers_ct = cipher.encrypt_text(answers, ANSWERS_CONTEXT)
            if form.statement:
                case.statement_ct = cipher.encrypt_text(form.statement, STATEMENT_CONTEXT)
            touch(session, case, now)
            record(session, "case_submit", actor_type="survivor", case_id=int(case.id), team_id=where.team_id,
                   outcome="routed" if where.team_id else "unrouted", now=now)
            case_id = int(case.id)
    with session_scope(engine) as session:
        found = session.get(ReportCase, case_id)
        assert found is not None
        return _submitted(session, found, now, where.desk_name if existing is None else None)


def _submitted(session: Session, case: ReportCase, now: datetime, desk_name: Optional[str] = None) -> Submitted:
    if desk_name is None and case.desk_service_id is not None:
        from bot.directory.models import Service

        service = session.get(Service, case.desk_service_id)
        desk_name = service.name if service is not None else None
    return Submitted(int(case.id), case.reference, case.team_id, case.desk_service_id, desk_name,
                     _expected_hours(session, case.team_id, now))


def _code_word_matches(case: ReportCase, word: Optional[str]) -> bool:
    if not word or not case.code_word_hash:
        return False
    from bot.safety.code_word import _hash

    return bool(_hash(case.conversation_id, word) == case.code_word_hash)


def _authorised(session: Session, reference: str, conversation_id: str, code_word: Optional[str],
                engine: Optional[Engine], purpose: str) -> ReportCase:
    """Her case by reference, if she may see it; otherwise NotFound (audited)."""
    ref = refs.normalise(reference)
    case: Optional[ReportCase] = (
        session.execute(select(ReportCase).where(ReportCase.reference == ref)).scalar_one_or_none() if ref else None
    )
    if case is None:
        deny(engine, actor_id=None, actor_type="survivor", case_id=None, why=f"{purpose}_unknown")
        raise NotFound("no such report")
    if case.conversation_id == conversation_id:
        return case
    recent = session.execute(
        select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "case_denied", AuditEntry.target_id == case.id,
            AuditEntry.at > now_or(None) - DENIAL_WINDOW,
        )
    ).scalar_one()
    if recent < MAX_DENIALS and _code_word_matches(case, code_word):
        return case
    case_id = int(case.id)
    deny(engine, actor_id=None, actor_type="survivor", case_id=case_id, why=f"{purpose}_other_conversation")
    raise NotFound("no such report")


def status(reference: str, conversation_id: str, *, code_word: Optional[str] = None,
           engine: Optional[Engine] = None) -> CaseStatus:
    """Her report's status in words the form renders; NotFound unless it is hers."""
    engine = engine or get_engine()
    with session_scope(engine) as session:
        case = _authorised(session, reference, conversation_id, code_word, engine, "status")
        referrals = session.execute(select(func.count(Referral.id)).where(Referral.case_id == case.id)).scalar_one()
        result = CaseStatus(case.reference, case.status, case.outcome, case.submitted_at, case.updated_at, int(referrals))
        case_id, team_id = int(case.id), case.team_id
    with write(engine) as session:
        record(session, "case_status_check", actor_type="survivor", case_id=case_id, team_id=team_id, outcome=result.status)
    return result


def destroy(session: Session, case_id: int) -> None:
    """Shred the case key and delete every row of the case (inside the caller's transaction)."""
    keys.shred(session, case_id)
    session.execute(delete(CaseEntry).where(CaseEntry.case_id == case_id))
    session.execute(delete(Referral).where(Referral.case_id == case_id))
    session.execute(delete(CaseKey).where(CaseKey.case_id == case_id))
    session.execute(delete(ReportCase).where(ReportCase.id == case_id))
    session.info["haven_case_changed"] = True


def withdraw(reference: str, conversation_id: str, *, code_word: Optional[str] = None,
             engine: Optional[Engine] = None) -> Withdrawn:
    """Withdraw her report: crypto-shred its key, delete its rows, checkpoint the SQLite WAL."""
    engine = engine or get_engine()
    with session_scope(engine) as session:
        case = _authorised(session, reference, conversation_id, code_word, engine, "withdraw")
        case_id, ref = int(case.id), case.reference
    with write(engine) as session:
        case = session.get(ReportCase, case_id)
        if case is None:
            raise NotFound("no such report")
        team_id = case.team_id
        destroy(session, case_id)
        from bot.reporting import feed

        feed.signal(session, case_id)
        record(session, "case_withdraw", actor_type="survivor", case_id=case_id, team_id=team_id)
    checkpoint_sqlite(engine)
    return Withdrawn(ref)
