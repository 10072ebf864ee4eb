"""The REST channel (`haven chat`): the same safety gate, no content in logs, no reach into phone conversations."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.settings import get_settings
from bot.store.db import session_scope
from bot.store import tombstones
from bot.store.models import Erasure
from channels.rest import RestInput
from tests.channels.conftest import FakeRasa, Harness

HEADERS = {"content-type": "application/json"}


async def _post(payload: object, rasa: FakeRasa, channel: RestInput | None = None) -> tuple[int, object]:
    harness = await Harness(channel or RestInput.from_credentials(None), rasa).start()
    try:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        response = await harness.post(body, HEADERS)
    finally:
        await harness.stop()
    return response.status_code, response.json() if response.headers.get("content-type", "").startswith("application/json") else response.text


async def test_rest_passes_text_and_metadata_to_rasa(channel_env: str) -> None:
    rasa = FakeRasa(replies=[{"text": "hi back"}])
    status, body = await _post({"sender": "dev-chat-1", "message": "hello MRK-r1", "metadata": {"language": "fr"}}, rasa)
    assert status == 200 and body == [{"recipient_id": "dev-chat-1", "text": "hi back"}]
    (message,) = rasa.messages
    assert message.text == "hello MRK-r1" and message.sender_id == "dev-chat-1" and message.input_channel == "rest"
    assert message.metadata == {"language": "fr", "language_hint": "fr", "country": None, "channel": "rest"}


async def test_rest_quick_exit_erases_and_answers_with_the_cover_text(channel_env: str) -> None:
    rasa = FakeRasa()
    status, body = await _post({"sender": "dev-chat-2", "message": "##"}, rasa)
    assert status == 200 and body == [{"recipient_id": "dev-chat-2", "text": "Thanks, your settings are saved."}]
    assert rasa.messages == []
    with session_scope() as s:
        assert s.execute(select(Erasure.token)).scalars().all() == [tombstones.token("dev-chat-2")]


@pytest.mark.parametrize(
    "payload,status",
    [
        ({"sender": "a" * 64, "message": "hi"}, 403),  # shaped like a phone-channel conversation id
        ({"message": "hi"}, 400),
        ({"sender": "x", "message": 5}, 400),
        (b"{not json", 400),
        ([1, 2], 400),
    ],
    ids=["pseudonym-shaped sender", "no sender", "message not text", "not json", "not an object"],
)
async def test_rest_rejects(payload: object, status: int, channel_env: str) -> None:
    rasa = FakeRasa()
    got, _ = await _post(payload, rasa)
    assert got == status and rasa.messages == []


async def test_rest_is_off_in_production_unless_enabled(channel_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAVEN_ENV", "production")
    get_settings.cache_clear()
    status, _ = await _post({"sender": "dev", "message": "hi"}, FakeRasa())
    assert status == 404
    status, _ = await _post({"sender": "dev", "message": "hi"}, FakeRasa(), RestInput.from_credentials({"enabled_in_production": True}))
    assert status == 200
