"""channels.outbound: officer replies through the conversation's own channel, opt-out and 24-hour window."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.crypto import pseudonym
from channels.outbound import send_to_conversation, whatsapp_window_open
from bot.safety.erase import erase_conversation
from bot.settings import get_settings
from bot.store.db import session_scope
from bot.store.models import Contact, utcnow
from channels.contacts import mark_stopped, record_inbound
from channels.errors import ContactStopped, Misconfigured
from tests.channels.conftest import TEMPLATE_SID
from tests.fakes.provider import FakeProvider

ADDRESS = {"sms": "+15550100401", "whatsapp": "+15550100402", "telegram": "555000403"}


async def _contact(provider: str) -> str:
    conversation = pseudonym(get_settings().pseudonym_key, provider, ADDRESS[provider])
    await asyncio.to_thread(record_inbound, provider, conversation, f"r-{provider}", ADDRESS[provider], None, True, None)
    return conversation


def _age_last_inbound(conversation: str, hours: float) -> None:
    with session_scope() as s:
        s.execute(update(Contact).where(Contact.conversation_id == conversation).values(last_inbound_at=utcnow() - timedelta(hours=hours)))


@pytest.mark.parametrize("provider", ["sms", "whatsapp", "telegram"])
async def test_officer_reply_goes_out_on_her_channel(provider: str, channel_env: str, fake: FakeProvider) -> None:
    conversation = await _contact(provider)
    delivery = await send_to_conversation(conversation, [{"text": "An officer is here MRK-a1"}])
    assert delivery.sent == 1 and not delivery.via_template and delivery.channel == provider
    (request,) = fake.requests
    if provider == "telegram":
        assert request.form == {"chat_id": ADDRESS[provider], "text": "An officer is here MRK-a1"}
    else:
        prefix = "whatsapp:" if provider == "whatsapp" else ""
        assert request.form["To"] == prefix + ADDRESS[provider]
        assert request.form["Body"] == "An officer is here MRK-a1"


async def test_whatsapp_after_24_hours_sends_the_template_only(channel_env: str, fake: FakeProvider) -> None:
    conversation = await _contact("whatsapp")
    assert await asyncio.to_thread(whatsapp_window_open, conversation)
    await asyncio.to_thread(_age_last_inbound, conversation, 25)
    assert not await asyncio.to_thread(whatsapp_window_open, conversation)
    delivery = await send_to_conversation(conversation, [{"text": "free text MRK-a2"}])
    assert delivery.via_template and delivery.sent == 1
    (request,) = fake.requests
    assert request.form["ContentSid"] == TEMPLATE_SID and "Body" not in request.form
    assert request.form["To"] == "whatsapp:" + ADDRESS["whatsapp"]


async def test_window_closed_without_template_is_misconfigured(channel_env: str, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAVEN_TWILIO_WHATSAPP_TEMPLATE_SID")
    get_settings.cache_clear()
    conversation = await _contact("whatsapp")
    await asyncio.to_thread(_age_last_inbound, conversation, 30)
    with pytest.raises(Misconfigured):
        await send_to_conversation(conversation, [{"text": "x"}])
    assert fake.requests == []


async def test_window_is_whatsapp_only(channel_env: str) -> None:
    conversation = await _contact("sms")
    assert not await asyncio.to_thread(whatsapp_window_open, conversation)
    assert not await asyncio.to_thread(whatsapp_window_open, "0" * 64)


async def test_opted_out_and_erased_contacts_are_stopped(channel_env: str, fake: FakeProvider) -> None:
    opted = await _contact("sms")
    await asyncio.to_thread(mark_stopped, opted)
    with pytest.raises(ContactStopped):
        await send_to_conversation(opted, [{"text": "x"}])
    erased = await _contact("telegram")
    await asyncio.to_thread(erase_conversation, erased)
    with pytest.raises(ContactStopped):
        await send_to_conversation(erased, [{"text": "x"}])
    assert fake.requests == []


async def test_unconfigured_channel_is_misconfigured(channel_env: str, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    conversation = await _contact("telegram")
    monkeypatch.delenv("HAVEN_TELEGRAM_TOKEN")
    get_settings.cache_clear()
    with pytest.raises(Misconfigured):
        await send_to_conversation(conversation, [{"text": "x"}])
