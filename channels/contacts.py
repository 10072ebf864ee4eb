"""Contact rows for the channels: record an inbound message, load a reply address, check send state.

All functions are synchronous database work: call them with `await asyncio.to_thread(...)`.
The reply address is stored only encrypted under the conversation's data key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.crypto import ConversationCipher, get_or_create_cipher, load_cipher
from bot.store.db import session_scope
from bot.store.models import Contact, Erasure, InboundReceipt, utcnow

ADDRESS_CONTEXT = "contacts|address"


@dataclass(frozen=True)
class Recorded:
    """What the inbound record step learnt about the contact."""

    conversation_id: str
    language: Optional[str]
    country: Optional[str]


ExtraRows = Callable[[Session, ConversationCipher], None]


def record_inbound(
    channel: str,
    conversation_id: str,
    receipt_hash: str,
    address: str,
    country: Optional[str],
    reset_opt_out: bool,
    extra_rows: Optional[ExtraRows] = None,
) -> Optional[Recorded]:
    """Store the receipt and upsert the contact in one transaction; None if the receipt exists."""
    for attempt in range(3):
        try:
            with session_scope(immediate=True) as session:
                now = utcnow()
                try:
                    with session.begin_nested():
                        session.add(
                            InboundReceipt(
                                channel=channel,
                                receipt_hash=receipt_hash,
                                conversation_id=conversation_id,
                                received_at=now,
                            )
                        )
                except IntegrityError:
                    return None
                existing = load_cipher(session, conversation_id)
                cipher = existing or get_or_create_cipher(session, conversation_id)
                contact = session.get(Contact, conversation_id)
                if contact is None:
                    contact = Contact(conversation_id=conversation_id, channel=channel, created_at=now, opted_out=False)
                    session.add(contact)
                if contact.address_ct is None or existing is None:
                    contact.address_ct = cipher.encrypt_text(address, ADDRESS_CONTEXT)
                contact.channel = channel
                contact.last_inbound_at = now
                contact.last_active_at = now
                if country:
                    contact.country = country
                if reset_opt_out and contact.opted_out:
                    contact.opted_out = False
                if extra_rows is not None:
                    extra_rows(session, cipher)
                session.flush()
                return Recorded(conversation_id, contact.language, contact.country)
        except IntegrityError:
            # Two first messages of one new contact raced on the contact/key insert: try again.
            if attempt == 2:
                raise
    return None  # pragma: no cover - loop always returns or raises


@dataclass(frozen=True)
class ContactInfo:
    """A contact's reply details, decrypted for one send (never logged)."""

    channel: str
    address: Optional[str]
    opted_out: bool
    last_inbound_at: Optional[datetime]
    language: Optional[str]
    country: Optional[str]


def load_contact(conversation_id: str) -> Optional[ContactInfo]:
    """The contact with its decrypted reply address, or None if there is none (erased)."""
    with session_scope() as session:
        contact = session.get(Contact, conversation_id)
        if contact is None:
            return None
        address = None
        cipher = load_cipher(session, conversation_id)
        if cipher is not None and contact.address_ct is not None:
            address = cipher.decrypt_text(contact.address_ct, ADDRESS_CONTEXT)
        return ContactInfo(
            contact.channel, address, bool(contact.opted_out), contact.last_inbound_at, contact.language, contact.country
        )


def may_send(conversation_id: str, since: datetime) -> Optional[str]:
    """Why nothing more may be sent ('opted out', 'erased'), or None if sending is allowed."""
    with session_scope() as session:
        erased_at = session.execute(
            select(Erasure.erased_at).where(Erasure.conversation_id == conversation_id)
        ).scalar_one_or_none()
        if erased_at is not None and erased_at >= since:
            return "erased"
        opted_out = session.execute(
            select(Contact.opted_out).where(Contact.conversation_id == conversation_id)
        ).scalar_one_or_none()
    return "opted out" if opted_out else None


def mark_stopped(conversation_id: str) -> None:
    """Mark an existing contact opted out (never creates a row for an erased conversation)."""
    with session_scope() as session:
        session.execute(update(Contact).where(Contact.conversation_id == conversation_id).values(opted_out=True))


def remember_language(conversation_id: str, language: str) -> None:
    """The conversation's language as last replied in (Rasa's language slot, carried by every
    rendered reply): channel notices and out-of-band lines (queue updates, an officer's bot lines)
    then go out in it, never in a default."""
    with session_scope() as session:
        session.execute(
            update(Contact)
            .where(Contact.conversation_id == conversation_id, or_(Contact.language.is_(None), Contact.language != language))
            .values(language=language)
        )
