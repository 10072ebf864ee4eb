"""Fixtures for the handoff queue and console tests: engine, officers, fake outbound, logged-in clients."""

from __future__ import annotations

import dataclasses
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Optional

import pyotp
import pytest

from bot.store.db import get_engine

PASSWORD = "correct horse battery staple"
MARKER = "MARKER-SURVIVOR-TEXT-7731"  # survivor content in tests: must never reach logs or audit


@dataclass
class OfficerHandle:
    id: int
    username: str
    password: str
    secret: str
    role: str

    def code(self, offset_steps: int = 0) -> str:
        totp = pyotp.TOTP(self.secret)
        return totp.at(datetime.now(timezone.utc) + timedelta(seconds=30 * offset_steps))


@pytest.fixture
def engine(db_url: str) -> Any:
    return get_engine(db_url)


@pytest.fixture
def make_officer(engine: Any) -> Callable[..., OfficerHandle]:
    from bot.staff.credentials import create_officer

    def make(role: str = "officer", languages: tuple[str, ...] = ("en",), team_id: Optional[int] = None,
             name: Optional[str] = None) -> OfficerHandle:
        username = name or f"{role}-{secrets.token_hex(3)}"
        created = create_officer(username, PASSWORD, role=role, languages=list(languages), team_id=team_id, engine=engine)
        return OfficerHandle(created.officer_id, created.username, PASSWORD, created.totp_secret, role)

    return make


@pytest.fixture
def on_duty(engine: Any) -> Callable[..., None]:
    """Put an officer on the roster from an hour ago for the next few hours."""
    from bot.staff.roster import add_shifts

    def put(officer: OfficerHandle, languages: tuple[str, ...] = ("en",)) -> None:
        now = datetime.now(timezone.utc)
        add_shifts(officer.id, languages, now - timedelta(hours=1), now + timedelta(hours=8), engine=engine)

    return put


@dataclass
class FakeOutbound:
    """Stands in for channels.outbound: records what would reach her phone."""

    window: bool = True
    fail: Optional[Exception] = None
    sent: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    async def send_to_conversation(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append((conversation_id, messages))

    def whatsapp_window_open(self, conversation_id: str) -> bool:
        return self.window

    def texts(self) -> list[str]:
        return [m.get("text", "") for _, batch in self.sent for m in batch]


@pytest.fixture
def outbound() -> FakeOutbound:
    return FakeOutbound()


@pytest.fixture
def console_app(engine: Any, outbound: FakeOutbound) -> Any:
    from bot.console.app import ConsoleConfig, create_app
    from bot.settings import get_settings

    config = ConsoleConfig(sse_max_seconds=0.5, sse_session_check=0.2, background_jobs=False)
    return create_app(get_settings(), outbound=outbound, config=config, engine=engine)


def login(client: Any, officer: OfficerHandle, code: Optional[str] = None) -> Any:
    """Log in through the real form (prelogin CSRF cookie, password, TOTP); returns the response."""
    page = client.get("/login")
    token = re.search(r'name="prelogin" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/login",
        data={"prelogin": token, "username": officer.username, "password": officer.password,
              "code": code if code is not None else officer.code()},
        follow_redirects=False,
    )


def csrf_of(client: Any) -> str:
    return client.get("/api/me").json()["csrf_token"]


@pytest.fixture
def client_for(console_app: Any) -> Iterator[Callable[[OfficerHandle], Any]]:
    """A logged-in TestClient per officer (https base URL so Secure cookies are sent)."""
    from starlette.testclient import TestClient

    clients: list[Any] = []

    def make(officer: OfficerHandle) -> Any:
        client = TestClient(console_app, base_url="https://testserver")
        clients.append(client)
        response = login(client, officer)
        assert response.status_code == 303, response.text
        client.headers["X-CSRF-Token"] = csrf_of(client)
        return client

    yield make
    for client in clients:
        client.close()


def read_stream_around(console_app: Any, client: Any, path: str, subscribed: Callable[[], bool],
                       action: Callable[[], Any], seconds: float = 4.0) -> tuple[str, Any]:
    """The body of the SSE stream at `path`, with `action` run once the stream has subscribed.

    The TestClient hands over a streamed body only once the stream ends, so `action` runs in a
    thread as soon as `subscribed()` says so, and the stream is given `seconds` to carry it (not a
    sleep racing a short stream on a loaded machine). Returns (body, action's result)."""
    console = console_app.state.console
    console.config = dataclasses.replace(console.config, sse_max_seconds=seconds)
    result: dict[str, Any] = {}

    def once_subscribed() -> None:
        deadline = time.monotonic() + seconds - 1.0
        while not subscribed() and time.monotonic() < deadline:
            time.sleep(0.01)
        result["value"] = action()

    thread = threading.Thread(target=once_subscribed)
    thread.start()
    body = client.get(path).text
    thread.join()
    return body, result.get("value")


def watcher_subscribed(console_app: Any) -> Callable[[], bool]:
    return lambda: bool(console_app.state.console.watcher._subscribers)
