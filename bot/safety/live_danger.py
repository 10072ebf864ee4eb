"""Danger during a live officer chat, where her message goes to the transcript and not to Rasa.

The same danger decision (bot/safety/danger.py, lexicon only: there is no model here) runs on her
message after the gate has relayed it. On danger: a content-free note right after her message
flags it for the officer, the handoff's risk goes to danger, and she gets the emergency number
through her channel at once when no officer has answered in the last minute; otherwise Haven
waits up to a minute for the officer's answer and sends the number if none came.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from sqlalchemy.engine import Engine

from bot.handoff.live_flags import (  # noqa: F401  (FLAG_NOTE, THEN_*, SENT_NOTE: the notes' wording)
    ANSWER_WINDOW,
    FLAG_NOTE,
    SENT_NOTE,
    THEN_SENT,
    THEN_WAIT,
    LiveFlag,
    flag_transcript,
    note_sent,
    officer_answered_since,
)
from bot.safety import danger

log = logging.getLogger("haven.safety.live_danger")

_pending: set[asyncio.Task[Any]] = set()


def emergency_message(flag: LiveFlag) -> dict[str, Any]:
    """The emergency reply in her language, for her country (helper-phrased for someone else)."""
    from bot import country_texts

    name = "utter_emergency_other" if flag.subject == "other" else "utter_emergency"
    # Through the country variants, as /nlg renders: with her country unknown, the served
    # countries' numbers, never an empty one.
    return country_texts.render(name, {"country": flag.country}, flag.language, flag.channel, {})


async def _send(flag: LiveFlag, outbound: Any, engine: Optional[Engine]) -> None:
    try:
        await outbound.send_to_conversation(flag.conversation_id, [emergency_message(flag)])
    except Exception as exc:  # noqa: BLE001 - typed channel errors: record the type, never the content
        log.warning("live-chat emergency number not delivered (%s)", type(exc).__name__)
        return
    if flag.officer_recent:
        await asyncio.to_thread(note_sent, flag.handoff_id, engine)


async def _after_window(flag: LiveFlag, outbound: Any, engine: Optional[Engine], wait: float) -> None:
    await asyncio.sleep(wait)
    if not await asyncio.to_thread(officer_answered_since, flag.handoff_id, flag.flagged_at, engine):
        await _send(flag, outbound, engine)


def _default_sender() -> Any:
    """The channel sender registered at start-up (bot.ports), or None."""
    from bot.ports import get_sender

    return get_sender()


async def on_live_message(inbound: Any, outbound: Any = None, engine: Optional[Engine] = None,
                          wait: Optional[float] = None) -> Optional[LiveFlag]:
    """After the gate relayed her message to an officer: the danger decision and what follows."""
    decision = danger.decide(inbound.text)
    if not decision.is_danger:
        return None
    flag = await asyncio.to_thread(flag_transcript, inbound.conversation_id, decision.subject, engine)
    if flag is None:
        return None
    log.info("danger in a live chat: flagged for the officer (handoff %s)", flag.handoff_id)
    outbound = outbound if outbound is not None else _default_sender()
    if outbound is None:
        log.warning("danger in a live chat: no sender registered, emergency number not sent")
        return flag
    if not flag.officer_recent:
        await _send(flag, outbound, engine)
    else:
        task = asyncio.create_task(_after_window(flag, outbound, engine,
                                                 ANSWER_WINDOW.total_seconds() if wait is None else wait))
        _pending.add(task)
        task.add_done_callback(_pending.discard)
    return flag
