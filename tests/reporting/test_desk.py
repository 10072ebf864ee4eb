"""Desk side: workflow, fencing, roles and IDOR (404 + audited), referrals with consent, contact rules."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.reporting import desk as svc
from bot.reporting.desk import ReferralConsent
from bot.reporting.errors import (
    ConsentRequired, ContactNotAllowed, InvalidRequest, InvalidTransition, NotFound, StaleCase,
)
from bot.reporting.models import CaseEntry, Referral, ReportCase
from bot.store.db import session_scope
from tests.reporting.conftest import add_service, audit_rows

MARK = "MARKER-CASE-STATEMENT-5512"


def test_full_workflow(engine: Any, desk: Any, submit: Any, make_officer: Any) -> None:
    officer = make_officer(team_id=desk.team_id)
    clinic = add_service(engine, "Clinic", "hospital", -1.3, 36.8, desk=False)
    _, case = submit(statement=MARK)
    assert [c.id for c in svc.team_queue(officer.id, engine=engine)] == [case.case_id]
    detail = svc.case_detail(case.case_id, officer.id, engine=engine)
    assert detail.statement == MARK and detail.answers["incident_types"] == ["physical_assault", "psychological_abuse"]
    assert detail.answers["place"]["name"] == "Kibera" and detail.contact["mode"] == "chat"
    v = detail.item.version
    with pytest.raises(InvalidTransition):
        svc.transition(case.case_id, officer.id, "referred", version=v, engine=engine)
    v = svc.transition(case.case_id, officer.id, "acknowledged", version=v, engine=engine)
    with pytest.raises(StaleCase):
        svc.transition(case.case_id, officer.id, "contacted", version=v - 1, engine=engine)
    v = svc.transition(case.case_id, officer.id, "contacted", version=v, engine=engine)
    seq = svc.add_note(case.case_id, officer.id, "called back at noon", engine=engine)
    rid = svc.refer(case.case_id, officer.id, clinic, ["incident_types", "when"], ReferralConsent(True, "chat"), engine=engine)
    svc.set_referral_status(case.case_id, rid, officer.id, "sent", engine=engine)
    with pytest.raises(InvalidTransition):
        svc.set_referral_status(case.case_id, rid, officer.id, "completed", engine=engine)
    detail = svc.case_detail(case.case_id, officer.id, engine=engine)
    assert detail.item.status == "referred"
    assert [(e.seq, e.kind, e.text) for e in detail.entries] == [(seq, "note", "called back at noon")]
    (ref,) = detail.referrals
    assert (ref.service_id, ref.service_type, ref.shared, ref.consent_by, ref.consent_how, ref.recorded_by, ref.status) == (
        clinic, "hospital", ["incident_types", "when"], "survivor", "chat", officer.id, "sent")
    with pytest.raises(InvalidRequest):
        svc.transition(case.case_id, officer.id, "closed", version=detail.item.version, engine=engine)  # no outcome
    svc.transition(case.case_id, officer.id, "closed", version=detail.item.version, outcome="referred", engine=engine)
    with session_scope(engine) as s:
        row = s.get(ReportCase, case.case_id)
        assert (row.status, row.outcome) == ("closed", "referred")
        assert row.acknowledged_at <= row.first_contact_at <= row.referred_at <= row.closed_at
    assert svc.team_queue(officer.id, engine=engine) == []
    words = [r.outcome for r in audit_rows(engine, "case_status")]
    assert words == ["acknowledged", "contacted", "closed:referred"]


def test_idor_and_roles_are_404_and_audited(engine: Any, make_desk: Any, submit: Any, make_officer: Any) -> None:
    mine, theirs = make_desk("Desk A", -1.31, 36.79), make_desk("Desk B", -4.04, 39.67, region="Mombasa")
    _, case = submit(statement=MARK)
    assert case.team_id == mine.team_id
    other = make_officer(team_id=theirs.team_id)
    supervisor = make_officer(role="supervisor")
    admin = make_officer(role="admin")
    loner = make_officer()  # an officer in no team
    for who, why in ((other, "other_team"), (supervisor, "supervisor_content"), (admin, "admin"), (loner, "other_team")):
        with pytest.raises(NotFound):
            svc.case_detail(case.case_id, who.id, ip="192.0.2.7", engine=engine)
    with pytest.raises(NotFound):
        svc.case_detail(case.case_id + 999, other.id, engine=engine)
    for call in (
        lambda: svc.transition(case.case_id, other.id, "acknowledged", version=1, engine=engine),
        lambda: svc.add_note(case.case_id, supervisor.id, "note", engine=engine),
        lambda: svc.case_status_view(case.case_id, admin.id, engine=engine),
        lambda: svc.case_status_view(case.case_id, other.id, engine=engine),
    ):
        with pytest.raises(NotFound):
            call()
    denied = [(r.actor_id, r.target_id, r.outcome) for r in audit_rows(engine, "case_denied")]
    assert denied == [
        (other.id, case.case_id, "other_team"), (supervisor.id, case.case_id, "supervisor_content"),
        (admin.id, case.case_id, "admin"), (loner.id, case.case_id, "other_team"), (other.id, None, "unknown"),
        (other.id, case.case_id, "other_team"), (supervisor.id, case.case_id, "supervisor_content"),
        (admin.id, case.case_id, "admin"), (other.id, case.case_id, "other_team"),
    ]
    # Supervisors see status, never content; the other team's queue does not list it.
    assert svc.case_status_view(case.case_id, supervisor.id, engine=engine).status == "new"
    assert [c.id for c in svc.all_cases(supervisor.id, engine=engine)] == [case.case_id]
    assert svc.all_cases(admin.id, engine=engine) == [] and svc.team_queue(other.id, engine=engine) == []
    assert svc.team_queue(admin.id, engine=engine) == [] and svc.team_queue(supervisor.id, engine=engine) == []
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(CaseEntry)).scalar_one() == 0


def test_referral_needs_consent_and_valid_input(engine: Any, desk: Any, submit: Any, make_officer: Any) -> None:
    officer = make_officer(team_id=desk.team_id)
    shelter = add_service(engine, "Shelter", "shelter", -1.3, 36.8, desk=False)
    _, case = submit()
    with pytest.raises(InvalidTransition):  # a new case is acknowledged first
        svc.refer(case.case_id, officer.id, shelter, ["when"], ReferralConsent(True, "chat"), engine=engine)
    svc.transition(case.case_id, officer.id, "acknowledged", version=1, engine=engine)
    with pytest.raises(ConsentRequired):
        svc.refer(case.case_id, officer.id, shelter, ["when"], ReferralConsent(False, "chat"), engine=engine)
    for shared, how, service in ((["when", "address"], "chat", shelter), ([], "chat", shelter),
                                 (["when"], "carrier pigeon", shelter), (["when"], "chat", 999999)):
        with pytest.raises(InvalidRequest):
            svc.refer(case.case_id, officer.id, service, shared, ReferralConsent(True, how), engine=engine)
    with session_scope(engine) as s:
        assert s.execute(select(func.count()).select_from(Referral)).scalar_one() == 0
        assert s.get(ReportCase, case.case_id).status == "acknowledged"


def test_contact_respects_her_choice(engine: Any, desk: Any, submit: Any, make_officer: Any) -> None:
    officer = make_officer(team_id=desk.team_id)
    _, none = submit(contact={"mode": "none"})
    _, other = submit(contact={"mode": "other_number", "number": "+15555550123"})
    _, later = submit(contact={"mode": "safe_time", "safe_time": "after 6pm"})
    _, chat = submit()
    for case in (none, other):
        with pytest.raises(ContactNotAllowed):
            svc.begin_contact(case.case_id, officer.id, "Hello", version=1, engine=engine)
    with pytest.raises(ContactNotAllowed):
        svc.begin_contact(later.case_id, officer.id, "Hello", version=1, engine=engine)
    target = svc.begin_contact(later.case_id, officer.id, "Hello", version=1, confirm_safe_time=True, engine=engine)
    assert target.channel == "sms" and target.seq == 1
    svc.finish_contact(later.case_id, target.seq, "sent", engine=engine)
    t2 = svc.begin_contact(chat.case_id, officer.id, "Hello", version=1, engine=engine)
    svc.finish_contact(chat.case_id, t2.seq, "failed", "ContactStopped", engine=engine)
    with session_scope(engine) as s:
        sent, failed = s.get(ReportCase, later.case_id), s.get(ReportCase, chat.case_id)
        assert (sent.status, sent.first_contact_at is not None) == ("contacted", True)
        assert (failed.status, failed.first_contact_at) == ("new", None)
    detail = svc.case_detail(other.case_id, officer.id, engine=engine)
    assert detail.contact["number"] == "+15555550123"  # the officer sees the number she gave, decrypted
    with pytest.raises(InvalidRequest):
        svc.add_note(chat.case_id, officer.id, "   ", engine=engine)


def test_audit_is_content_free_and_verifies(engine: Any, desk: Any, submit: Any, make_officer: Any) -> None:
    from bot.reporting.ports import audit

    officer = make_officer(team_id=desk.team_id)
    _, case = submit(statement=MARK)
    svc.add_note(case.case_id, officer.id, MARK + " note", engine=engine)
    svc.case_detail(case.case_id, officer.id, engine=engine)
    rows = audit_rows(engine)
    assert {"case_submit", "case_note", "case_view"} <= {r.action for r in rows}
    flat = " ".join(str(v) for r in rows for v in vars(r).values())
    assert MARK not in flat and "Kibera" not in flat
    assert audit.verify(engine).ok
