"""Fixtures for the country tests: a migrated SQLite copy per test, every channel on a fake provider."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, AsyncIterator, Iterator, Optional

import pytest

from tests.channels.conftest import (
    PUBLIC_URL,
    SMS_FROM,
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    TEMPLATE_SID,
    TWILIO_SID,
    TWILIO_TOKEN,
    WHATSAPP_FROM,
    Harness,
    telegram_request,
    twilio_request,
)
from tests.fakes.provider import FakeProvider

# A multi-country deployment (no single country to fall back on).
SERVED = "KE,TZ,UG,CD"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (a migration per test would be slow)."""
    from bot.store.db import dispose_engines
    from bot.store.migrate import upgrade

    path = tmp_path_factory.mktemp("country-db") / "template.db"
    upgrade(f"sqlite:///{path}")
    dispose_engines()
    return path


@pytest.fixture
async def fake() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@pytest.fixture
def country_env(haven_env: dict[str, str], migrated_template: Path, tmp_path: Path, fake: FakeProvider,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Every channel configured against the fake provider, on a fresh copy of the migrated database."""
    from bot.settings import get_settings
    from bot.store.db import dispose_engines

    db = tmp_path / "haven.db"
    shutil.copy(migrated_template, db)
    env = {
        "HAVEN_DATABASE_URL": f"sqlite:///{db}",
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
        "HAVEN_SMS_MAX_SEGMENTS": "6",
        "HAVEN_COUNTRIES": SERVED,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    dispose_engines()
    yield env
    dispose_engines()


def channel(provider: str) -> Any:
    from channels.sms import SmsInput
    from channels.telegram import TelegramInput
    from channels.whatsapp import WhatsAppInput

    return {"sms": SmsInput, "whatsapp": WhatsAppInput, "telegram": TelegramInput}[provider].from_credentials(None)


_ids = iter(range(700000, 10**9))


def twilio_message(provider: str, sender: str, text: str, path: str, from_country: Optional[str] = None) -> tuple[bytes, dict[str, str]]:
    """A signed Twilio webhook; `from_country` as Twilio adds it (FromCountry) when given."""
    prefix = "whatsapp:" if provider == "whatsapp" else ""
    form = {"MessageSid": f"SM{next(_ids):032x}"[:34], "AccountSid": TWILIO_SID, "From": prefix + sender,
            "To": prefix + (WHATSAPP_FROM if provider == "whatsapp" else SMS_FROM), "Body": text, "NumMedia": "0"}
    if from_country:
        form["FromCountry"] = from_country
    return twilio_request(form, "valid", path)


def telegram_message(chat_id: int, text: str, language_code: Optional[str]) -> tuple[bytes, dict[str, str]]:
    user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "MRK-tg"}
    if language_code:
        user["language_code"] = language_code
    update = {"update_id": next(_ids), "message": {"message_id": next(_ids) % 100000, "date": int(time.time()),
              "text": text, "chat": {"id": chat_id, "type": "private"}, "from": user}}
    return telegram_request(update)


def telegram_tap(chat_id: int, data: str, language_code: Optional[str]) -> tuple[bytes, dict[str, str]]:
    user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "MRK-tg"}
    if language_code:
        user["language_code"] = language_code
    update = {"update_id": next(_ids), "callback_query": {"id": f"cbq-{next(_ids)}", "from": user, "chat_instance": "ci",
              "data": data, "message": {"message_id": 1, "date": int(time.time()), "chat": {"id": chat_id, "type": "private"},
                                        "text": "..."}}}
    return telegram_request(update)


def sent_texts(fake: FakeProvider) -> list[str]:
    """Texts the fake provider received, in order (Twilio Body or Telegram sendMessage text)."""
    out = []
    for request in fake.requests:
        if request.key == "twilio":
            out.append(str(request.form.get("Body") or ""))
        elif request.key == "telegram:sendMessage":
            out.append(str(request.form.get("text") or ""))
    return out


def telegram_buttons(fake: FakeProvider) -> list[dict[str, Any]]:
    """Inline buttons of every Telegram message sent so far."""
    buttons: list[dict[str, Any]] = []
    for request in fake.requests:
        if request.key == "telegram:sendMessage":
            markup = request.form.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            for row in markup.get("inline_keyboard") or []:
                buttons.extend(row)
    return buttons


__all__ = ["Harness", "SERVED", "channel", "sent_texts", "telegram_buttons", "telegram_message", "telegram_tap", "twilio_message"]
