"""Desk side in the console: queue, case view, roles/IDOR (404 + audited), forms, contact, live stream."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from bot.reporting.models import CaseEntry, Referral, ReportCase
from bot.store.db import session_scope
from tests.handoff.conftest import read_stream_around
from tests.reporting.conftest import add_service, audit_rows

MARK = "MARKER-CASE-CONSOLE-8841"


def n(engine: Any, model: Any) -> int:
    with session_scope(engine) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_officer_queue_view_and_workflow(engine: Any, make_desk: Any, submit: Any, make_officer: Any,
                                         client_for: Any, outbound: Any) -> None:
    mine = make_desk("Desk A", -1.31, 36.79)
    _, case = submit(statement=MARK)
    clinic = add_service(engine, "Clinic", "hospital", -1.3, 36.8, desk=False)
    officer = client_for(make_officer(team_id=mine.team_id))
    listed = officer.get("/api/cases").json()
    assert [i["reference"] for i in listed["items"]] == [case.reference] and MARK not in str(listed)
    page = officer.get("/cases")
    assert page.status_code == 200 and case.reference in page.text and MARK not in page.text
    detail = officer.get(f"/api/cases/{case.case_id}").json()
    assert detail["statement"] == MARK and detail["case"]["status"] == "new"
    assert MARK in officer.get(f"/cases/{case.case_id}").text
    v = detail["case"]["version"]
    v = officer.post(f"/api/cases/{case.case_id}/transition", json={"version": v, "status": "acknowledged"}).json()["version"]
    sent = officer.post(f"/api/cases/{case.case_id}/contact", json={"version": v, "text": "Hello, this is the desk."})
    assert sent.json() == {"delivery": "sent"} and outbound.sent[-1][0] != "" and outbound.texts()[-1] == "Hello, this is the desk."
    assert officer.post(f"/api/cases/{case.case_id}/notes", json={"text": "she prefers mornings"}).json()["seq"] == 2
    rid = officer.post(f"/api/cases/{case.case_id}/referrals",
                       json={"service_id": clinic, "shared": ["incident_types"], "consent": {"given": True, "how": "chat"}}).json()["id"]
    assert officer.post(f"/api/cases/{case.case_id}/referrals/{rid}", json={"status": "sent"}).json() == {"ok": True}
    d = officer.get(f"/api/cases/{case.case_id}").json()
    assert d["case"]["status"] == "referred" and d["referrals"][0]["status"] == "sent"
    assert [e["kind"] for e in d["entries"]] == ["contact", "note"] and d["entries"][0]["delivery"] == "sent"
    closed = officer.post(f"/api/cases/{case.case_id}/transition",
                          json={"version": d["case"]["version"], "status": "closed", "outcome": "referred"})
    assert closed.status_code == 200
    assert officer.get("/api/cases").json()["items"] == []
    stats_page = officer.get("/cases/stats?rows=channel")
    assert stats_page.status_code == 200 and "<svg" in stats_page.text and "&lt;5" in stats_page.text
    assert officer.get("/api/cases/stats?rows=outcome&cols=channel").json()["cols_dim"] == "channel"
    assert officer.get("/api/cases/stats?rows=phone").status_code == 400


def test_roles_and_idor_are_404_and_audited(engine: Any, make_desk: Any, submit: Any, make_officer: Any,
                                             client_for: Any) -> None:
    mine, theirs = make_desk("Desk A", -1.31, 36.79), make_desk("Desk B", -4.04, 39.67, region="Mombasa")
    _, case = submit(statement=MARK)
    other = client_for(make_officer(team_id=theirs.team_id))
    sup_handle = make_officer(role="supervisor")
    supervisor, admin = client_for(sup_handle), client_for(make_officer(role="admin"))
    before = len(audit_rows(engine, "case_denied"))
    for client in (other, admin):
        r = client.get(f"/api/cases/{case.case_id}")
        assert r.status_code == 404 and MARK not in r.text
        assert client.get(f"/cases/{case.case_id}").status_code == 404
    assert other.get(f"/api/cases/{case.case_id + 1000}").status_code == 404
    assert other.post(f"/api/cases/{case.case_id}/notes", json={"text": "x"}).status_code == 404
    sup = supervisor.get(f"/api/cases/{case.case_id}")
    assert sup.status_code == 200 and set(sup.json()) == {"case"} and MARK not in sup.text
    assert MARK not in supervisor.get(f"/cases/{case.case_id}").text
    assert supervisor.post(f"/api/cases/{case.case_id}/notes", json={"text": "x"}).status_code == 404  # no content writes
    assert [i["id"] for i in supervisor.get("/api/cases").json()["items"]] == [case.case_id]
    assert other.get("/api/cases").json()["items"] == []
    assert other.get("/api/cases?view=all").status_code == 403
    assert admin.get("/api/cases").status_code == 403 and admin.get("/cases").status_code == 403
    denied = audit_rows(engine, "case_denied")[before:]
    assert [r.outcome for r in denied] == ["other_team", "other_team", "admin", "admin", "unknown", "other_team",
                                           "supervisor_content"]
    assert all(r.ip for r in denied) and MARK not in str([vars(r) for r in audit_rows(engine)])
    assert n(engine, CaseEntry) == 0


def test_bad_input_is_4xx_and_nothing_half_stored(engine: Any, desk: Any, submit: Any, make_officer: Any,
                                                  client_for: Any) -> None:
    _, case = submit(contact={"mode": "safe_time", "safe_time": "after 6pm"})
    clinic = add_service(engine, "Clinic", "hospital", -1.3, 36.8, desk=False)
    officer = client_for(make_officer(team_id=desk.team_id))
    base = f"/api/cases/{case.case_id}"
    bad = [
        ("transition", {"status": "acknowledged"}, 400), ("transition", {"version": 1, "status": "done"}, 400),
        ("transition", {"version": 1, "status": "closed"}, 400), ("transition", {"version": "x", "status": "closed"}, 400),
        ("transition", {"version": 7, "status": "acknowledged"}, 409), ("transition", {"version": 1, "status": "referred"}, 409),
        ("notes", {"text": ""}, 400), ("notes", {"text": 5}, 400), ("notes", {"text": "x" * 4001}, 400),
        ("contact", {"version": 1, "text": "hi"}, 409),  # safe time not confirmed
        ("referrals", {"service_id": clinic, "shared": ["when"]}, 400),
        ("referrals", {"service_id": clinic, "shared": ["when"], "consent": {"given": False, "how": "chat"}}, 400),
        ("referrals", {"service_id": "abc", "shared": ["when"], "consent": {"given": True, "how": "chat"}}, 400),
        ("referrals/1", {"status": "teleported"}, 400),
    ]
    for path, body, status in bad:
        r = officer.post(f"{base}/{path}", json=body)
        assert r.status_code == status, (path, body, r.text)
    assert officer.post(f"{base}/notes", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert officer.post(f"{base}/notes", content=b"text=hi", headers={"Content-Type": "text/plain"}).status_code == 415
    assert officer.get("/api/cases/abc").status_code == 400 and officer.get("/cases/abc").status_code == 404
    assert officer.post("/cases/1/explode", data={"csrf_token": officer.headers["X-CSRF-Token"]}).status_code == 404
    with session_scope(engine) as s:
        row = s.get(ReportCase, case.case_id)
        assert (row.status, row.version, row.entry_seq) == ("new", 1, 0)
    assert n(engine, CaseEntry) == 0 and n(engine, Referral) == 0


def test_html_forms_acknowledge_refer_close(engine: Any, desk: Any, submit: Any, make_officer: Any, client_for: Any) -> None:
    _, case = submit()
    clinic = add_service(engine, "Clinic", "hospital", -1.3, 36.8, desk=False)
    officer = client_for(make_officer(team_id=desk.team_id))
    csrf = officer.headers.pop("X-CSRF-Token")
    url = f"/cases/{case.case_id}"

    def version() -> str:
        return re.search(r'name="version" value="(\d+)"', officer.get(url).text).group(1)

    r = officer.post(f"{url}/transition", data={"csrf_token": csrf, "version": version(), "status": "acknowledged"},
                     follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == url
    assert officer.post(f"{url}/transition", data={"version": version(), "status": "contacted"}).status_code == 403  # no CSRF
    r = officer.post(f"{url}/refer", data={"csrf_token": csrf, "service_id": str(clinic), "share_when": "on",
                                           "share_region": "on", "consent_how": "in_person"})
    assert r.status_code == 400  # consent box not ticked
    r = officer.post(f"{url}/refer", data={"csrf_token": csrf, "service_id": str(clinic), "share_when": "on",
                                           "share_region": "on", "consent_given": "on", "consent_how": "in_person"},
                     follow_redirects=False)
    assert r.status_code == 303
    page = officer.get(url).text
    assert "shared: when, region" in page and "consent: survivor by in_person" in page
    r = officer.post(f"{url}/transition", data={"csrf_token": csrf, "version": version(), "status": "closed",
                                                "outcome": "referred"}, follow_redirects=False)
    assert r.status_code == 303
    with session_scope(engine) as s:
        assert s.get(ReportCase, case.case_id).status == "closed"


def test_whatsapp_after_24h_is_held_and_failure_is_recorded(engine: Any, desk: Any, submit: Any, make_officer: Any,
                                                            client_for: Any, outbound: Any) -> None:
    _, case = submit(channel="whatsapp")
    officer = client_for(make_officer(team_id=desk.team_id))
    outbound.window = False
    r = officer.post(f"/api/cases/{case.case_id}/contact", json={"version": 1, "text": "Hello"})
    assert r.json() == {"delivery": "held"}
    with session_scope(engine) as s:
        assert s.get(ReportCase, case.case_id).first_contact_at is None  # a template prompt is not contact yet
    outbound.window, outbound.fail = True, RuntimeError("stopped")
    v = officer.get(f"/api/cases/{case.case_id}").json()["case"]["version"]
    assert officer.post(f"/api/cases/{case.case_id}/contact", json={"version": v, "text": "Hello"}).json() == {"delivery": "failed"}


def test_new_case_reaches_the_live_stream(engine: Any, desk: Any, submit: Any, make_officer: Any, client_for: Any,
                                          console_app: Any) -> None:
    from bot.reporting import feed

    officer = client_for(make_officer(team_id=desk.team_id))
    body, case_id = read_stream_around(console_app, officer, "/api/cases/events", lambda: bool(feed._callbacks),
                                       lambda: submit()[1].case_id)
    assert "event: cases" in body and f'data: {{"ids": [{case_id}]}}' in body, body
