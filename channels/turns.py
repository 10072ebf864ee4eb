"""Background turns: the runner that keeps them (one conversation at a time), and a turn's input.

`TurnInput` is everything `HavenChannel._turn` needs to run (or re-run) one Rasa turn; it is what
a pending-turn record stores, encrypted (bot/store/pending_turns.py, channels/pending.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Optional

log = logging.getLogger("haven.channels")


@dataclass
class TurnInput:
    """One turn: the text for Rasa (after the gate's rewrite, a payload or the location intent),
    the notices before it, metadata, language, and the deterministic Rasa message id (`turn_id`)."""

    turn_id: str
    channel: str
    conversation_id: str
    language: str
    started_at: datetime
    text: Optional[str] = None
    unsupported: Optional[str] = None
    pick_range: Optional[int] = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "turn_id": self.turn_id, "channel": self.channel, "conversation_id": self.conversation_id,
            "language": self.language, "started_at": self.started_at.isoformat(), "text": self.text,
            "unsupported": self.unsupported, "pick_range": self.pick_range, "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TurnInput":
        pick = data.get("pick_range")
        return cls(
            turn_id=str(data["turn_id"]), channel=str(data["channel"]), conversation_id=str(data["conversation_id"]),
            language=str(data["language"]), started_at=datetime.fromisoformat(str(data["started_at"])),
            text=data.get("text"), unsupported=data.get("unsupported"), pick_range=int(pick) if pick else None,
            metadata=dict(data.get("metadata") or {}),
        )



class TurnRunner:
    """Background tasks for turns: kept referenced, one conversation at a time, drained on stop."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    def spawn(self, coro: Awaitable[None], what: str, conversation_id: Optional[str] = None) -> None:
        """Run `coro` in the background; with a conversation id, after that conversation's earlier turns."""
        task = asyncio.get_running_loop().create_task(self._guard(coro, what, conversation_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coro: Awaitable[None], what: str, conversation_id: Optional[str]) -> None:
        try:
            if conversation_id is None:
                await coro
                return
            lock = self._locks.setdefault(conversation_id, asyncio.Lock())
            self._users[conversation_id] = self._users.get(conversation_id, 0) + 1
            try:
                async with lock:
                    await coro
            finally:
                self._users[conversation_id] -= 1
                if self._users[conversation_id] == 0:
                    del self._users[conversation_id]
                    self._locks.pop(conversation_id, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - log the type only: messages may carry content
            log.error("%s failed: %s", what, type(exc).__name__)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: Optional[float] = None) -> None:
        """Wait for every background task (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
            if timeout is not None:
                break
