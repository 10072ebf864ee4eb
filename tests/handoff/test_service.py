"""The queue's rules, one at a time, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot import audit
from bot.staff.models import AuditEntry
from bot.handoff import queue, service
from bot.handoff.models import CLAIMED, CLOSED, QUEUED, Handoff, HandoffMessage
from bot.safety.gate import Inbound
from bot.store.db import session_scope
from tests.handoff.conftest import MARKER

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


def enqueue(engine, cid, risk=None, at=T0, language="en", **kw):
    return service.enqueue(cid, channel="sms", language=language, risk=risk, engine=engine, now=at, **kw)


def test_priority_then_fifo(engine, make_officer):
    officer = make_officer()
    enqueue(engine, "c-other-1", None, T0)
    enqueue(engine, "c-disclosed", "disclosed", T0 + timedelta(seconds=1))
    enqueue(engine, "c-other-2", None, T0 + timedelta(seconds=2))
    enqueue(engine, "c-danger", "danger", T0 + timedelta(seconds=3))
    order = []
    for i in range(4):
        claim = service.claim_next(officer.id, engine=engine, now=T0 + timedelta(seconds=10 + i))
        with session_scope(engine) as s:
            order.append(s.get(Handoff, claim.handoff_id).conversation_id)
    assert order == ["c-danger", "c-disclosed", "c-other-1", "c-other-2"]
    assert service.claim_next(officer.id, engine=engine, now=T0 + timedelta(seconds=20)) is None


def test_enqueue_is_idempotent_and_escalates(engine):
    first = enqueue(engine, "c1", None)
    again = enqueue(engine, "c1", "danger", T0 + timedelta(minutes=5))
    assert again.handoff_id == first.handoff_id and not again.created and again.priority == 0
    with session_scope(engine) as s:
        h = s.get(Handoff, first.handoff_id)
        assert h.enqueued_at == T0  # age kept when escalated


def test_fencing_rejects_stale_owner_after_expiry(engine, make_officer):
    a, b = make_officer(), make_officer()
    hid = enqueue(engine, "c1").handoff_id
    claim_a = service.claim(hid, a.id, engine=engine, now=T0, lease_seconds=60)
    # A's lease lapses; the expiry job puts it back with its original age and priority.
    assert service.expire_leases(engine=engine, now=T0 + timedelta(seconds=61)) == [hid]
    with session_scope(engine) as s:
        h = s.get(Handoff, hid)
        assert (h.status, h.officer_id, h.enqueued_at, h.priority) == (QUEUED, None, T0, 2)
    claim_b = service.claim_next(b.id, engine=engine, now=T0 + timedelta(seconds=62))
    assert claim_b.handoff_id == hid and claim_b.version > claim_a.version
    for write in (
        lambda: service.reply(hid, a.id, claim_a.version, "late", engine=engine, now=T0 + timedelta(seconds=63)),
        lambda: service.renew(hid, a.id, claim_a.version, engine=engine, now=T0 + timedelta(seconds=63)),
        lambda: service.close(hid, a.id, claim_a.version, "referred", engine=engine, now=T0 + timedelta(seconds=63)),
        lambda: service.release(hid, a.id, claim_a.version, engine=engine, now=T0 + timedelta(seconds=63)),
        # even with the current version, A is not the owner
        lambda: service.reply(hid, a.id, claim_b.version, "late", engine=engine, now=T0 + timedelta(seconds=63)),
    ):
        with pytest.raises(service.StaleClaim):
            write()
    service.close(hid, b.id, claim_b.version, "referred", engine=engine, now=T0 + timedelta(seconds=64))


def test_lapsed_lease_is_claimable_before_the_expiry_job(engine, make_officer):
    a, b = make_officer(), make_officer()
    hid = enqueue(engine, "c1").handoff_id
    claim_a = service.claim(hid, a.id, engine=engine, now=T0, lease_seconds=30)
    with pytest.raises(service.NotClaimable):
        service.claim(hid, b.id, engine=engine, now=T0 + timedelta(seconds=10))
    claim_b = service.claim(hid, b.id, engine=engine, now=T0 + timedelta(seconds=31))
    assert claim_b.version == claim_a.version + 1
    with pytest.raises(service.StaleClaim):
        service.renew(hid, a.id, claim_a.version, engine=engine, now=T0 + timedelta(seconds=32))


def test_release_and_transfer(engine, make_officer):
    from bot.staff.roster import add_team

    a, b = make_officer(), make_officer()
    team = add_team("north", engine)
    c = make_officer(team_id=team)
    hid = enqueue(engine, "c1", "disclosed").handoff_id
    claim = service.claim(hid, a.id, engine=engine, now=T0)
    service.release(hid, a.id, claim.version, engine=engine, now=T0 + timedelta(seconds=1))
    claim = service.claim_next(a.id, engine=engine, now=T0 + timedelta(seconds=2))
    moved = service.transfer(hid, a.id, claim.version, to_officer_id=b.id, engine=engine, now=T0 + timedelta(seconds=3))
    assert moved.officer_id == b.id
    with pytest.raises(service.StaleClaim):
        service.reply(hid, a.id, claim.version, "x", engine=engine, now=T0 + timedelta(seconds=4))
    service.transfer(hid, b.id, moved.version, to_team_id=team, engine=engine, now=T0 + timedelta(seconds=5))
    # routed to the team: an officer outside it cannot take it, one inside can
    assert service.claim_next(a.id, engine=engine, now=T0 + timedelta(seconds=6)) is None
    with pytest.raises(service.NotClaimable):
        service.claim(hid, a.id, engine=engine, now=T0 + timedelta(seconds=6))
    assert service.claim_next(c.id, engine=engine, now=T0 + timedelta(seconds=7)).handoff_id == hid
    with session_scope(engine) as s:
        assert s.get(Handoff, hid).enqueued_at == T0


def test_supervisor_reassign_needs_current_version(engine, make_officer):
    a, b = make_officer(), make_officer()
    sup = make_officer("supervisor")
    hid = enqueue(engine, "c1").handoff_id
    claim = service.claim(hid, a.id, engine=engine, now=T0)
    with pytest.raises(service.StaleClaim):
        service.transfer(hid, sup.id, claim.version - 1, to_officer_id=b.id, as_supervisor=True, engine=engine, now=T0)
    with pytest.raises(service.InvalidRequest):  # taking it from a live claimant needs a reason
        service.transfer(hid, sup.id, claim.version, to_officer_id=b.id, as_supervisor=True, engine=engine, now=T0)
    service.transfer(hid, sup.id, claim.version, to_officer_id=b.id, as_supervisor=True, reason="workload",
                     engine=engine, now=T0)
    with pytest.raises(service.StaleClaim):
        service.reply(hid, a.id, claim.version, "x", engine=engine, now=T0)


def test_admin_cannot_take_conversations(engine, make_officer):
    admin = make_officer("admin")
    enqueue(engine, "c1")
    with pytest.raises(service.NotClaimable):
        service.claim_next(admin.id, engine=engine, now=T0)


def test_language_routing(engine, make_officer):
    sw = make_officer(languages=("sw",))
    enqueue(engine, "c-en", language="en")
    assert service.claim_next(sw.id, engine=engine, now=T0) is None
    enqueue(engine, "c-sw", language="sw", at=T0 + timedelta(seconds=1))
    assert service.claim_next(sw.id, engine=engine, now=T0 + timedelta(seconds=2)) is not None


def test_transcript_encrypted_and_claimant_only(engine, make_officer):
    a, b = make_officer(), make_officer()
    hid = enqueue(engine, "c1", summary="asked about services").handoff_id
    claim = service.claim(hid, a.id, engine=engine, now=T0)
    assert service.append_survivor_message("c1", MARKER, engine=engine, now=T0) is not None
    service.reply(hid, a.id, claim.version, "officer says hi", engine=engine, now=T0)
    service.add_note(hid, a.id, claim.version, "private note", engine=engine, now=T0)
    with session_scope(engine) as s:
        blobs = [m.body_ct for m in s.execute(select(HandoffMessage)).scalars()]
        assert blobs and all(MARKER.encode() not in blob for blob in blobs)
    detail = queue.claimant_view(hid, a.id, engine=engine, now=T0)
    assert [m.kind for m in detail.messages] == ["survivor", "officer", "note"]
    assert detail.messages[0].text == MARKER and detail.summary == "asked about services"
    with pytest.raises(queue.AccessDenied):
        queue.claimant_view(hid, b.id, engine=engine, now=T0)
    # a ciphertext moved to another row does not decrypt (row-bound AAD)
    with session_scope(engine) as s:
        rows = s.execute(select(HandoffMessage).order_by(HandoffMessage.seq)).scalars().all()
        rows[1].body_ct = rows[0].body_ct
    assert queue.claimant_view(hid, a.id, engine=engine, now=T0).messages[1].text == ""


def test_cancel_only_while_queued(engine, make_officer):
    a = make_officer()
    enqueue(engine, "c1")
    assert service.cancel("c1", engine=engine, now=T0)
    assert not service.cancel("c1", engine=engine, now=T0)
    hid = enqueue(engine, "c1", at=T0 + timedelta(seconds=1)).handoff_id  # a new request is a new handoff
    service.claim(hid, a.id, engine=engine, now=T0 + timedelta(seconds=2))
    assert not service.cancel("c1", engine=engine, now=T0 + timedelta(seconds=3))


@pytest.mark.asyncio
async def test_relay_only_when_claimed(engine, make_officer, monkeypatch):
    a = make_officer()
    hid = enqueue(engine, "c1").handoff_id
    inbound = Inbound(channel="sms", conversation_id="c1", text=MARKER)
    assert await service.relay_inbound_if_active(inbound) is False  # queued: the bot still answers
    service.claim(hid, a.id, engine=engine)
    assert await service.relay_inbound_if_active(inbound) is True
    assert await service.relay_inbound_if_active(Inbound(channel="sms", conversation_id="other", text="x")) is False


def test_erase_hook_closes_as_left_and_drops_content(engine, make_officer):
    from bot.safety.erase import erase_conversation

    a = make_officer()
    hid = enqueue(engine, "c1", summary="summary").handoff_id
    claim = service.claim(hid, a.id, engine=engine)
    service.append_survivor_message("c1", MARKER, engine=engine)
    erase_conversation("c1", engine=engine)
    with session_scope(engine) as s:
        h = s.get(Handoff, hid)
        assert (h.status, h.outcome, h.summary_ct) == (CLOSED, "left", None)
        assert h.conversation_id != "c1"
        assert s.execute(select(HandoffMessage)).first() is None
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "erase")).first() is not None
    with pytest.raises(service.StaleClaim):
        service.reply(hid, a.id, claim.version, "x", engine=engine)
    assert audit.verify(engine).ok


def test_position_and_wait(engine, make_officer, on_duty):
    a = make_officer()
    enqueue(engine, "c1", at=T0)
    enqueue(engine, "c2", at=T0 + timedelta(seconds=1))
    enqueue(engine, "c3", "danger", at=T0 + timedelta(seconds=2))
    st = queue.status_for_conversation("c2", engine=engine, now=T0 + timedelta(seconds=3))
    assert st.position == 3 and st.wait_minutes is None  # nobody on duty: no invented estimate
    now = datetime.now(timezone.utc)
    on_duty(a)
    st = queue.status_for_conversation("c3", engine=engine, now=now)
    assert st.position == 1 and st.wait_minutes == 5
    st = queue.status_for_conversation("c2", engine=engine, now=now)
    assert st.position == 3 and st.wait_minutes == 30  # 2 rounds x 15 min default handling time


def test_due_notices(engine, make_officer, on_duty):
    now = datetime.now(timezone.utc)
    hid = enqueue(engine, "c1", at=now).handoff_id
    notices = service.due_notices(engine=engine, now=now)
    assert [(n.handoff_id, n.kind) for n in notices] == [(hid, "no_officer")]
    assert service.due_notices(engine=engine, now=now) == []  # told once
    a = make_officer()
    on_duty(a)
    later = now + timedelta(minutes=50)
    hid2 = enqueue(engine, "c2", at=now).handoff_id
    service.record_notice(hid2, 5, engine=engine, now=now)
    kinds = {n.handoff_id: n.kind for n in service.due_notices(engine=engine, now=later)}
    assert kinds == {hid2: "long_wait"}


def test_audit_rows_are_content_free(engine, make_officer):
    a = make_officer()
    hid = enqueue(engine, "c1").handoff_id
    claim = service.claim(hid, a.id, engine=engine, ip="10.0.0.1")
    service.reply(hid, a.id, claim.version, MARKER, engine=engine)
    service.close(hid, a.id, claim.version, "information_given", engine=engine)
    with session_scope(engine) as s:
        rows = s.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        actions = [r.action for r in rows]
        assert {"claim", "reply", "close"} <= set(actions)
        for r in rows:
            assert MARKER not in repr([getattr(r, c.name) for c in AuditEntry.__table__.columns])
            assert "c1" not in (r.ip or "")
    assert audit.verify(engine).ok


def test_wait_update_only_when_it_changes_a_lot(engine, make_officer, on_duty):
    now = datetime.now(timezone.utc)
    on_duty(make_officer())
    hid = enqueue(engine, "c1", at=now).handoff_id  # estimate now: 5 minutes
    service.record_notice(hid, 5, engine=engine, now=now)
    assert service.due_notices(engine=engine, now=now + timedelta(minutes=11)) == []  # unchanged
    service.record_notice(hid, 40, engine=engine, now=now)  # she was told 40 minutes
    assert service.due_notices(engine=engine, now=now + timedelta(minutes=5)) == []  # not within 10 minutes
    notices = service.due_notices(engine=engine, now=now + timedelta(minutes=11))
    assert [(n.kind, n.position, n.wait_minutes) for n in notices] == [("update", 1, 5)]
