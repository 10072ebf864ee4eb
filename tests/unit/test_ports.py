"""The core's ports: the channels register a sender at start-up; erase side effects subscribe."""

from __future__ import annotations

import logging
from typing import Any, Iterator, Sequence

import pytest

from bot import ports
from bot.safety import erase
from bot.safety.erase import EraseReport


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run with an empty sender slot and erased-listener list; restore them afterwards."""
    monkeypatch.setattr(ports, "_sender", None)
    monkeypatch.setattr(erase, "_erased_listeners", [])
    yield


class RecordingSender:
    def __init__(self) -> None:
        self.deleted: list[tuple[str, list[int]]] = []

    async def send_to_conversation(self, conversation_id: str, messages: Sequence[Any]) -> Any:
        raise AssertionError("not used here")

    def whatsapp_window_open(self, conversation_id: str) -> bool:
        return True

    async def delete_telegram_messages(self, chat_id: str, message_ids: Sequence[int]) -> None:
        self.deleted.append((chat_id, list(message_ids)))


def test_no_sender_until_a_channel_registers_one(clean_registry: None) -> None:
    assert ports.get_sender() is None
    sender = RecordingSender()
    ports.register_sender(sender)
    assert ports.get_sender() is sender


def test_channels_register_their_sender_and_the_telegram_deletion(clean_registry: None) -> None:
    from channels import outbound

    outbound.register()
    outbound.register()  # idempotent: a second start-up call adds nothing
    assert ports.get_sender() is outbound.SENDER
    assert erase._erased_listeners == [outbound.delete_telegram_messages]


async def test_phrased_quick_exit_deletes_telegram_messages_through_the_sender(
    clean_registry: None, haven_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.settings import get_settings
    from channels import outbound

    monkeypatch.setenv("HAVEN_TELEGRAM_TOKEN", "123456:test-token")
    monkeypatch.setenv("HAVEN_TELEGRAM_SECRET", "test-secret-value")
    get_settings.cache_clear()
    assert get_settings().telegram_enabled
    fake = RecordingSender()
    monkeypatch.setattr(outbound, "SENDER", fake)
    outbound.register()
    await erase.announce_erased(EraseReport("conv-x", True, [11, 12], telegram_chat_id="555000111"))
    await erase.announce_erased(EraseReport("conv-y", True, []))  # nothing to delete: no call
    assert fake.deleted == [("555000111", [11, 12])]


async def test_a_failing_side_effect_is_logged_by_type_only(clean_registry: None, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    async def broken(report: EraseReport) -> None:
        raise RuntimeError("secret-marker-not-to-be-logged")

    async def after(report: EraseReport) -> None:
        seen.append(report.conversation_id)

    erase.add_erased_listener(broken)
    erase.add_erased_listener(after)
    with caplog.at_level(logging.WARNING, logger="haven.safety.erase"):
        await erase.announce_erased(EraseReport("conv-z", True))
    assert seen == ["conv-z"]  # the next listener still ran
    assert "RuntimeError" in caplog.text and "secret-marker" not in caplog.text


def test_importing_the_handoff_package_subscribes_its_erase_listener() -> None:
    import bot.handoff
    from bot.handoff.erase_hook import on_conversation_erased

    assert bot.handoff is not None
    assert on_conversation_erased in erase._hooks()


def test_the_safety_gate_brings_the_handoff_listener_along() -> None:
    """Every process that erases through the gate has handoffs closed on erase."""
    import subprocess
    import sys

    code = (
        "import bot.safety.gate\n"
        "from bot.safety import erase\n"
        "print([f.__module__ for f in erase._hooks()])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "bot.handoff.erase_hook" in out
