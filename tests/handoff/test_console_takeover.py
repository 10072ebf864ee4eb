"""Issue 10, item 5: a password change ends the officer's other sessions; a supervisor taking a
live conversation from another officer needs a reason, is audited as a takeover, and that officer
is told on the live stream. SQLite and PostgreSQL."""

from __future__ import annotations


from sqlalchemy import select
from starlette.testclient import TestClient

from bot.handoff import service
from bot.handoff.models import Handoff
from bot.staff.credentials import set_password
from bot.staff.models import AuditEntry
from bot.store.db import session_scope
from tests.handoff.conftest import csrf_of, login, read_stream_around, watcher_subscribed

NEW_PASSWORD = "a brand new long passphrase"


def enqueue(engine, cid="conv-takeover"):
    return service.enqueue(cid, channel="sms", language="en", risk="disclosed", engine=engine).handoff_id


def audit_rows(engine, action):
    with session_scope(engine) as s:
        return s.execute(select(AuditEntry.actor_id, AuditEntry.handoff_id, AuditEntry.target_id, AuditEntry.outcome)
                         .where(AuditEntry.action == action).order_by(AuditEntry.at)).all()


def signed_in(app, officer, step):
    client = TestClient(app, base_url="https://testserver")
    assert login(client, officer, officer.code(step)).status_code == 303  # one TOTP step per login
    client.headers["X-CSRF-Token"] = csrf_of(client)
    return client


def test_changing_my_password_ends_my_other_sessions(console_app, make_officer):
    officer = make_officer()
    here, laptop = signed_in(console_app, officer, -1), signed_in(console_app, officer, 0)
    wrong = here.post("/api/me/password", json={"current_password": "not my password", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 403
    assert laptop.get("/api/me").status_code == 200  # nothing changed
    short = here.post("/api/me/password", json={"current_password": officer.password, "new_password": "short"})
    assert short.status_code == 400
    ok = here.post("/api/me/password", json={"current_password": officer.password, "new_password": NEW_PASSWORD})
    assert ok.status_code == 200, ok.text
    assert here.get("/api/me").status_code == 200  # the session that asked stays
    assert laptop.get("/api/me").status_code == 401
    assert login(TestClient(here.app, base_url="https://testserver"), officer, officer.code(1)).status_code == 401
    officer.password = NEW_PASSWORD
    assert login(TestClient(here.app, base_url="https://testserver"), officer, officer.code(1)).status_code == 303


def test_operator_password_reset_ends_every_session(engine, make_officer, client_for):
    officer = make_officer()
    client = client_for(officer)
    assert set_password(officer.username, NEW_PASSWORD, engine) is True
    assert client.get("/api/me").status_code == 401


def test_takeover_needs_a_reason_and_is_audited(engine, make_officer, client_for):
    officer, supervisor = make_officer(), make_officer("supervisor")
    co, cs = client_for(officer), client_for(supervisor)
    hid = enqueue(engine)
    version = co.post(f"/api/handoffs/{hid}/claim").json()["version"]
    body = {"version": version, "officer_id": supervisor.id, "reassign": True}
    for reason in (None, "", "because I said so", 7):
        refused = cs.post(f"/api/handoffs/{hid}/transfer", json=dict(body, reason=reason) if reason is not None else body)
        assert refused.status_code == 400, (reason, refused.text)
    with session_scope(engine) as s:  # nothing half-done: still the officer's, no audit row
        h = s.get(Handoff, hid)
        assert (h.officer_id, h.version) == (officer.id, version)
    assert audit_rows(engine, "transfer") == [] and audit_rows(engine, "takeover") == []
    taken = cs.post(f"/api/handoffs/{hid}/transfer", json=dict(body, reason="safety_concern"))
    assert taken.status_code == 200, taken.text
    assert audit_rows(engine, "takeover") == [(supervisor.id, hid, officer.id, "safety_concern")]
    assert [r.target_id for r in audit_rows(engine, "transfer")] == [supervisor.id]
    assert co.post(f"/api/handoffs/{hid}/renew", json={"version": version}).status_code == 409
    # a reassignment of a conversation nobody holds is not a takeover: no reason needed
    queued = enqueue(engine, "conv-queued")
    with session_scope(engine) as s:
        v = s.get(Handoff, queued).version
    plain = cs.post(f"/api/handoffs/{queued}/transfer", json={"version": v, "officer_id": officer.id, "reassign": True})
    assert plain.status_code == 200 and len(audit_rows(engine, "takeover")) == 1


def test_the_officer_who_lost_it_is_told_live(console_app, engine, make_officer):
    officer, supervisor = make_officer(), make_officer("supervisor")
    hid = enqueue(engine)
    claim = service.claim(hid, officer.id, engine=engine)
    with TestClient(console_app, base_url="https://testserver") as client:
        assert login(client, officer).status_code == 303
        csrf_of(client)

        def transfer() -> None:
            service.transfer(hid, supervisor.id, claim.version, to_officer_id=supervisor.id, as_supervisor=True,
                             reason="officer_unavailable", engine=engine)

        body, _ = read_stream_around(console_app, client, "/api/events", watcher_subscribed(console_app), transfer)
    assert "event: takeover" in body and f'"id": {hid}' in body and "officer_unavailable" in body


def test_the_new_holder_is_not_told_of_a_takeover(console_app, engine, make_officer):
    officer, supervisor = make_officer(), make_officer("supervisor")
    hid = enqueue(engine)
    claim = service.claim(hid, officer.id, engine=engine)
    with TestClient(console_app, base_url="https://testserver") as client:
        assert login(client, supervisor).status_code == 303

        def transfer() -> None:
            service.transfer(hid, supervisor.id, claim.version, to_officer_id=supervisor.id, as_supervisor=True,
                             reason="workload", engine=engine)

        body, _ = read_stream_around(console_app, client, "/api/events", watcher_subscribed(console_app), transfer)
    assert "event: handoff" in body and "event: takeover" not in body
