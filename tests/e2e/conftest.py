"""The running stack for end-to-end tests: trained model, action/NLG server, Rasa with every
channel enabled against a local fake provider, and a temp SQLite database. Every process logs
at DEBUG into one file that tests scan for planted markers."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode

import httpx
import pytest

from bot.runner import TempStack, free_port, temp_stack
from tests.channels.conftest import (
    PUBLIC_URL,
    SMS_FROM,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TEMPLATE_SID,
    TWILIO_SID,
    TWILIO_TOKEN,
    WHATSAPP_FROM,
)
from tests.conftest import TEST_KEYS

_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)


class Stack:
    """A running stack plus helpers to talk to it like the providers do."""

    def __init__(self, info: TempStack, provider_url: str) -> None:
        self.info = info
        self.rasa_url, self.action_url = info.rasa_url, info.action_url
        self.database_url, self.env = info.database_url, info.env
        self.log_path = Path(info.log_path or "")
        self.provider_url = provider_url

    # ---- REST (haven chat)
    def send(self, sender: str, message: str, metadata: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": sender, "message": message}
        if metadata:
            body["metadata"] = metadata
        resp = httpx.post(f"{self.rasa_url}/webhooks/rest/webhook", json=body, timeout=60)
        resp.raise_for_status()
        return list(resp.json())

    # ---- provider webhooks
    def twilio(self, channel: str, address: str, text: str) -> httpx.Response:
        """A signed Twilio webhook from `address` (E.164) on "sms" or "whatsapp"."""
        from twilio.request_validator import RequestValidator

        prefix = "whatsapp:" if channel == "whatsapp" else ""
        form = {
            "MessageSid": f"SM{next(_ids):032x}"[:34], "AccountSid": TWILIO_SID, "From": prefix + address,
            "To": prefix + (WHATSAPP_FROM if channel == "whatsapp" else SMS_FROM), "Body": text, "NumMedia": "0",
        }
        path = f"/webhooks/{channel}/webhook"
        headers = {"content-type": "application/x-www-form-urlencoded",
                   "x-twilio-signature": RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, form)}
        return httpx.post(self.rasa_url + path, content=urlencode(form).encode(), headers=headers, timeout=30)

    def telegram(self, chat_id: int, text: str, language_code: str = "en") -> httpx.Response:
        update = {"update_id": next(_ids), "message": {
            "message_id": next(_ids) % 100000, "date": int(time.time()), "text": text,
            "chat": {"id": chat_id, "type": "private", "first_name": "T"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "T", "language_code": language_code}}}
        headers = {"content-type": "application/json", "x-telegram-bot-api-secret-token": TELEGRAM_SECRET}
        return httpx.post(f"{self.rasa_url}/webhooks/telegram/webhook", content=json.dumps(update), headers=headers,
                          timeout=30)

    def provider_requests(self, after: int = 0) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.provider_url}/__fake__/requests", params={"after": after}, timeout=10).json())

    def last_seq(self) -> int:
        requests = self.provider_requests()
        return max((r["seq"] for r in requests), default=0)

    def replies_to(self, recipient: str, after: int, count: int = 1, timeout: float = 30) -> list[dict[str, Any]]:
        """Provider calls to `recipient` after `after`, waiting until at least `count` (or timeout)."""
        resp = httpx.get(f"{self.provider_url}/__fake__/wait",
                         params={"to": recipient, "after": after, "count": count, "timeout": timeout},
                         timeout=timeout + 10)
        return list(resp.json())


@pytest.fixture(scope="session")
def trained_model() -> Path:
    from bot.model import train_if_needed

    return train_if_needed()


@pytest.fixture(scope="session")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    port = free_port()
    provider_url = f"http://127.0.0.1:{port}"
    provider = subprocess.Popen([sys.executable, "-m", "tests.fakes.provider", "--port", str(port)],
                                cwd=Path(__file__).resolve().parents[2], stdout=subprocess.DEVNULL)
    env = dict(
        TEST_KEYS, HAVEN_LOG_LEVEL="DEBUG", LOG_LEVEL="DEBUG", HAVEN_DEFAULT_COUNTRY="KE",
        HAVEN_PUBLIC_URL=PUBLIC_URL, HAVEN_TWILIO_ACCOUNT_SID=TWILIO_SID, HAVEN_TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        HAVEN_TWILIO_SMS_FROM=SMS_FROM, HAVEN_TWILIO_WHATSAPP_FROM=WHATSAPP_FROM,
        HAVEN_TWILIO_WHATSAPP_TEMPLATE_SID=TEMPLATE_SID, HAVEN_TWILIO_API_BASE=provider_url,
        HAVEN_TELEGRAM_TOKEN=TELEGRAM_TOKEN, HAVEN_TELEGRAM_SECRET=TELEGRAM_SECRET,
        HAVEN_TELEGRAM_API_BASE=provider_url,
    )
    try:
        with temp_stack(str(folder), env, log_path=str(folder / "stack.log"), rasa_debug=True) as info:
            yield Stack(info, provider_url)
    finally:
        provider.terminate()
        provider.wait(10)
