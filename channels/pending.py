"""No turn lost when a replica dies: pending-turn records written before the 200, re-run elsewhere.

The records and their fenced claim are in bot/store/pending_turns.py (read its docstring). Here:
- `with_record`: the extra rows of the receipt transaction, plus the record (stage "received");
- `Recovery`: one loop per process (started by each channel's blueprint at server start) that
  heart-beats this process's records and, every lease/3 seconds and at start, claims the records
  of dead owners and hands each to its channel's `rerun` (the same `_turn` path, through the
  conversation's TurnRunner queue); the output channel is rebuilt from the contact's encrypted
  reply address;
- `exactly_once`: how a re-run reaches Rasa. Under the conversation's Rasa lock, if the tracker
  already holds a UserUttered with the turn's message id the turn ran (its replica died after
  saving): nothing is done. An erase since the turn began drops it too (erase also deletes the
  record, and the tracker store refuses a re-run's events once she erased, `turn_started_at`).
Replies that went out before the death are counted on the record (`HavenOutput.turn_id`) and a
re-run skips that many, so she does not get them twice. At least once, not exactly once: a reply
that reached the provider just before its replica died, its count not yet written, goes again
(counting before sending would lose it instead, and it may be the emergency number).

Nothing here logs content, ids or addresses.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Awaitable, Callable, Optional, Protocol

from rasa.core.channels.channel import UserMessage
from sqlalchemy.orm import Session

from bot.crypto import ConversationCipher
from bot.store import pending_turns, tombstones
from bot.store.db import session_scope
from channels.contacts import ExtraRows
from channels.turns import TurnRunner

log = logging.getLogger("haven.channels.pending")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
STARTED_AT = "turn_started_at"  # re-run metadata: when the original turn began (epoch seconds)


class Rerunnable(Protocol):
    turns: TurnRunner

    def name(self) -> str: ...

    async def rerun(self, claimed: pending_turns.Claimed, app: Any, on_new_message: OnNewMessage) -> None: ...


# Reply counts go through their own threads, not the default executor (which the tracker store,
# send checks and locks share): a reply that went out but is not counted yet would be sent again
# by a re-run if the replica died in that window, and a queue in front of the write widens it.
_COUNTS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="haven-reply-count")


async def count_reply(turn_id: str, sent: int) -> None:
    """Record on the pending turn that `sent` of its replies went out."""
    await asyncio.get_running_loop().run_in_executor(_COUNTS, pending_turns.count_reply, turn_id, sent)


# ---------------------------------------------------------------- the record before the 200


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return None


def received_data(parsed: Any, started_at: datetime) -> dict[str, Any]:
    """What re-running a message from the safety gate on needs (the reply address is the contact's)."""
    return {
        "started_at": started_at.isoformat(), "text": parsed.text, "payload": parsed.payload,
        "location": list(parsed.location) if parsed.location is not None else None,
        "unsupported": parsed.unsupported, "language_hint": parsed.language_hint, "country": parsed.country,
        "extra": {str(k): _json_value(v) for k, v in parsed.extra.items()},
    }


def parsed_fields(data: dict[str, Any]) -> dict[str, Any]:
    """`received_data` back to `Parsed` keyword arguments (without provider id and address)."""
    location = data.get("location")
    extra = {k: datetime.fromisoformat(v["$dt"]) if isinstance(v, dict) and "$dt" in v else v
             for k, v in dict(data.get("extra") or {}).items()}
    return {
        "text": data.get("text"), "payload": data.get("payload"),
        "location": (float(location[0]), float(location[1])) if location else None,
        "unsupported": data.get("unsupported"), "language_hint": data.get("language_hint"),
        "country": data.get("country"), "extra": extra,
    }


def with_record(extra_rows: Optional[ExtraRows], turn_id: str, channel: str, data: dict[str, Any]) -> ExtraRows:
    """The channel's extra rows and the pending-turn record, both in the receipt's transaction."""

    def rows(session: Session, cipher: ConversationCipher) -> None:
        if extra_rows is not None:
            extra_rows(session, cipher)
        pending_turns.add(session, cipher, turn_id, channel, data)

    return rows


# ---------------------------------------------------------------- re-running exactly once


def _erased_since(conversation_id: str, started_at: datetime) -> bool:
    with session_scope() as session:
        erased_at = tombstones.erased_at(session, conversation_id)
    return erased_at is not None and erased_at >= started_at


def ran(events: Any, message_id: str) -> bool:
    """Whether a tracker's events hold the user message with this Rasa message id."""
    from rasa.shared.core.events import UserUttered

    return any(isinstance(e, UserUttered) and e.message_id == message_id for e in events or ())


def agent_ready(app: Any) -> bool:
    """Whether this process can run a Rasa turn now. Rasa keeps serving webhooks with an agent but
    no model (a model that failed to load, or none yet), and its `handle_message` then drops the
    message with a log line: a turn handed to it would be lost. No Rasa agent: a test app."""
    from rasa.core.agent import Agent

    agent = getattr(getattr(app, "ctx", None), "agent", None)
    return not isinstance(agent, Agent) or agent.is_ready()


def exactly_once(app: Any, on_new_message: OnNewMessage, started_at: datetime) -> OnNewMessage:
    """An `on_new_message` for a re-run: skipped if the turn was saved or she erased since it began."""

    async def run(message: UserMessage) -> Any:
        cid = message.sender_id
        # The tracker store refuses this turn's events if she erased after it began.
        message.metadata = dict(message.metadata or {}, **{STARTED_AT: started_at.timestamp()})
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        lock_store = getattr(agent, "lock_store", None)
        if agent is None or lock_store is None or getattr(agent, "processor", None) is None:
            # No Rasa agent in this process (tests): the erase check only, then the handler.
            if await asyncio.to_thread(_erased_since, cid, started_at):
                return None
            return await on_new_message(message)
        async with lock_store.lock(cid):  # what Agent.handle_message does, plus the checks inside
            tracker = await agent.tracker_store.retrieve_full_tracker(cid)
            if tracker is not None and ran(tracker.events, str(message.message_id)):
                log.info("recovered turn had already run: dropped")
                return None
            if await asyncio.to_thread(_erased_since, cid, started_at):
                log.info("recovered turn of an erased conversation: dropped")
                return None
            return await agent.processor.handle_message(message)

    return run


# ---------------------------------------------------------------- the recovery loop


class Recovery:
    """This process's heartbeat and recovery loop over the channels that registered."""

    def __init__(self) -> None:
        self.channels: dict[str, tuple[Rerunnable, Any, OnNewMessage]] = {}
        self._task: Optional[asyncio.Task[None]] = None

    def register(self, channel: Rerunnable, app: Any, on_new_message: OnNewMessage) -> None:
        self.channels[channel.name()] = (channel, app, on_new_message)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def unregister(self, channel: Rerunnable) -> None:
        self.channels.pop(channel.name(), None)
        if not self.channels and self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await asyncio.to_thread(pending_turns.heartbeat)
                await self.recover_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the type only; try again next round
                log.warning("pending-turn recovery failed: %s", type(exc).__name__)
            await asyncio.sleep(pending_turns.lease().total_seconds() / 3)

    async def recover_once(self, now: Optional[datetime] = None) -> int:
        """Claim the expired records of the registered channels and queue their re-runs."""
        if not self.channels:
            return 0
        ready = [name for name, (_, app, _) in self.channels.items() if agent_ready(app)]
        if not ready:  # a replica without a model takes no one's turns (it would drop them)
            return 0
        count = 0
        for turn_id in await asyncio.to_thread(pending_turns.expired, ready, now):
            claimed = await asyncio.to_thread(pending_turns.claim, turn_id, now)
            entry = self.channels.get(claimed.channel) if claimed is not None else None
            if claimed is None or entry is None:
                continue
            channel, app, on_new_message = entry
            channel.turns.spawn(channel.rerun(claimed, app, on_new_message), f"{channel.name()} recovered turn",
                                claimed.conversation_id)
            count += 1
        if count:
            log.info("%d pending turn(s) of a stopped replica re-run", count)
        return count


RECOVERY = Recovery()
