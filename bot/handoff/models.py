"""Handoff tables: teams, roster shifts, handoffs (the queue) and their encrypted transcripts.

A handoff is one period of human interaction with a conversation. Its queue order is
(priority, enqueued_at, id): danger (0) before disclosed (1) before other (2), first come first
served within a priority. `enqueued_at` is never reset, so a released or expired claim goes back
to the queue with its original priority and age. `version` is the fencing token: every claim,
release, expiry, transfer and close increments it, and every officer write must carry the version
it was given, so a stale owner's write matches no row and is rejected.
"""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    text,
)

from bot.store.models import Base, UTCDateTime, utcnow

# Risk -> priority (lower is served first).
PRIORITIES = {"danger": 0, "disclosed": 1, "other": 2}
RISKS = tuple(PRIORITIES)

QUEUED = "queued"
CLAIMED = "claimed"
CLOSED = "closed"
CANCELLED = "cancelled"
OPEN_STATUSES = (QUEUED, CLAIMED)
STATUSES = (QUEUED, CLAIMED, CLOSED, CANCELLED)

OUTCOMES = ("referred", "information_given", "report_taken", "no_response", "left")

# Transcript entry kinds: what she wrote, what an officer sent, an officer's private note.
SURVIVOR = "survivor"
OFFICER = "officer"
NOTE = "note"
MESSAGE_KINDS = (SURVIVOR, OFFICER, NOTE)

# Delivery states of an officer's reply.
PENDING = "pending"
SENT = "sent"
HELD = "held"  # WhatsApp window closed: a neutral prompt went out; delivered when she writes again
FAILED = "failed"


def priority_for(risk: str | None) -> int:
    """The queue priority for a risk flag ('danger', 'disclosed', anything else -> other)."""
    return PRIORITIES.get(risk or "other", PRIORITIES["other"])


def risk_name(risk: str | None) -> str:
    return risk if risk in PRIORITIES else "other"


def risk_of(priority: int | None) -> str:
    """The risk flag a priority stands for (the risk itself is not stored: the priority says it)."""
    for name, value in PRIORITIES.items():
        if value == priority:
            return name
    return "other"


def country_context() -> str:
    """The AAD of a handoff's encrypted country (bound to the conversation by the cipher)."""
    return "handoffs|country"


def country_of(session: Any, handoff: "Handoff") -> Optional[str]:
    """Her country, decrypted (None if unknown, or the conversation was erased)."""
    from bot.crypto import DecryptionError, load_cipher

    if handoff.country_ct is None:
        return None
    try:
        cipher = load_cipher(session, handoff.conversation_id)
        return None if cipher is None else cipher.decrypt_text(handoff.country_ct, country_context())
    except DecryptionError:
        return None


def set_country(session: Any, handoff: "Handoff", country: Optional[str]) -> None:
    """Store her country encrypted under the conversation key."""
    from bot.crypto import get_or_create_cipher

    if country:
        cipher = get_or_create_cipher(session, handoff.conversation_id)
        handoff.country_ct = cipher.encrypt_text(country, country_context())


class Team(Base):
    """A team of officers (e.g. a region or a speciality); a handoff may be routed to one."""

    __tablename__ = "teams"
    id = Column(Integer, primary_key=True, autoincrement=True)
    name = Column(String(80), nullable=False, unique=True)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class RosterShift(Base):
    """One officer on duty for one language (and optionally a team) between two instants."""

    __tablename__ = "roster_shifts"
    __table_args__ = (Index("ix_roster_shifts_language_window", "language", "starts_at", "ends_at"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    officer_id = Column(Integer, ForeignKey("officers.id", ondelete="CASCADE"), nullable=False, index=True)
    team_id = Column(Integer, ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    language = Column(String(8), nullable=False)
    starts_at = Column(UTCDateTime, nullable=False)
    ends_at = Column(UTCDateTime, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Handoff(Base):
    """A survivor's request for a person: queued, claimed (leased), then closed or cancelled."""

    __tablename__ = "handoffs"
    __table_args__ = (
        Index("ix_handoffs_queue_order", "status", "priority", "enqueued_at", "id"),
        # At most one open handoff per conversation (enqueue is idempotent under races).
        Index(
            "uq_handoffs_open_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("status IN ('queued', 'claimed')"),
            postgresql_where=text("status IN ('queued', 'claimed')"),
        ),
    )
    id = Column(Integer, primary_key=True, autoincrement=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    language = Column(String(8), nullable=False)
    # Her country, encrypted under the conversation key (context `country_context()`).
    country_ct = Column(LargeBinary, nullable=True)
    # The queue order needs the priority in clear (ORDER BY over every open handoff); it also
    # stands for the risk flag (`risk_of`), so no separate risk column is kept, and an erase
    # resets it to "other".
    priority = Column(SmallInteger, nullable=False)
    status = Column(String(16), nullable=False, default=QUEUED)
    team_id = Column(Integer, ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    officer_id = Column(Integer, ForeignKey("officers.id", ondelete="SET NULL"), nullable=True, index=True)
    version = Column(Integer, nullable=False, default=0)
    lease_expires_at = Column(UTCDateTime, nullable=True)
    enqueued_at = Column(UTCDateTime, nullable=False, default=utcnow)
    claimed_at = Column(UTCDateTime, nullable=True)
    first_claimed_at = Column(UTCDateTime, nullable=True)
    closed_at = Column(UTCDateTime, nullable=True)
    outcome = Column(String(24), nullable=True)
    closed_by = Column(Integer, nullable=True)
    summary_ct = Column(LargeBinary, nullable=True)
    message_seq = Column(Integer, nullable=False, default=0)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    # What the survivor was last told while queued (so updates go out only when it changes a lot).
    notice_at = Column(UTCDateTime, nullable=True)
    notice_wait = Column(Integer, nullable=True)
    long_wait_notice_at = Column(UTCDateTime, nullable=True)


class HandoffMessage(Base):
    """One transcript entry; `body_ct` is encrypted under the conversation key, bound to its row."""

    __tablename__ = "handoff_messages"
    __table_args__ = (UniqueConstraint("handoff_id", "seq", name="uq_handoff_messages_handoff_seq"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False)
    seq = Column(Integer, nullable=False)
    kind = Column(String(12), nullable=False)
    officer_id = Column(Integer, nullable=True)
    body_ct = Column(LargeBinary, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    delivery = Column(String(16), nullable=True)
    error = Column(String(64), nullable=True)


def message_context(handoff_id: int, seq: int) -> str:
    """The AAD that binds a transcript ciphertext to its row."""
    return f"handoff_messages|{handoff_id}|{seq}"


def summary_context(handoff_id: int) -> str:
    return f"handoffs|summary|{handoff_id}"
