"""Channel test harness: the real Sanic blueprints over ASGI, a fake provider, invented secrets."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from pathlib import Path
from typing import Any, AsyncIterator, Optional
from urllib.parse import urlencode

import httpx
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from tests.fakes.provider import FakeProvider

TESTDATA = Path(__file__).parent / "testdata"
PUBLIC_URL = "https://haven.example.test"
TWILIO_SID = "AC00000000000000000000000000000test"
TWILIO_TOKEN = "twilio-auth-token-for-tests-0001"
SMS_FROM = "+15550199999"
WHATSAPP_FROM = "+15550188888"
TEMPLATE_SID = "HX00000000000000000000000000000001"
TELEGRAM_TOKEN = "123456789:TEST-token-for-tests"
TELEGRAM_SECRET = "tg-secret_for-tests-0001"
_app_names = itertools.count()
# What sanic-testing does: several apps per process, TouchUp restarted from the pristine methods.
Sanic.test_mode = True


def load_rows(provider: str, name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((TESTDATA / provider / name).read_text(encoding="utf-8"))
    return rows


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@pytest.fixture
def channel_env(db_url: str, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> str:
    """Migrated database (SQLite and PostgreSQL) + every channel configured against the fake provider."""
    from bot.settings import get_settings

    for key, value in {
        "HAVEN_PUBLIC_URL": PUBLIC_URL,
        "HAVEN_TWILIO_ACCOUNT_SID": TWILIO_SID,
        "HAVEN_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "HAVEN_TWILIO_SMS_FROM": SMS_FROM,
        "HAVEN_TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "HAVEN_TWILIO_WHATSAPP_TEMPLATE_SID": TEMPLATE_SID,
        "HAVEN_TWILIO_API_BASE": fake.url,
        "HAVEN_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "HAVEN_TELEGRAM_SECRET": TELEGRAM_SECRET,
        "HAVEN_TELEGRAM_API_BASE": fake.url,
        "HAVEN_SMS_MAX_SEGMENTS": "3",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return db_url


class FakeRasa:
    """A recording on_new_message; answers each turn with `replies` through the output channel."""

    def __init__(self, replies: Optional[list[dict[str, Any]]] = None) -> None:
        self.messages: list[UserMessage] = []
        self.replies = replies or []

    async def __call__(self, message: UserMessage) -> None:
        self.messages.append(message)
        for reply in self.replies:
            assert message.output_channel is not None
            await message.output_channel.send_response(message.sender_id, dict(reply))

    def turns(self) -> list[dict[str, Any]]:
        return [
            {"text": m.text, "input_channel": m.input_channel, "metadata": m.metadata, "sender_id": m.sender_id}
            for m in self.messages
        ]


class Harness:
    """One channel's blueprint mounted on a fresh Sanic app, driven through ASGI (lifespan included)."""

    def __init__(self, channel: Any, rasa: FakeRasa) -> None:
        self.channel = channel
        self.rasa = rasa
        self.app = Sanic(f"haven_test_{next(_app_names)}", configure_logging=False)
        self.app.blueprint(channel.blueprint(rasa), url_prefix=f"/webhooks/{channel.name()}")
        self.path = f"/webhooks/{channel.name()}/webhook"
        self._lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: Optional[asyncio.Task[None]] = None
        self.client: Optional[httpx.AsyncClient] = None

    async def start(self) -> "Harness":
        started = asyncio.Event()

        async def receive() -> dict[str, Any]:
            return await self._lifespan.get()

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.startup.complete":
                started.set()

        await self._lifespan.put({"type": "lifespan.startup"})
        self._task = asyncio.create_task(self.app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))
        await asyncio.wait_for(started.wait(), 10)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://rasa.internal")
        return self

    async def stop(self) -> None:
        await self.settle()
        if self.client is not None:
            await self.client.aclose()
        await self._lifespan.put({"type": "lifespan.shutdown"})
        if self._task is not None:
            # Sanic 21.12 runs the lifespan, then trips over its own missing request object after
            # shutdown (no sanic-testing here to hide it): the listeners have run by then.
            with contextlib.suppress(AttributeError):
                await asyncio.wait_for(self._task, 10)

    async def post(self, content: bytes, headers: dict[str, str]) -> httpx.Response:
        assert self.client is not None
        response = await self.client.post(self.path, content=content, headers=headers)
        return response

    async def settle(self) -> None:
        turns = getattr(self.channel, "turns", None)  # the REST channel answers inline
        if turns is not None:
            await turns.drain(timeout=10)


def twilio_request(form: dict[str, str], sign: str = "valid", path: str = "") -> tuple[bytes, dict[str, str]]:
    """A form body and headers as Twilio would send them (signed over PUBLIC_URL + path)."""
    from twilio.request_validator import RequestValidator

    body = urlencode(form).encode()
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if sign == "valid":
        headers["x-twilio-signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, form)
    elif sign == "wrong":
        headers["x-twilio-signature"] = RequestValidator("not-the-token").compute_signature(PUBLIC_URL + path, form)
    return body, headers


def telegram_request(update: Any, secret: str = "valid") -> tuple[bytes, dict[str, str]]:
    body = update.encode() if isinstance(update, str) else json.dumps(update).encode()
    headers = {"content-type": "application/json"}
    if secret == "valid":
        headers["x-telegram-bot-api-secret-token"] = TELEGRAM_SECRET
    elif secret == "wrong":
        headers["x-telegram-bot-api-secret-token"] = "tg-secret_for-tests-0002"
    return body, headers
