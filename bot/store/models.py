"""Core tables: conversation keys, contacts, inbound receipts, encrypted tracker events.

Feature packages (directory, handoff, console) declare their tables on the same `Base`
in their own `models.py`; `bot.store.all_models()` imports them all for Alembic.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
Base: Any = declarative_base(metadata=MetaData(naming_convention=NAMING))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


class ConversationKey(Base):
    """A conversation's data key, wrapped by a master key. Deleting the row shreds the content."""

    __tablename__ = "conversation_keys"
    conversation_id = Column(String(64), primary_key=True)
    key_id = Column(String(32), nullable=False)
    wrapped_key = Column(LargeBinary, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Contact(Base):
    """How to reach a conversation: channel, encrypted reply address, opt-out and window state."""

    __tablename__ = "contacts"
    conversation_id = Column(String(64), primary_key=True)
    channel = Column(String(16), nullable=False)
    address_ct = Column(LargeBinary, nullable=True)
    # Her country (from her number) reveals where she is: encrypted, context "contacts|country".
    country_ct = Column(LargeBinary, nullable=True)
    language = Column(String(8), nullable=True)
    opted_out = Column(Boolean, nullable=False, default=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_inbound_at = Column(UTCDateTime, nullable=True)
    last_active_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class InboundReceipt(Base):
    """One row per provider message id (keyed hash): a retried or replayed webhook makes no turn.

    No conversation id: a receipt outlives an erase (a replay after her quick exit must stay a
    duplicate) and cannot be linked back to her. Kept `Settings.receipt_days` (see
    bot/store/receipts.py for why that long); `received_at` is truncated to the day.
    """

    __tablename__ = "inbound_receipts"
    __table_args__ = (UniqueConstraint("channel", "receipt_hash", name="uq_inbound_receipts_channel_hash"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    channel = Column(String(16), nullable=False)
    receipt_hash = Column(String(64), nullable=False)
    received_at = Column(UTCDateTime, nullable=False, default=utcnow)


class TelegramMessage(Base):
    """A Telegram message id (encrypted) with its time, both directions, for quick-exit deletion."""

    __tablename__ = "telegram_messages"
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    direction = Column(String(3), nullable=False)  # "in" | "out"
    message_id_ct = Column(LargeBinary, nullable=False)
    sent_at = Column(UTCDateTime, nullable=False, default=utcnow)


class TrackerEvent(Base):
    """A Rasa tracker event; `data_ct` is the event JSON encrypted under the conversation key.

    Only what the store's queries need stays clear: `type_name` and `timestamp` find the latest
    session (its `session_started` event) and the retention job's last activity. Intent and
    action names (e.g. `immediate_danger`) are inside the ciphertext only.
    """

    __tablename__ = "tracker_events"
    __table_args__ = (Index("ix_tracker_events_conv_id", "conversation_id", "id"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), nullable=False)
    type_name = Column(String(64), nullable=False)
    timestamp = Column(Float, nullable=True)
    data_ct = Column(LargeBinary, nullable=False)


class Erasure(Base):
    """Tombstone: events of this conversation stamped before `erased_at` are never written back.

    `token` is a keyed hash of the conversation id (never the pseudonym itself), and the row lives
    only `bot.store.tombstones.TOMBSTONE_TTL`; after that nothing links the erase to her number.
    """

    __tablename__ = "erasures"
    token = Column(String(64), primary_key=True)
    erased_at = Column(UTCDateTime, nullable=False, default=utcnow)


class SafetyState(Base):
    """Her code word (a keyed hash only), whether one is awaited, and duress mode."""

    __tablename__ = "safety_states"
    conversation_id = Column(String(64), primary_key=True)
    code_word_hash = Column(String(64), nullable=True)
    awaiting = Column(String(8), nullable=True)  # "set" | "check"
    duress = Column(Boolean, nullable=False, default=False)
    last_seen_at = Column(UTCDateTime, nullable=True)


class PendingTurn(Base):
    """A turn accepted (its webhook answered, or about to be) and not yet finished: a surviving
    replica re-runs it if its owner dies (bot/store/pending_turns.py, channels/pending.py).

    `id` is the turn's Rasa message id (a keyed hash of the provider message id); `input_ct` is the
    turn input encrypted under the conversation key (context "pending_turns|input|<stage>|<id>"), so
    an erase crypto-shreds it. `stage`: "received" (before the safety gate) or "turn" (gate passed).
    `owner` is host:pid:nonce of the process running it; `lease_until` is moved forward by its
    heartbeat. `replies_sent` counts the turn's replies that went out (a re-run skips them).
    """

    __tablename__ = "pending_turns"
    id = Column(String(64), primary_key=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    stage = Column(String(8), nullable=False)
    input_ct = Column(LargeBinary, nullable=False)
    owner = Column(String(160), nullable=False)
    lease_until = Column(UTCDateTime, nullable=False, index=True)
    attempts = Column(Integer, nullable=False, default=1)
    replies_sent = Column(Integer, nullable=False, default=0)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
