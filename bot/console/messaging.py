"""What the console sends to a survivor, through the channels' sender (bot.ports, channels.outbound).

Officer replies go out verbatim; the bot's own lines (connected, closing, queue updates) are
rendered from locales in her language. On WhatsApp, when her 24-hour window is closed, an
officer reply is stored as HELD: outbound sends its neutral template prompt once, and held
replies are delivered when she writes again (bot.handoff.service.deliver_held). The bot's own
lines are simply not sent then (Haven never messages first).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any, Optional, Protocol, cast

from bot import ports
from bot.handoff import service
from bot.handoff.models import FAILED, HELD, SENT

log = logging.getLogger("haven.console.messaging")


class Outbound(Protocol):
    async def send_to_conversation(self, conversation_id: str, messages: list[dict[str, Any]]) -> Any: ...

    def whatsapp_window_open(self, conversation_id: str) -> bool: ...


def default_outbound() -> Optional[Outbound]:
    """The channels' sender (bot.ports), registered here at console start-up (else None: replies
    are marked failed)."""
    try:
        importlib.import_module("channels.outbound").register()
    except ModuleNotFoundError as exc:
        if exc.name != "channels.outbound":
            raise
    return cast(Optional[Outbound], ports.get_sender())


async def window_open(outbound: Optional[Outbound], conversation_id: str, channel: str) -> bool:
    if channel != "whatsapp":
        return True
    if outbound is None:
        return False
    return bool(await asyncio.to_thread(outbound.whatsapp_window_open, conversation_id))


async def deliver_reply(outbound: Optional[Outbound], delivery: service.Delivery, text: str, already_held: bool) -> str:
    """Send an officer reply; returns the delivery state recorded (sent, held, failed)."""
    if outbound is None:
        state, error = FAILED, "outbound_unavailable"
    else:
        try:
            if await window_open(outbound, delivery.conversation_id, delivery.channel):
                result = await outbound.send_to_conversation(delivery.conversation_id, [{"text": text}])
                # channels.outbound reports a template sent instead of the text (window closed meanwhile)
                state, error = (HELD if getattr(result, "via_template", False) else SENT), None
            else:
                if not already_held:  # one neutral template prompt, not one per reply
                    await outbound.send_to_conversation(delivery.conversation_id, [{"text": text}])
                state, error = HELD, None
        except Exception as exc:  # noqa: BLE001 - channel errors are typed; keep only the type
            state, error = FAILED, type(exc).__name__
            log.warning("officer reply not delivered (%s)", error)
    await asyncio.to_thread(service.mark_delivery, delivery.handoff_id, delivery.seq, state, error)
    return state


async def send_line(
    outbound: Optional[Outbound],
    conversation_id: str,
    channel: str,
    language: str,
    country: Optional[str],
    response: str,
    **args: Any,
) -> bool:
    """Send one of the bot's own lines (only inside an open window); True if sent."""
    if outbound is None or not await window_open(outbound, conversation_id, channel):
        return False
    from bot import country_texts

    message = country_texts.render(response, {"country": country}, language, channel, args)
    message["language"] = language  # the channel words its own framing ("Reply 1 or 2") in it
    try:
        await outbound.send_to_conversation(conversation_id, [message])
    except Exception as exc:  # noqa: BLE001
        log.warning("bot line %s not delivered (%s)", response, type(exc).__name__)
        return False
    return True
