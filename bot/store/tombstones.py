"""Erase tombstones: for a short while after an erase, late work for that conversation is refused.

A tombstone answers one question: "was this conversation erased after instant T?" It stops a
turn that was in flight when she quick-exited from writing events back or sending more
(tracker store, outbound), and a late provider delivery of a message sent before the exit
(Telegram `date` before the erase) from starting a new conversation.

Unlinkable: the row holds `keyed_hash(pseudonym key, "erasure", conversation id)`, never the
pseudonym that every other table uses, and it is deleted after TOMBSTONE_TTL. After that no row
says that her number ever talked to Haven (the keyed hash of her provider message ids in
`inbound_receipts` carries no conversation and no address, see bot/store/receipts.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.crypto import keyed_hash
from bot.store.models import Erasure, utcnow

# Why 25 hours: Telegram keeps retrying an update it could not deliver for up to 24 hours; a
# Rasa turn in flight (actions, NLG, send retries) lasts minutes; Twilio retries (with connection
# overrides) within minutes. One hour of margin on the longest of them. Beyond that, a replay of a
# message Haven did receive is still refused by its receipt (bot/store/receipts.py).
TOMBSTONE_TTL = timedelta(hours=25)


def token(conversation_id: str, key: Optional[bytes] = None) -> str:
    """The tombstone key for a conversation (a keyed hash, not the pseudonym)."""
    if key is None:
        from bot.settings import get_settings

        key = get_settings().pseudonym_key
    return keyed_hash(key, "erasure", conversation_id)


def erased_at(session: Session, conversation_id: str) -> Optional[datetime]:
    """When the conversation was last erased, if that was less than TOMBSTONE_TTL ago."""
    row = session.get(Erasure, token(conversation_id))
    if row is None or row.erased_at < utcnow() - TOMBSTONE_TTL:
        return None
    return row.erased_at  # type: ignore[no-any-return]


def mark(session: Session, conversation_id: str, now: datetime) -> None:
    """Write (or move forward) the conversation's tombstone; prune the expired ones."""
    prune(session, now)
    row = session.get(Erasure, token(conversation_id))
    if row is None:
        session.add(Erasure(token=token(conversation_id), erased_at=now))
    else:
        row.erased_at = now


def prune(session: Session, now: Optional[datetime] = None) -> None:
    """Delete tombstones older than TOMBSTONE_TTL."""
    session.execute(delete(Erasure).where(Erasure.erased_at < (now or utcnow()) - TOMBSTONE_TTL))
