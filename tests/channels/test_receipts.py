"""Receipts: a message that could not be handled is never marked received (the retry gets in)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from bot.store.db import session_scope
from bot.store.models import InboundReceipt
from tests.channels.conftest import FakeRasa, Harness, load_rows
from tests.channels.test_inbound import _build, _channel
from tests.fakes.provider import FakeProvider


def _receipts() -> int:
    with session_scope() as s:
        return int(s.execute(select(func.count()).select_from(InboundReceipt)).scalar_one())


@pytest.mark.parametrize("provider", ["sms", "whatsapp", "telegram"])
async def test_a_failed_message_is_not_marked_received(
    provider: str, channel_env: str, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate fails once (500): no receipt is left, so the provider's retry makes the turn."""
    import channels.pipeline as pipeline

    real = pipeline.screen
    calls: list[int] = []

    async def flaky(inbound: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return await real(inbound)

    monkeypatch.setattr(pipeline, "screen", flaky)
    row = load_rows(provider, "inbound.json")[0]
    rasa = FakeRasa()
    harness = await Harness(_channel(provider), rasa).start()
    try:
        body, headers = _build(provider, row["requests"][0], harness.path)
        first = await harness.post(body, headers)
        await harness.settle()
        assert first.status_code == 500 and rasa.messages == []
        assert _receipts() == 0
        retry = await harness.post(body, headers)
        await harness.settle()
    finally:
        await harness.stop()
    assert retry.status_code == 200 and len(rasa.messages) == 1
    assert _receipts() == 1




async def test_lone_surrogate_during_a_live_handoff_is_a_400_and_not_received(channel_env: str, fake: FakeProvider) -> None:
    """An officer holds her chat: a lone surrogate is refused (400), not half-stored (500)."""
    import json
    import time

    from bot.staff.credentials import create_officer
    from bot.crypto import pseudonym
    from bot.handoff import service
    from bot.handoff.models import HandoffMessage
    from bot.settings import get_settings
    from tests.channels.conftest import telegram_request

    row = load_rows("telegram", "inbound.json")[0]["requests"][0]["update"]
    conv = pseudonym(get_settings().pseudonym_key, "telegram", str(row["message"]["chat"]["id"]))
    officer = create_officer("officer-surrogate", "correct horse battery staple 42", role="officer", languages=["en"])
    queued = service.enqueue(conv, channel="telegram", language="en")
    service.claim(queued.handoff_id, officer.officer_id)
    rasa = FakeRasa()
    harness = await Harness(_channel("telegram"), rasa).start()
    update = json.loads(json.dumps(row).replace('"__NOW__"', str(int(time.time()))))
    try:
        bad = json.dumps(dict(update, message=dict(update["message"], text="MRK-h1 \ud800"))).replace("\\\\ud800", "\\ud800")
        first = await harness.post(*telegram_request(bad))
        good = await harness.post(*telegram_request(dict(update, update_id=update["update_id"] + 1)))
        await harness.settle()
    finally:
        await harness.stop()
    assert first.status_code == 400 and good.status_code == 200 and rasa.messages == []
    assert _receipts() == 1
    with session_scope() as s:
        assert s.execute(select(func.count()).select_from(HandoffMessage)).scalar_one() == 1  # the good one only
