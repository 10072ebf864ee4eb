"""Console security through Starlette's TestClient: login, TOTP replay, throttling, CSRF,
session expiry, IDOR and role escalation. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.console.app import _check_deny_by_default
from bot.staff.models import ConsoleSession
from bot.staff.sessions import token_id
from bot.console.web import SESSION_COOKIE
from bot.handoff import service
from bot.store.db import session_scope
from bot.store.models import utcnow
from tests.handoff.conftest import login


def fresh(app):
    return TestClient(app, base_url="https://testserver")


def enqueue(engine, cid="conv-1", risk=None, channel="sms"):
    return service.enqueue(cid, channel=channel, language="en", risk=risk, engine=engine).handoff_id


def test_login_sets_hardened_cookie(console_app, make_officer):
    officer = make_officer()
    client = fresh(console_app)
    response = login(client, officer)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(SESSION_COOKIE)][0]
    lowered = cookie.lower()
    assert "secure" in lowered and "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
    assert "domain=" not in lowered
    page = client.get("/")
    assert page.status_code == 200 and "Queue" in page.text
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"):
        assert header in page.headers
    assert page.headers["cache-control"] == "no-store"


def test_bad_password_and_bad_code_look_the_same(console_app, make_officer):
    officer = make_officer()
    client = fresh(console_app)
    officer.password = "wrong password here"
    r1 = login(client, officer)
    officer.password = "correct horse battery staple"
    r2 = login(client, officer, code="000000" if officer.code() != "000000" else "111111")
    assert r1.status_code == r2.status_code == 401
    assert "Those details did not work." in r1.text and "Those details did not work." in r2.text
    assert SESSION_COOKIE not in client.cookies


def test_totp_code_cannot_be_replayed(console_app, make_officer):
    officer = make_officer()
    code = officer.code()
    client = fresh(console_app)
    assert login(client, officer, code).status_code == 303
    csrf = client.get("/api/me").json()["csrf_token"]
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    again = fresh(console_app)
    assert login(again, officer, code).status_code == 401  # same code, same step: refused
    # an older step after a newer one is refused too
    assert login(again, officer, officer.code(-1)).status_code == 401


def test_login_throttling(console_app, make_officer):
    officer = make_officer()
    client = fresh(console_app)
    good = officer.password
    officer.password = "not the password"
    for _ in range(3):  # free failures for one username from one address (bot.staff.throttle)
        assert login(client, officer).status_code == 401
    officer.password = good
    response = login(client, officer)  # from this unknown browser, even the right password waits
    assert response.status_code == 429 and SESSION_COOKIE not in client.cookies


def test_login_form_needs_its_prelogin_token(console_app, make_officer):
    officer = make_officer()
    client = fresh(console_app)
    client.get("/login")
    response = client.post("/login", data={"prelogin": "forged", "username": officer.username,
                                           "password": officer.password, "code": officer.code()})
    assert response.status_code == 403


def test_csrf_required_on_every_state_change(console_app, engine, make_officer, client_for):
    officer = make_officer()
    client = client_for(officer)
    hid = enqueue(engine)
    token = client.headers.pop("X-CSRF-Token")
    assert client.post(f"/api/handoffs/{hid}/claim").status_code == 403
    assert client.post(f"/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": "nope"}).status_code == 403
    other = client_for(make_officer())  # a valid token of another session does not work here
    assert client.post(f"/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": other.headers["X-CSRF-Token"]}).status_code == 403
    cross = client.post(f"/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": token, "Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    ok = client.post(f"/api/handoffs/{hid}/claim", headers={"X-CSRF-Token": token, "Origin": "https://testserver"})
    assert ok.status_code == 200
    version = ok.json()["version"]
    client.headers["X-CSRF-Token"] = token
    # JSON API accepts only JSON bodies (no form-encoded cross-site posts)
    r = client.post(f"/api/handoffs/{hid}/renew", content=f"version={version}",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


def test_idor_another_officers_conversation(console_app, engine, make_officer, client_for, outbound):
    alice, bob = make_officer(), make_officer()
    ca, cb = client_for(alice), client_for(bob)
    hid = enqueue(engine)
    claim = ca.post(f"/api/handoffs/{hid}/claim").json()
    service.append_survivor_message("conv-1", "hello", engine=engine)
    assert ca.get(f"/api/handoffs/{hid}").status_code == 200
    assert cb.get(f"/api/handoffs/{hid}").status_code == 404
    assert cb.get(f"/handoffs/{hid}").status_code == 404
    assert cb.get("/api/handoffs/999999").status_code == 404
    v = claim["version"]
    for path, body in (("reply", {"text": "x"}), ("notes", {"text": "x"}), ("close", {"outcome": "referred"}),
                       ("release", {}), ("renew", {}), ("transfer", {"officer_id": bob.id})):
        r = cb.post(f"/api/handoffs/{hid}/{path}", json=dict(body, version=v))
        assert r.status_code == 409, (path, r.status_code)
    assert cb.post(f"/api/handoffs/{hid}/claim").status_code == 409
    assert [t for t in outbound.texts() if t == "x"] == []
    # the queue views never carry content or the conversation id
    listing = cb.get("/api/queue?view=unassigned").text + ca.get("/api/queue?view=mine").text
    assert "conv-1" not in listing and "hello" not in listing


def test_role_escalation_denied(console_app, engine, make_officer, client_for):
    officer, supervisor, admin = make_officer(), make_officer("supervisor"), make_officer("admin")
    co, cs, ca = client_for(officer), client_for(supervisor), client_for(admin)
    assert co.get("/api/dashboard").status_code == 403
    assert co.get("/dashboard").status_code == 403
    assert co.get("/admin").status_code == 403
    assert co.get("/api/queue?view=all").status_code == 403
    assert co.post("/api/roster", json={"officer_id": officer.id}).status_code == 403
    assert co.post("/api/teams", json={"name": "x"}).status_code == 403
    assert co.post(f"/api/officers/{supervisor.id}/disable").status_code == 403
    hid = enqueue(engine)
    claim = co.post(f"/api/handoffs/{hid}/claim").json()
    assert co.post(f"/api/handoffs/{hid}/transfer", json={"version": claim["version"], "officer_id": officer.id,
                                                          "reassign": True}).status_code == 403
    assert cs.post("/api/roster", json={}).status_code == 403
    assert cs.post(f"/api/officers/{officer.id}/disable").status_code == 403
    assert cs.get(f"/api/handoffs/{hid}").status_code == 404  # supervisors see status, never the transcript
    assert cs.get("/api/queue?view=all").status_code == 200
    assert ca.get("/api/queue?view=unassigned").status_code == 403  # admins do not take conversations
    assert ca.post("/api/handoffs/claim-next").status_code == 403
    assert ca.get("/api/dashboard").status_code == 200
    # the supervisor may reassign with the version it saw
    r = cs.post(f"/api/handoffs/{hid}/transfer", json={"version": claim["version"], "officer_id": supervisor.id,
                                                       "reassign": True, "reason": "safety_concern"})
    assert r.status_code == 200


def test_unauthenticated_is_denied(console_app):
    client = fresh(console_app)
    assert client.get("/api/queue").status_code == 401
    assert client.get("/api/events").status_code == 401
    assert client.post("/api/handoffs/claim-next").status_code == 401
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    client.cookies.set(SESSION_COOKIE, "forged-token", domain="testserver")
    assert client.get("/api/me").status_code == 401
    assert client.get("/healthz").status_code == 200


def test_session_timeouts_and_logout(console_app, engine, make_officer, client_for):
    idle, absolute, leaving = make_officer(), make_officer(), make_officer()
    ci, ca, cl = client_for(idle), client_for(absolute), client_for(leaving)
    with session_scope(engine) as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.id == token_id(ci.cookies[SESSION_COOKIE]))
                  .values(last_seen_at=utcnow() - timedelta(minutes=31)))
        s.execute(update(ConsoleSession).where(ConsoleSession.id == token_id(ca.cookies[SESSION_COOKIE]))
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert ci.get("/api/me").status_code == 401
    assert ca.get("/api/me").status_code == 401
    token = cl.cookies[SESSION_COOKIE]
    assert cl.post("/logout", data={"csrf_token": cl.headers["X-CSRF-Token"]}, follow_redirects=False).status_code == 303
    replay = fresh(console_app)
    replay.cookies.set(SESSION_COOKIE, token, domain="testserver")
    assert replay.get("/api/me").status_code == 401  # revoked server-side, not just cookie deleted


def test_disabled_officer_loses_access(console_app, make_officer, client_for):
    officer, admin = make_officer(), make_officer("admin")
    co, ca = client_for(officer), client_for(admin)
    assert co.get("/api/me").status_code == 200
    assert ca.post(f"/api/officers/{officer.id}/disable").status_code == 200
    assert co.get("/api/me").status_code == 401


def test_every_route_has_an_access_rule():
    async def naked(request):  # pragma: no cover - never served
        return None

    with pytest.raises(RuntimeError):
        _check_deny_by_default([Route("/oops", naked)])


def test_background_refreshes_do_not_keep_a_session_alive(console_app, engine, make_officer, client_for):
    client = client_for(make_officer())
    sid = token_id(client.cookies[SESSION_COOKIE])
    earlier = utcnow() - timedelta(minutes=10)
    with session_scope(engine) as s:
        s.execute(update(ConsoleSession).where(ConsoleSession.id == sid).values(last_seen_at=earlier))

    def last_seen():
        with session_scope(engine) as s:
            return s.get(ConsoleSession, sid).last_seen_at

    assert client.get("/api/queue", headers={"X-Haven-Background": "1"}).status_code == 200
    client.get("/api/events")  # the live stream (ends after 0.5 s in tests)
    assert abs((last_seen() - earlier).total_seconds()) < 1
    assert client.get("/api/queue").status_code == 200  # the officer's own action counts
    assert last_seen() > earlier + timedelta(minutes=9)
