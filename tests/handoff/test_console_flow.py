"""The officer's path through the console: live queue (SSE), claim, transcript, reply through the
(fake) outbound, WhatsApp window handling, close with the bot's closing line; pages render."""

from __future__ import annotations

import logging
import time

import pytest
from starlette.testclient import TestClient

from bot import i18n
from bot import audit
from bot.handoff import service
from bot.handoff.models import HELD, SENT
from tests.handoff.conftest import MARKER, csrf_of, login, read_stream_around, watcher_subscribed


def enqueue(engine, cid="conv-flow", channel="sms", risk="disclosed", summary="asked about services"):
    return service.enqueue(cid, channel=channel, language="en", risk=risk, summary=summary, engine=engine).handoff_id


def test_claim_reply_close(engine, make_officer, client_for, outbound, caplog):
    caplog.set_level(logging.DEBUG)
    officer = make_officer()
    client = client_for(officer)
    hid = enqueue(engine)
    queue = client.get("/api/queue?view=unassigned").json()["items"]
    assert [i["id"] for i in queue] == [hid] and queue[0]["risk"] == "disclosed" and queue[0]["version"] is None
    claim = client.post("/api/handoffs/claim-next").json()
    assert claim["handoff_id"] == hid
    assert outbound.texts() == [i18n.text("utter_handoff_connected", "en", "sms")]
    service.append_survivor_message("conv-flow", MARKER, engine=engine)
    detail = client.get(f"/api/handoffs/{hid}").json()
    assert detail["summary"] == "asked about services"
    assert [m["text"] for m in detail["messages"]] == [MARKER]
    r = client.post(f"/api/handoffs/{hid}/reply", json={"version": claim["version"], "text": "  I am here for you  "})
    assert r.json()["delivery"] == SENT
    assert outbound.sent[-1] == ("conv-flow", [{"text": "I am here for you"}])
    assert client.post(f"/api/handoffs/{hid}/notes", json={"version": claim["version"], "text": "note"}).status_code == 200
    assert len(outbound.sent) == 2  # notes are never sent
    later = client.get(f"/api/handoffs/{hid}?after=1").json()["messages"]
    assert [m["kind"] for m in later] == ["officer", "note"]
    page = client.get(f"/handoffs/{hid}")
    assert page.status_code == 200 and MARKER in page.text and "conv-flow" not in page.text
    bad = client.post(f"/api/handoffs/{hid}/close", json={"version": claim["version"], "outcome": "bogus"})
    assert bad.status_code == 400
    assert client.post(f"/api/handoffs/{hid}/close", json={"version": claim["version"], "outcome": "referred"}).json()["ok"]
    assert outbound.texts()[-1] == i18n.text("utter_handoff_closed", "en", "sms")
    assert client.get(f"/api/handoffs/{hid}").status_code == 404  # closed: nobody reads it any more
    assert MARKER not in caplog.text and "conv-flow" not in caplog.text
    assert audit.verify(engine).ok


@pytest.mark.asyncio
async def test_whatsapp_window_closed_holds_replies(engine, make_officer, client_for, outbound):
    officer = make_officer()
    client = client_for(officer)
    hid = enqueue(engine, channel="whatsapp")
    outbound.window = False
    claim = client.post(f"/api/handoffs/{hid}/claim").json()
    assert outbound.sent == []  # the bot never messages first outside the window
    assert client.get(f"/api/handoffs/{hid}").json()["window_open"] is False
    assert "window is closed" in client.get(f"/handoffs/{hid}").text
    first = client.post(f"/api/handoffs/{hid}/reply", json={"version": claim["version"], "text": "first"}).json()
    second = client.post(f"/api/handoffs/{hid}/reply", json={"version": claim["version"], "text": "second"}).json()
    assert first["delivery"] == second["delivery"] == HELD
    assert len(outbound.sent) == 1  # one template prompt (outbound turns it into the template), not two
    # she writes back: the window opens and held replies are delivered in order
    outbound.window, outbound.sent = True, []
    relayed = service.append_survivor_message("conv-flow", "hi", engine=engine)
    assert len(relayed.held_seqs) == 2
    await service.deliver_held(relayed.handoff_id, relayed.held_seqs, outbound=outbound)
    assert outbound.texts() == ["first", "second"]
    assert {m["delivery"] for m in client.get(f"/api/handoffs/{hid}").json()["messages"] if m["kind"] == "officer"} == {SENT}


def test_failed_delivery_is_reported(engine, make_officer, client_for, outbound):
    class ContactStopped(Exception):
        pass

    client = client_for(make_officer())
    hid = enqueue(engine)
    claim = client.post(f"/api/handoffs/{hid}/claim").json()
    outbound.fail = ContactStopped()
    r = client.post(f"/api/handoffs/{hid}/reply", json={"version": claim["version"], "text": "hello"}).json()
    assert r["delivery"] == "failed"
    message = client.get(f"/api/handoffs/{hid}").json()["messages"][-1]
    assert message["delivery"] == "failed"


def test_pages_render_for_each_role(engine, make_officer, client_for, on_duty):
    officer, supervisor, admin = make_officer(), make_officer("supervisor"), make_officer("admin")
    on_duty(officer)
    enqueue(engine, "c1", risk="danger")
    co, cs, ca = client_for(officer), client_for(supervisor), client_for(admin)
    page = co.get("/")
    assert page.status_code == 200 and "You are on duty." in page.text and 'class="claim"' in page.text
    dash = cs.get("/dashboard")
    assert dash.status_code == 200 and "<svg" in dash.text
    assert ca.get("/", follow_redirects=False).headers["location"] == "/admin"
    admin_page = ca.get("/admin")
    assert admin_page.status_code == 200 and officer.username in admin_page.text
    data = cs.get("/api/dashboard").json()
    assert data["queue_length"] == 1 and data["queue_by_risk"]["danger"] == 1 and data["officers_on_duty"] == 1
    assert set(data["outcomes_7d"]) == {"referred", "information_given", "report_taken", "no_response", "left"}
    assert co.get("/api/canned?language=sw").json()["items"][0]["id"] == "greeting"
    assert co.get("/api/").json()["endpoints"]


def test_admin_manages_teams_and_roster(engine, make_officer, client_for):
    admin, officer = make_officer("admin"), make_officer()
    ca = client_for(admin)
    team = ca.post("/api/teams", json={"name": "coast"}).json()["id"]
    r = ca.post("/api/roster", json={"officer_id": officer.id, "languages": ["en", "sw"], "team_id": team,
                                     "starts_at": "2031-01-01T08:00:00+00:00", "ends_at": "2031-01-01T16:00:00+00:00",
                                     "repeat_days": 2})
    assert r.status_code == 200 and len(r.json()["ids"]) == 4
    bad = ca.post("/api/roster", json={"officer_id": officer.id, "languages": ["en"],
                                       "starts_at": "2031-01-01T08:00:00", "ends_at": "2031-01-01T16:00:00"})
    assert bad.status_code == 400  # naive times refused
    assert ca.post(f"/api/roster/{r.json()['ids'][0]}/delete").status_code == 200
    assert ca.post("/api/roster/999999/delete").status_code == 404


def test_new_handoff_reaches_the_live_stream(console_app, engine, make_officer):
    officer = make_officer()
    with TestClient(console_app, base_url="https://testserver") as client:
        assert login(client, officer).status_code == 303
        csrf_of(client)
        started = time.monotonic()
        body, hid = read_stream_around(console_app, client, "/api/events", watcher_subscribed(console_app),
                                       lambda: enqueue(engine, "c-live"))
        assert time.monotonic() - started < 4.0 + 3  # the stream ends at its configured length
        assert "event: queue" in body and f'"ids": [{hid}]' in body
        assert "c-live" not in body


async def test_waiting_survivors_are_told_when_nobody_can_answer(engine, outbound):
    from bot.console import jobs
    from bot.countries import numbers

    service.enqueue("c-sms", channel="sms", language="sw", country="KE", engine=engine)
    service.enqueue("c-wa", channel="whatsapp", language="en", country="KE", engine=engine)
    outbound.window = False  # her WhatsApp window is closed: Haven does not message first
    assert await jobs.send_notices_once(engine, outbound) == 1
    (cid, [message]), = outbound.sent
    assert cid == "c-sms"
    assert message["text"] == i18n.render("utter_handoff_no_officer", "sw", "sms", **numbers("KE", "sw"))["text"]
    assert numbers("KE", "sw")["hotline_number"] in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/stay_in_queue", "/leave_queue"]
    assert await jobs.send_notices_once(engine, outbound) == 0  # told once


async def test_held_replies_go_through_the_registered_sender(engine, make_officer, client_for, outbound, monkeypatch):
    """Without an explicit outbound, deliver_held uses the sender the channels registered (bot.ports)."""
    from bot import ports

    officer = make_officer()
    client = client_for(officer)
    hid = enqueue(engine, cid="conv-port", channel="whatsapp")
    outbound.window = False
    claim = client.post(f"/api/handoffs/{hid}/claim").json()
    client.post(f"/api/handoffs/{hid}/reply", json={"version": claim["version"], "text": "held one"})
    outbound.window, outbound.sent = True, []
    relayed = service.append_survivor_message("conv-port", "back", engine=engine)
    monkeypatch.setattr(ports, "_sender", None)
    await service.deliver_held(relayed.handoff_id, relayed.held_seqs)  # no sender: nothing sent, still held
    assert outbound.texts() == []
    ports.register_sender(outbound)
    await service.deliver_held(relayed.handoff_id, relayed.held_seqs)
    assert outbound.texts() == ["held one"]
