"""Send messages to a conversation outside a Rasa turn (officer replies from the console).

The channels' side of the core's `bot.ports.Sender`: `register()` (called at start-up by each
process that sends: the Rasa server and the console) installs `SENDER` and subscribes the
Telegram deletion to bot.safety.erase's "erased" event.

`send_to_conversation` looks up the contact, decrypts the reply address and sends through the
conversation's own channel, respecting opt-out, quick exit and the WhatsApp 24-hour window.
Errors are the typed ones of `channels.errors`: ContactStopped (opted out, erased, blocked),
Misconfigured (channel not set up, no template), Retryable / Throttled (try again later).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence

from bot import ports
from bot.safety import erase
from bot.settings import Settings, get_settings
from bot.store.models import utcnow

log = logging.getLogger("haven.outbound")


@dataclass(frozen=True)
class Delivery:
    """What was sent: how many provider messages, and whether a template replaced the text."""

    channel: str
    sent: int
    via_template: bool = False


def whatsapp_window_open(conversation_id: str) -> bool:
    """Whether a free-form WhatsApp message may be sent now (she wrote within 24 hours)."""
    from channels.contacts import load_contact
    from channels.whatsapp import window_open

    info = load_contact(conversation_id)
    return info is not None and info.channel == "whatsapp" and window_open(info.last_inbound_at)


def _output(channel: str, conversation_id: str, address: str, language: Optional[str], settings: Settings) -> Any:
    from channels.errors import Misconfigured

    common: dict[str, Any] = dict(language=language, started_at=utcnow(), raise_errors=True, settings=settings)
    if channel == "sms":
        from channels.sms import SmsOutput

        if not settings.sms_enabled:
            raise Misconfigured("sms", "channel not configured")
        return SmsOutput(conversation_id, address, **common)
    if channel == "whatsapp":
        from channels.whatsapp import WhatsAppOutput

        if not settings.whatsapp_enabled:
            raise Misconfigured("whatsapp", "channel not configured")
        return WhatsAppOutput(conversation_id, address, **common)
    if channel == "telegram":
        from channels.telegram import TelegramOutput

        if not settings.telegram_token:
            raise Misconfigured("telegram", "channel not configured")
        return TelegramOutput(conversation_id, address, **common)
    raise Misconfigured(channel or "unknown", "no outbound channel for this conversation")


async def send_to_conversation(conversation_id: str, messages: Sequence[Mapping[str, Any]]) -> Delivery:
    """Send each message ({text, buttons, custom}) to the conversation; raises channels.errors types.

    WhatsApp after the 24-hour window: the configured neutral template is sent once instead of the
    messages (free text is not allowed); `Delivery.via_template` says so, for the console.
    """
    from channels.errors import ContactStopped, Misconfigured
    from channels.contacts import load_contact
    from channels.whatsapp import window_open

    settings = get_settings()
    info = await asyncio.to_thread(load_contact, conversation_id)
    if info is None or info.address is None:
        raise ContactStopped("outbound", "conversation has no reachable contact")
    if info.opted_out:
        raise ContactStopped(info.channel, "contact opted out")
    output = _output(info.channel, conversation_id, info.address, info.language, settings)
    if info.channel == "whatsapp" and not window_open(info.last_inbound_at):
        template = settings.twilio_whatsapp_template_sid
        if not template:
            raise Misconfigured("whatsapp", "24-hour window closed and HAVEN_TWILIO_WHATSAPP_TEMPLATE_SID not set")
        await output.send_template(info.address, template)
        log.info("whatsapp window closed: template sent instead of free text")
        return Delivery("whatsapp", len(output.sent), via_template=True)
    for message in messages:
        await output.send_response(conversation_id, dict(message))
    return Delivery(info.channel, len(output.sent))


async def delete_telegram_messages(report: erase.EraseReport) -> None:
    """After an erase that did not come through the Telegram channel's own quick exit (a phrased
    "delete all this", handled by Rasa): delete the chat's recent messages on her phone too."""
    from channels.errors import ChannelError

    ids = list(getattr(report, "telegram_message_ids", []) or [])
    chat_id = getattr(report, "telegram_chat_id", None)
    if not ids or not chat_id or not get_settings().telegram_enabled:
        return
    try:
        await SENDER.delete_telegram_messages(chat_id, ids)
    except ChannelError as exc:
        log.warning("telegram: deletion after a phrased quick exit failed (%s)", type(exc).__name__)


class ChannelSender:
    """`bot.ports.Sender` over the provider channels (SMS, WhatsApp, Telegram)."""

    async def send_to_conversation(self, conversation_id: str, messages: Sequence[Mapping[str, Any]]) -> Delivery:
        return await send_to_conversation(conversation_id, messages)

    def whatsapp_window_open(self, conversation_id: str) -> bool:
        return whatsapp_window_open(conversation_id)

    async def delete_telegram_messages(self, chat_id: str, message_ids: Sequence[int]) -> None:
        from channels.telegram_api import TelegramApi

        await TelegramApi.from_settings().delete_messages(chat_id, list(message_ids))


SENDER = ChannelSender()


def register() -> None:
    """Start-up wiring: the core sends through SENDER; a phrased quick exit deletes Telegram messages."""
    ports.register_sender(SENDER)
    erase.add_erased_listener(delete_telegram_messages)
