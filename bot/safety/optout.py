"""Carrier opt-out state (SMS): after STOP, nothing is sent until she writes again."""

from __future__ import annotations

from sqlalchemy import select

from bot.store.db import session_scope
from bot.store.models import Contact


def set_opted_out(conversation_id: str, value: bool) -> None:
    """Mark the contact opted out (or back in); a missing contact row is created for the flag."""
    with session_scope(immediate=True) as session:
        contact = session.get(Contact, conversation_id)
        if contact is None:
            contact = Contact(conversation_id=conversation_id, channel="sms")
            session.add(contact)
        contact.opted_out = value


def is_opted_out(conversation_id: str) -> bool:
    with session_scope() as session:
        value = session.execute(
            select(Contact.opted_out).where(Contact.conversation_id == conversation_id)
        ).scalar_one_or_none()
    return bool(value)
