"""Real erase: shred the conversation's data key and delete its rows everywhere Haven keeps them.

Two hooks, so erase imports no feature and no channel:
- `add_erase_listener(fn)`: `fn(session, conversation_id)` runs inside the erase transaction
  (bot.handoff subscribes: transcripts deleted, an open handoff closed as `left`);
- `add_erased_listener(fn)`: `await fn(report)` runs after a phrased quick exit, when the caller
  (the tracker store) calls `announce_erased` (the channels subscribe: delete Telegram messages).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable, Optional

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.crypto import DecryptionError, load_cipher, shred_key
from bot.store import receipts, tombstones
from bot.store.db import checkpoint_sqlite, get_engine, session_scope
from bot.store.models import (
    Contact,
    ConversationKey,
    PendingTurn,
    SafetyState,
    TelegramMessage,
    TrackerEvent,
    utcnow,
)

log = logging.getLogger("haven.safety.erase")

TELEGRAM_DELETE_WINDOW = timedelta(hours=48)


@dataclass
class EraseReport:
    """What an erase removed; `telegram_message_ids` (under 48 h old) are for the channel to delete."""

    conversation_id: str
    had_key: bool
    telegram_message_ids: list[int] = field(default_factory=list)
    # Where to delete them (memory only, never stored or logged; set only for Telegram contacts).
    telegram_chat_id: Optional[str] = field(default=None, repr=False)


EraseListener = Callable[[Session, str], None]
ErasedListener = Callable[[EraseReport], Awaitable[None]]
_listeners_lock = threading.Lock()
_erase_listeners: list[EraseListener] = []
_erased_listeners: list[ErasedListener] = []


def add_erase_listener(listener: EraseListener) -> None:
    """Call `listener(session, conversation_id)` inside every erase transaction (idempotent)."""
    with _listeners_lock:
        if listener not in _erase_listeners:
            _erase_listeners.append(listener)


def add_erased_listener(listener: ErasedListener) -> None:
    """Await `listener(report)` in `announce_erased` (idempotent)."""
    with _listeners_lock:
        if listener not in _erased_listeners:
            _erased_listeners.append(listener)


def _hooks() -> list[EraseListener]:
    with _listeners_lock:
        return list(_erase_listeners)


async def announce_erased(report: EraseReport) -> None:
    """After an erase whose caller has no channel at hand (a phrased quick exit, seen by the
    tracker store): run the side effects, e.g. delete her recent Telegram messages."""
    with _listeners_lock:
        listeners = list(_erased_listeners)
    for listener in listeners:
        try:
            await listener(report)
        except Exception as exc:  # noqa: BLE001 - the erase itself is done; keep only the type
            log.warning("erase side effect failed (%s)", type(exc).__name__)


def erase_conversation(conversation_id: str, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> EraseReport:
    """Erase one conversation: hooks, rows, key; then checkpoint the SQLite WAL."""
    engine = engine or get_engine()
    now = now or utcnow()
    with session_scope(engine, immediate=True) as session:
        cipher = None
        try:
            cipher = load_cipher(session, conversation_id)
        except DecryptionError:
            log.warning("erase: data key could not be unwrapped; deleting rows anyway")
        tg_ids: list[int] = []
        if cipher is not None:
            rows = session.execute(
                select(TelegramMessage).where(
                    TelegramMessage.conversation_id == conversation_id,
                    TelegramMessage.sent_at > now - TELEGRAM_DELETE_WINDOW,
                )
            ).scalars()
            for row in rows:
                try:
                    tg_ids.append(int(cipher.decrypt_text(row.message_id_ct, f"telegram_messages|{row.direction}")))
                except DecryptionError:
                    continue
        chat_id: Optional[str] = None
        contact = session.get(Contact, conversation_id)
        if cipher is not None and contact is not None and contact.channel == "telegram" and contact.address_ct:
            try:
                chat_id = cipher.decrypt_text(contact.address_ct, "contacts|address")
            except DecryptionError:
                chat_id = None
        for hook in _hooks():
            hook(session, conversation_id)
        # Inbound receipts stay (they hold no conversation id): a replay of any message she sent
        # before stays a duplicate, so it makes no turn, no contact row and no reply.
        # Her pending turns too (a turn in flight is never re-run after she erased).
        for model in (TrackerEvent, TelegramMessage, Contact, SafetyState, PendingTurn):
            session.execute(delete(model).where(model.conversation_id == conversation_id))
        had_key = shred_key(session, conversation_id)
        tombstones.mark(session, conversation_id, now)
    checkpoint_sqlite(engine)
    log.info("conversation erased")
    return EraseReport(conversation_id, had_key, sorted(set(tg_ids)), chat_id if tg_ids else None)


def idle_conversations(cutoff: datetime, engine: Optional[Engine] = None) -> list[str]:
    """Conversations with no activity since `cutoff` (by events, contact activity and key age)."""
    engine = engine or get_engine()
    cutoff_ts = cutoff.timestamp()
    with session_scope(engine) as session:
        last_event = dict(
            session.execute(
                select(TrackerEvent.conversation_id, func.max(TrackerEvent.timestamp)).group_by(
                    TrackerEvent.conversation_id
                )
            ).all()
        )
        contacts = dict(session.execute(select(Contact.conversation_id, Contact.last_active_at)).all())
        keys = dict(session.execute(select(ConversationKey.conversation_id, ConversationKey.created_at)).all())
    idle = []
    for cid in set(last_event) | set(contacts) | set(keys):
        latest = max(
            [last_event.get(cid) or 0.0]
            + [t.timestamp() for t in (contacts.get(cid), keys.get(cid)) if t is not None]
        )
        if latest < cutoff_ts:
            idle.append(cid)
    return sorted(idle)


def erase_idle_conversations(days: Optional[int] = None, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> int:
    """The retention job: erase every conversation idle longer than `days`; prune old tombstones
    (bot/store/tombstones.py) and receipts (bot/store/receipts.py)."""
    from bot.settings import get_settings

    days = get_settings().retention_days if days is None else days
    now = now or datetime.now(timezone.utc)
    cutoff = now - timedelta(days=days)
    count = 0
    for cid in idle_conversations(cutoff, engine):
        erase_conversation(cid, engine, now=now)
        count += 1
    with session_scope(engine or get_engine()) as session:
        tombstones.prune(session, now)
        receipts.prune(session, now)
    return count
