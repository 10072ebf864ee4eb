"""Survivor side: consent, routing, references, idempotency, status and withdraw rules."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.reporting import intake, reference
from bot.reporting.draft import Consent
from bot.reporting.errors import ConsentRequired, InvalidDraft, NotFound
from bot.reporting.models import CaseKey, ReportCase
from bot.store.db import session_scope
from tests.reporting.conftest import audit_rows, consent, draft
from tests.unit.test_locales import lock_screen_hits


def count(engine: Any, model: Any) -> int:
    with session_scope(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.mark.parametrize("given,told", [(False, True), (True, False), (False, False)])
def test_no_consent_no_case_row(engine: Any, desk: Any, given: bool, told: bool) -> None:
    with pytest.raises(ConsentRequired):
        intake.submit("conv-x", draft(statement="words"), Consent(given=given, told_kept_after_exit=told),
                      channel="sms", language="en", country="KE", engine=engine)
    assert count(engine, ReportCase) == 0 and count(engine, CaseKey) == 0
    assert audit_rows(engine, "case_submit") == []


def test_bad_draft_stores_nothing(engine: Any, desk: Any) -> None:
    for bad in ({"incident_types": ["burglary"]}, {"when": "yesterday"}, {"contact": {"mode": "call"}},
                {"place": {"lat": 91, "lon": 0}}, {"statement": "x" * 4001}, {"colour": "red"},
                {"anonymous": True, "name": "Someone"}, {"contact": {"mode": "other_number"}}):
        with pytest.raises(InvalidDraft):
            intake.submit("conv-x", draft(**bad), consent(), channel="sms", language="en", country="KE", engine=engine)
    assert count(engine, ReportCase) == 0 and count(engine, CaseKey) == 0


def test_routed_to_nearest_desk_team(engine: Any, make_desk: Any, submit: Any) -> None:
    near = make_desk("Kibera desk", -1.313, 36.788)
    far = make_desk("Mombasa desk", -4.04, 39.67, region="Mombasa")
    _, result = submit()
    assert (result.team_id, result.desk_service_id, result.desk_name) == (near.team_id, near.service_id, "Kibera desk")
    _, coast = submit(place={"name": "Likoni", "lat": -4.08, "lon": 39.66, "region": "Mombasa", "country": "KE"})
    assert coast.team_id == far.team_id
    _, nowhere = submit(place=None)  # no place: still a desk of her country
    assert nowhere.team_id in (near.team_id, far.team_id)
    with session_scope(engine) as s:
        c = s.get(ReportCase, nowhere.case_id)
        assert c.status == "new" and c.country == "KE"


def test_unrouted_without_desk(engine: Any, submit: Any) -> None:
    _, result = submit()
    assert result.team_id is None and result.expected_hours == intake.UNROUTED_EXPECTED_HOURS


def test_reference_is_lock_screen_safe_and_unambiguous() -> None:
    refs = {reference.new_reference() for _ in range(3000)}
    assert len(refs) > 2900
    for ref in refs:
        assert reference.PATTERN.match(ref), ref
        assert lock_screen_hits(ref) == [] and lock_screen_hits(f"{ref} is your number") == []
        assert not set(ref) & set("AEIOUY01258BSZGLO6")
    assert reference.normalise(" k7 4qx ") is None  # Q is left out of the alphabet (it reads as O)
    assert reference.normalise("kx-4qx".replace("q", "r")) == "KX-4RX"
    assert reference.find_in("what's happening with KX-4RX please") == "KX-4RX"
    assert reference.find_in("hello there") is None


def test_reference_collision_retries(engine: Any, desk: Any, submit: Any, monkeypatch: Any) -> None:
    _, first = submit()
    sequence = iter([first.reference, first.reference, "XX-XXX"])
    monkeypatch.setattr(reference, "new_reference", lambda: next(sequence))
    _, second = submit()
    assert second.reference == "XX-XXX" != first.reference


def test_double_confirm_makes_one_case(engine: Any, desk: Any) -> None:
    args = dict(channel="sms", language="en", country="KE", engine=engine, submit_key="msg-1")
    a = intake.submit("conv-d", draft(), consent(), **args)
    b = intake.submit("conv-d", draft(), consent(), **args)
    assert a.case_id == b.case_id and count(engine, ReportCase) == 1
    c = intake.submit("conv-e", draft(), consent(), **args)  # same key, other conversation: a new case
    assert c.case_id != a.case_id


def test_status_only_for_her_conversation_or_code_word(engine: Any, desk: Any, submit: Any) -> None:
    from bot.safety.code_word import _hash
    from bot.store.models import SafetyState

    conv = "conv-" + secrets.token_hex(4)
    with session_scope(engine) as s:
        s.add(SafetyState(conversation_id=conv, code_word_hash=_hash(conv, "mango"), duress=False))
    _, result = submit(conv)
    assert intake.status(result.reference, conv, engine=engine).status == "new"
    assert intake.status(result.reference.lower().replace("-", " "), conv, engine=engine).reference == result.reference
    with pytest.raises(NotFound):
        intake.status(result.reference, "conv-other", engine=engine)  # a guessed reference
    with pytest.raises(NotFound):
        intake.status(result.reference, "conv-other", code_word="papaya", engine=engine)
    assert intake.status(result.reference, "conv-new-phone", code_word="Mango", engine=engine).status == "new"
    with pytest.raises(NotFound):
        intake.status("KX-4RX" if result.reference != "KX-4RX" else "KX-4RW", conv, engine=engine)
    denied = [(r.target_id, r.outcome) for r in audit_rows(engine, "case_denied")]
    assert denied == [(result.case_id, "status_other_conversation")] * 2 + [(None, "status_unknown")]
    assert len(audit_rows(engine, "case_status_check")) == 3


def test_code_word_guessing_is_capped(engine: Any, desk: Any, submit: Any) -> None:
    from bot.safety.code_word import _hash
    from bot.store.models import SafetyState

    conv = "conv-" + secrets.token_hex(4)
    with session_scope(engine) as s:
        s.add(SafetyState(conversation_id=conv, code_word_hash=_hash(conv, "mango"), duress=False))
    _, result = submit(conv)
    for guess in range(intake.MAX_DENIALS):
        with pytest.raises(NotFound):
            intake.status(result.reference, "conv-attacker", code_word=f"guess{guess}", engine=engine)
    with pytest.raises(NotFound):  # even the right word is refused for a while now
        intake.status(result.reference, "conv-attacker", code_word="mango", engine=engine)
    assert intake.status(result.reference, conv, engine=engine).status == "new"  # her own chat still works


def test_withdraw_deletes_everything(engine: Any, desk: Any, submit: Any) -> None:
    conv, result = submit(statement="my words")
    with pytest.raises(NotFound):
        intake.withdraw(result.reference, "conv-other", engine=engine)
    assert count(engine, ReportCase) == 1
    intake.withdraw(result.reference, conv, engine=engine)
    assert count(engine, ReportCase) == 0 and count(engine, CaseKey) == 0
    with pytest.raises(NotFound):
        intake.status(result.reference, conv, engine=engine)
    assert [r.target_id for r in audit_rows(engine, "case_withdraw")] == [result.case_id]


def test_quick_exit_does_not_reach_a_submitted_case(engine: Any, desk: Any, submit: Any, make_officer: Any) -> None:
    from bot.crypto import get_or_create_cipher
    from bot.reporting.desk import case_detail
    from bot.safety.erase import erase_conversation

    conv, result = submit(statement="kept for the desk")
    with session_scope(engine) as s:
        get_or_create_cipher(s, conv)
    erase_conversation(conv, engine)
    officer = make_officer(team_id=desk.team_id)
    assert case_detail(result.case_id, officer.id, engine=engine).statement == "kept for the desk"
    assert intake.status(result.reference, conv, engine=engine).status == "new"


def test_retention_shreds_old_cases_only(engine: Any, desk: Any, submit: Any) -> None:
    from datetime import datetime, timedelta, timezone

    from bot.reporting.desks import expire_cases

    _, old = submit(statement="old")
    later = datetime.now(timezone.utc) + timedelta(days=31)
    new = intake.submit("conv-late", draft(), consent(), channel="sms", language="en", country="KE",
                           engine=engine, now=later)
    assert expire_cases(30, engine=engine, now=later) == 1
    with session_scope(engine) as s:
        assert s.get(ReportCase, old.case_id) is None and s.get(CaseKey, old.case_id) is None
        assert s.get(ReportCase, new.case_id) is not None
    assert [r.target_id for r in audit_rows(engine, "case_expire")] == [old.case_id]


def test_region_kept_only_when_known(engine: Any, desk: Any, submit: Any) -> None:
    _, known = submit(place={"name": "Kibera", "region": "nairobi", "country": "KE"})
    _, free = submit(place={"name": "x", "region": "he lives at the blue gate", "country": "KE"})
    with session_scope(engine) as s:
        assert s.get(ReportCase, known.case_id).region == "Nairobi"
        assert s.get(ReportCase, free.case_id).region == "Nairobi"  # the desk's region, not her words
    raw = " ".join(str(v) for r in audit_rows(engine) for v in vars(r).values())
    assert "blue gate" not in raw
