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


