"""A typed number picks from the options of her latest message only; out of range, she is asked
again in her language ("please pick 1 to 2"), and no older list is ever used."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.crypto import pseudonym
from bot.settings import get_settings
from tests.channels.conftest import FakeRasa, Harness, telegram_request, twilio_request
from tests.channels.test_inbound import _channel
from tests.fakes.provider import FakeProvider

OLD = [{"title": f"Place {i}", "payload": f'/services_pick{{"choice": "{i}"}}'} for i in (1, 2, 3)]
MENU = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]


class _Store:
    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    async def retrieve(self, sender_id: str) -> Any:
        return self.tracker


def _tracker(conversation: str) -> DialogueStateTracker:
    """An older three-item list, her pick, then a two-option menu (the latest message)."""
    return DialogueStateTracker.from_events(conversation, [
        UserUttered("where"), BotUttered("three places", data={"buttons": OLD}),
        UserUttered("2"), BotUttered("safe to talk?", data={"buttons": MENU}),
    ])


def _request(provider: str, address: str, text: str, n: int, path: str) -> tuple[bytes, dict[str, str]]:
    if provider == "telegram":
        chat = int(address)
        return telegram_request({"update_id": 930000 + n, "message": {
            "message_id": 70 + n, "date": int(time.time()), "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "x", "language_code": "fr"}, "text": text}})
    form = {"MessageSid": f"SM{n:032d}", "From": "whatsapp:" + address, "To": "whatsapp:+15550188888", "Body": text,
            "NumMedia": "0"}
    return twilio_request(form, path=path)


@pytest.mark.parametrize("provider,address,expected", [
    ("telegram", "555000171", "Merci de choisir un numéro de 1 à 2."),
    ("whatsapp", "+15550100171", "Please pick a number from 1 to 2."),
])
async def test_a_number_maps_only_to_the_latest_menu(provider: str, address: str, expected: str, channel_env: str,
                                                     fake: FakeProvider) -> None:
    conversation = pseudonym(get_settings().pseudonym_key, provider, address)
    rasa = FakeRasa()
    harness = Harness(_channel(provider), rasa)
    harness.app.ctx.agent = SimpleNamespace(tracker_store=_Store(_tracker(conversation)))
    await harness.start()
    try:
        out_of_range = await harness.post(*_request(provider, address, "3", 1, harness.path))
        await harness.settle()
        in_range = await harness.post(*_request(provider, address, "2", 2, harness.path))
        await harness.settle()
    finally:
        await harness.stop()
    assert out_of_range.status_code == in_range.status_code == 200
    assert [m.text for m in rasa.messages] == ["/deny"]  # "3" never reached Rasa, nor the older list
    texts = [r.form.get("text") or r.form.get("Body") for r in fake.requests]
    assert texts == [expected]
