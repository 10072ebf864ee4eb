"""Rasa tracker store that encrypts every event under the conversation's data key.

Referenced from endpoints.yml as `bot.rasa_adapters.tracker_store.EncryptedTrackerStore`. Event JSON
(which holds her words, entities and slot values) is stored only as AES-GCM ciphertext bound to
its row; only the event type and timestamp stay clear (the latest-session query needs them), and
intent and action names (which say what she asked: `immediate_danger`) are only inside the
ciphertext. Database work runs in a worker thread so the Rasa event loop is never blocked.

Erase integration: when a turn ran `action_quick_exit`, `save` erases the conversation instead of
writing it; and events stamped before an erase tombstone are never written back (a turn that
was in flight when she quick-exited cannot resurrect what was erased).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Iterable, List, Optional, Text, cast

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SerializedTrackerAsText, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import func, or_, select
from sqlalchemy.engine import Engine

import bot.handoff  # noqa: F401 - subscribes the handoff erase listener (a quick exit closes it)
from bot.crypto import DecryptionError, get_or_create_cipher, load_cipher
from bot.store import tombstones
from bot.store.db import get_engine, session_scope
from bot.store.models import TrackerEvent

log = logging.getLogger("haven.store.tracker")

QUICK_EXIT_ACTION = "action_quick_exit"
TURN_STARTED_AT = "turn_started_at"  # equal to channels.pending.STARTED_AT (a test checks)


def _context(type_name: str, timestamp: Any) -> str:
    return f"tracker_events|{type_name}|{timestamp!r}"


def _began_before(events: List[Any], erased_ts: float) -> bool:
    """Whether these events belong to a re-run turn that began before `erased_ts`: its events are
    stamped now, so the timestamp filter would let them revive the erased conversation."""
    for event in events:
        began = (getattr(event, "metadata", None) or {}).get(TURN_STARTED_AT) if isinstance(event, UserUttered) else None
        if isinstance(began, (int, float)) and began <= erased_ts:
            return True
    return False


class EncryptedTrackerStore(TrackerStore, SerializedTrackerAsText):
    """Per-conversation encrypted SQL tracker store on Haven's database (SQLite or PostgreSQL)."""

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[Text] = None,
        event_broker: Optional[EventBroker] = None,
        database_url: Optional[Text] = None,
        engine: Optional[Engine] = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(domain, event_broker, **kwargs)
        self._engine = engine or get_engine(database_url or None)

    # ------------------------------------------------------------------ queries
    @staticmethod
    def _in_latest_session(query: Any, conversation_id: str) -> Any:
        """Restrict a tracker_events query to the conversation's latest session (as Rasa does)."""
        start = (
            select(func.max(TrackerEvent.timestamp))
            .where(
                TrackerEvent.conversation_id == conversation_id,
                TrackerEvent.type_name == SessionStarted.type_name,
            )
            .scalar_subquery()
        )
        return query.where(TrackerEvent.conversation_id == conversation_id).where(
            or_(start.is_(None), TrackerEvent.timestamp >= start)
        )

    def _session_events(self, session: Any, conversation_id: str, all_sessions: bool) -> List[TrackerEvent]:
        query = select(TrackerEvent)
        if all_sessions:
            query = query.where(TrackerEvent.conversation_id == conversation_id)
        else:
            query = self._in_latest_session(query, conversation_id)
        return list(session.execute(query.order_by(TrackerEvent.id)).scalars())

    def _count_session_events(self, session: Any, conversation_id: str) -> int:
        query = self._in_latest_session(select(func.count()).select_from(TrackerEvent), conversation_id)
        return int(session.execute(query).scalar() or 0)

    # ------------------------------------------------------------------ save
    def _save_sync(self, conversation_id: str, events: List[Any]) -> bool:
        """Write new events; returns True when the turn asked for a quick exit instead."""
        with session_scope(self._engine, immediate=True) as session:
            stored = self._count_session_events(session, conversation_id)
            new_events = events[stored:]
            if any(isinstance(e, ActionExecuted) and e.action_name == QUICK_EXIT_ACTION for e in new_events):
                return True
            erased_at = tombstones.erased_at(session, conversation_id)
            if erased_at is not None:
                erased_ts = erased_at.timestamp()
                if _began_before(new_events, erased_ts):
                    return False  # a re-run of a turn from before her erase (channels/pending.py)
                new_events = [e for e in new_events if (e.timestamp or 0) > erased_ts]
            if not new_events:
                return False
            cipher = get_or_create_cipher(session, conversation_id)
            for event in new_events:
                data = event.as_dict()
                timestamp = data.get("timestamp")
                session.add(
                    TrackerEvent(
                        conversation_id=conversation_id,
                        type_name=event.type_name,
                        timestamp=timestamp,
                        data_ct=cipher.encrypt_text(json.dumps(data), _context(event.type_name, timestamp)),
                    )
                )
        return False

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Encrypt and store the tracker's new events (or erase, after a quick exit)."""
        await self.stream_events(tracker)
        quick_exit = await asyncio.to_thread(self._save_sync, tracker.sender_id, list(tracker.events))
        if quick_exit:
            from bot.safety.erase import announce_erased, erase_conversation

            report = await asyncio.to_thread(erase_conversation, tracker.sender_id, self._engine)
            await announce_erased(report)  # Telegram deletion, as the channel does for "##" and /exit

    # ------------------------------------------------------------------ retrieve
    def _load_sync(self, conversation_id: str, all_sessions: bool) -> List[dict[str, Any]]:
        with session_scope(self._engine) as session:
            rows = self._session_events(session, conversation_id, all_sessions)
            if not rows:
                return []
            cipher = load_cipher(session, conversation_id)
            if cipher is None:
                log.warning("tracker events without a data key were ignored")
                return []
            events = []
            for row in rows:
                try:
                    plain = cipher.decrypt_text(row.data_ct, _context(row.type_name, row.timestamp))
                except DecryptionError:
                    log.error("a tracker event failed authentication and was skipped (id=%s)", row.id)
                    continue
                events.append(cast(dict[str, Any], json.loads(plain)))
            return events

    async def _retrieve(self, conversation_id: Text, all_sessions: bool) -> Optional[DialogueStateTracker]:
        events = await asyncio.to_thread(self._load_sync, conversation_id, all_sessions)
        if not events:
            return None
        return cast(DialogueStateTracker, DialogueStateTracker.from_dict(conversation_id, events, self.domain.slots))

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._retrieve(sender_id, all_sessions=False)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self._retrieve(conversation_id, all_sessions=True)

    async def keys(self) -> Iterable[Text]:
        def _keys() -> List[str]:
            with session_scope(self._engine) as session:
                return list(session.execute(select(TrackerEvent.conversation_id).distinct()).scalars())

        return await asyncio.to_thread(_keys)
