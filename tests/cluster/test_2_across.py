"""Across replicas: a handoff created through Rasa replica A appears on an officer's live queue
(SSE) served by console replica B within 1 s (LISTEN/NOTIFY); a quick exit arriving at replica B
while replica A is mid-turn on the same conversation leaves nothing behind."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from datetime import timezone
from typing import Any, Optional
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import select

from bot.cluster import Cluster
from bot.crypto import pseudonym
from tests.channels.conftest import PUBLIC_URL, SMS_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.conftest import TEST_KEYS
from tests.dbfiles import raw_bytes

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
PASSWORD = "a long test passphrase 4 officers"


def _sms(rasa_url: str, address: str, text: str) -> httpx.Response:
    from bench.load import twilio_form
    from twilio.request_validator import RequestValidator

    form = twilio_form(TWILIO_SID, SMS_FROM, address, text)
    path = "/webhooks/sms/webhook"
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-twilio-signature": RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, form)}
    return httpx.post(rasa_url + path, content=urlencode(form).encode(), headers=headers, timeout=30)


def _wait_replies(provider: str, address: str, after: int, count: int = 1, timeout: float = 60) -> list[Any]:
    resp = httpx.get(f"{provider}/__fake__/wait", params={"to": address, "after": after, "count": count,
                                                            "timeout": timeout}, timeout=timeout + 10)
    return list(resp.json())


def _last_seq(provider: str) -> int:
    return max((r["seq"] for r in httpx.get(f"{provider}/__fake__/requests", timeout=10).json()), default=0)


def _login(console_url: str) -> dict[str, str]:
    """Log an invented officer in through the real form; the Cookie header for later requests."""
    import pyotp

    from bot.staff.credentials import create_officer

    created = create_officer(f"officer-{secrets.token_hex(3)}", PASSWORD, role="officer", languages=["en"])
    with httpx.Client(base_url=console_url, timeout=20) as client:
        page = client.get("/login")
        token = re.search(r'name="prelogin" value="([^"]+)"', page.text)
        assert token is not None
        # The console's cookies are Secure (HTTPS at the load balancer); carry them by hand over loopback.
        cookies = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
        resp = client.post("/login", headers={"Cookie": cookies}, follow_redirects=False, data={
            "prelogin": token.group(1), "username": created.username, "password": PASSWORD,
            "code": pyotp.TOTP(created.totp_secret).now()})
        assert resp.status_code == 303, resp.status_code
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in resp.cookies.items())}


class Events:
    """An SSE subscriber in a thread: (arrival wall time, event, data) for every event."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.items: list[tuple[float, str, Any]] = []
        self.connected = threading.Event()
        self._stop = False
        self.thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self.thread.start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        event = "message"
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(5, read=None)) as resp:
            for line in resp.iter_lines():
                if self._stop:
                    return
                if line.startswith(": connected"):
                    self.connected.set()
                elif line.startswith("event:"):
                    event = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    self.items.append((time.time(), event, json.loads(line.split(":", 1)[1])))

    def first_queue_event_with(self, handoff_id: int, timeout: float) -> Optional[float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, event, data in list(self.items):
                if event == "queue" and handoff_id in data.get("ids", []):
                    return at
            time.sleep(0.02)
        return None

    def stop(self) -> None:
        self._stop = True


def test_handoff_made_through_rasa_a_shows_on_console_b_within_a_second(haven_cluster: Cluster) -> None:
    from bot.handoff.models import Handoff
    from bot.store.db import session_scope

    info = haven_cluster
    rasa_a = f"http://127.0.0.1:{info.of('rasa')[0].port}"
    console_b = f"http://127.0.0.1:{info.of('console')[1].port}"
    provider = info.env["HAVEN_FAKE_PROVIDER_URL"]
    events = Events(f"{console_b}/api/events", _login(console_b))
    try:
        assert events.connected.wait(20), "the console's live stream did not open"
        address = f"+1555{secrets.randbelow(10**7):07d}"
        after = _last_seq(provider)
        assert _sms(rasa_a, address, "i want to talk to a real person").status_code == 200
        assert _wait_replies(provider, address, after), "no consent question"
        after = _last_seq(provider)
        assert _sms(rasa_a, address, "yes").status_code == 200
        conversation = pseudonym(base64.urlsafe_b64decode(TEST_KEYS["HAVEN_PSEUDONYM_KEY"] + "=="), "sms", address)
        row = None
        deadline = time.monotonic() + 60
        while row is None and time.monotonic() < deadline:
            with session_scope() as s:
                row = s.execute(select(Handoff.id, Handoff.enqueued_at).where(Handoff.conversation_id == conversation)).first()
            time.sleep(0.05)
        assert row is not None, "the handoff was not created"
        created = row[1].replace(tzinfo=row[1].tzinfo or timezone.utc).timestamp()
        seen = events.first_queue_event_with(int(row[0]), timeout=5)
    finally:
        events.stop()
    assert seen is not None, "console B never showed the handoff"
    print(f"\n[across] handoff via rasa A on console B's SSE after {(seen - created) * 1000:.0f} ms")
    assert seen - created <= 1.0


def test_quick_exit_at_replica_b_while_a_is_mid_turn_leaves_no_marker(haven_cluster: Cluster) -> None:
    from rasa.shared.core.domain import Domain

    from bot.settings import ROOT
    from bot.rasa_adapters.tracker_store import EncryptedTrackerStore

    info = haven_cluster
    rasa_a, rasa_b = (f"http://127.0.0.1:{r.port}" for r in info.of("rasa")[:2])
    provider = info.env["HAVEN_FAKE_PROVIDER_URL"]
    marker = secrets.token_hex(16)
    address = f"+1555{secrets.randbelow(10**7):07d}"
    after = _last_seq(provider)
    assert _sms(rasa_a, address, "hello").status_code == 200
    assert _wait_replies(provider, address, after)
    # A starts a turn carrying the marker; B gets the quick exit while A's turn is running.
    after = _last_seq(provider)
    assert _sms(rasa_a, address, f"i am staying near {marker} i need help").status_code == 200
    time.sleep(0.05)
    assert _sms(rasa_b, address, "##").status_code == 200
    _wait_replies(provider, address, after, count=2, timeout=20)
    time.sleep(3.0)  # whatever A's turn still does, it has done by now
    conversation = pseudonym(base64.urlsafe_b64decode(TEST_KEYS["HAVEN_PSEUDONYM_KEY"] + "=="), "sms", address)
    store = EncryptedTrackerStore(domain=Domain.load(str(ROOT / "domain")), database_url=info.database_url)
    import asyncio

    tracker = asyncio.run(store.retrieve(conversation))
    texts = [getattr(e, "text", None) or "" for e in (tracker.events if tracker else [])]
    dump = raw_bytes(info.database_url)
    assert dump.count(marker.encode()) == 0
    assert dump.count(address.lstrip("+").encode()) == 0
    assert not any(marker in t for t in texts), "A's turn wrote the marker back after B's quick exit"
