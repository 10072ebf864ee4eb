"""The safety gate's hook: while an officer holds her conversation, her messages go to the
officer's transcript (not to Rasa), and replies held for her WhatsApp window go out."""

from __future__ import annotations

import asyncio
from typing import Optional, Protocol

from bot import ports
from bot.handoff.models import FAILED, SENT
from bot.handoff.transcript import append_survivor_message, has_active_claim, held_messages, mark_delivery
from bot.handoff.writes import MAX_TEXT


class Inbound(Protocol):
    """What the relay reads of bot.safety.gate.Inbound (a protocol: the gate imports us)."""

    conversation_id: str
    text: Optional[str]
    payload: Optional[str]
    location: Optional[tuple[float, float]]


def _inbound_body(inbound: Inbound) -> Optional[str]:
    if inbound.text and inbound.text.strip():
        return inbound.text.strip()[:MAX_TEXT]
    if inbound.location:
        lat, lon = inbound.location
        return f"\U0001F4CD {lat:.5f}, {lon:.5f}"
    if inbound.payload:
        return inbound.payload[:MAX_TEXT]
    return None


async def relay_inbound_if_active(inbound: Inbound) -> bool:
    """Safety-gate hook: while an officer has her conversation, her message goes to the officer.

    Returns True when the message was added to the transcript (Rasa is skipped); False while the
    handoff is merely queued or there is none (the bot answers, e.g. to let her leave the queue).
    """
    body = _inbound_body(inbound)
    if body is None or not await asyncio.to_thread(has_active_claim, inbound.conversation_id):
        return False  # the common case costs one indexed read, not a write transaction
    relayed = await asyncio.to_thread(append_survivor_message, inbound.conversation_id, body)
    if relayed is None:
        return False
    if relayed.held_seqs:
        await deliver_held(relayed.handoff_id, relayed.held_seqs)
    return True


async def deliver_held(handoff_id: int, seqs: list[int], outbound: Optional[ports.Sender] = None) -> None:
    """Send replies held while the WhatsApp window was closed (she has just written, so it is open)."""
    if outbound is None:
        outbound = ports.get_sender()  # registered by the channels at start-up
        if outbound is None:
            return
    conversation_id, messages = await asyncio.to_thread(held_messages, handoff_id, seqs)
    for seq, body in messages:
        try:
            await outbound.send_to_conversation(conversation_id, [{"text": body}])
        except Exception as exc:  # noqa: BLE001 - typed channel errors; record the type only
            await asyncio.to_thread(mark_delivery, handoff_id, seq, FAILED, type(exc).__name__)
            continue
        await asyncio.to_thread(mark_delivery, handoff_id, seq, SENT)
