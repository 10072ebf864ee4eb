"""The transcript: officer replies and notes, her messages while claimed, delivery states.

Every entry is encrypted under the conversation's data key (context message_context)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot import audit
from bot.crypto import DecryptionError, get_or_create_cipher, load_cipher
from bot.handoff import notify
from bot.handoff.models import (
    CLAIMED,
    FAILED,
    HELD,
    NOTE,
    OFFICER,
    PENDING,
    SENT,
    SURVIVOR,
    Handoff,
    HandoffMessage,
    country_of,
    message_context,
)
from bot.handoff.writes import (
    MAX_TEXT,
    Delivery,
    InvalidRequest,
    Relayed,
    _changed,
    _fenced,
    _lease,
    _locked,
    _now,
    _write,
)
from bot.store.db import session_scope
from bot.store.models import utcnow


def _append(session: Session, handoff: Handoff, kind: str, body: str, officer_id: Optional[int], now: datetime, delivery: Optional[str]) -> int:
    seq = int(handoff.message_seq) + 1
    handoff.message_seq = seq
    cipher = get_or_create_cipher(session, handoff.conversation_id)
    session.add(
        HandoffMessage(
            handoff_id=handoff.id,
            seq=seq,
            kind=kind,
            officer_id=officer_id,
            body_ct=cipher.encrypt_text(body, message_context(int(handoff.id), seq)),
            created_at=now,
            delivery=delivery,
        )
    )
    return seq


def _clean_text(text: str) -> str:
    body = (text or "").strip()
    if not body:
        raise InvalidRequest("the message is empty")
    if len(body) > MAX_TEXT:
        raise InvalidRequest(f"the message is longer than {MAX_TEXT} characters")
    return body


def reply(
    handoff_id: int,
    officer_id: int,
    version: int,
    text: str,
    *,
    ip: Optional[str] = None,
    lease_seconds: Optional[float] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> Delivery:
    """Store an officer's reply (encrypted, pending delivery); the caller sends it and marks delivery."""
    body = _clean_text(text)
    now = _now(now)
    with _write(engine) as session:
        handoff = _fenced(session, handoff_id, officer_id, version, now)
        held = session.execute(
            select(HandoffMessage.id).where(
                HandoffMessage.handoff_id == handoff_id, HandoffMessage.kind == OFFICER, HandoffMessage.delivery == HELD
            ).limit(1)
        ).first()
        seq = _append(session, handoff, OFFICER, body, officer_id, now, PENDING)
        handoff.lease_expires_at = _lease(now, lease_seconds)
        _changed(session, handoff, now)
        audit.append(session, "reply", actor_id=officer_id, handoff_id=handoff_id, ip=ip, now=now)
        result = Delivery(
            handoff_id, seq, handoff.conversation_id, handoff.channel, handoff.language, country_of(session, handoff),
            held is not None
        )
    notify.wake()
    return result


def add_note(
    handoff_id: int,
    officer_id: int,
    version: int,
    text: str,
    *,
    ip: Optional[str] = None,
    engine: Optional[Engine] = None,
    now: Optional[datetime] = None,
) -> int:
    """A private note on the transcript (never sent; encrypted like the rest; erased with it)."""
    body = _clean_text(text)
    now = _now(now)
    with _write(engine) as session:
        handoff = _fenced(session, handoff_id, officer_id, version, now)
        seq = _append(session, handoff, NOTE, body, officer_id, now, None)
        _changed(session, handoff, now)
        audit.append(session, "note", actor_id=officer_id, handoff_id=handoff_id, ip=ip, now=now)
    notify.wake()
    return seq


def mark_delivery(
    handoff_id: int, seq: int, delivery: str, error: Optional[str] = None, engine: Optional[Engine] = None
) -> None:
    """Record what happened to an officer's message (sent, held for the WhatsApp window, failed)."""
    if delivery not in (PENDING, SENT, HELD, FAILED):
        raise InvalidRequest("unknown delivery state")
    with _write(engine) as session:
        session.execute(
            update(HandoffMessage)
            .where(HandoffMessage.handoff_id == handoff_id, HandoffMessage.seq == seq, HandoffMessage.kind == OFFICER)
            .values(delivery=delivery, error=(error or None) and error[:64])
        )
        handoff = session.get(Handoff, handoff_id)
        if handoff is not None:
            _changed(session, handoff, utcnow())
    notify.wake()


def has_active_claim(conversation_id: str, engine: Optional[Engine] = None) -> bool:
    """Read-only: does an officer currently hold this conversation's handoff?"""
    with session_scope(engine) as session:
        found = session.execute(
            select(Handoff.id).where(Handoff.conversation_id == conversation_id, Handoff.status == CLAIMED).limit(1)
        ).first()
    return found is not None


def append_survivor_message(
    conversation_id: str, body: str, engine: Optional[Engine] = None, now: Optional[datetime] = None
) -> Optional[Relayed]:
    """If the conversation has a claimed handoff, add her message to its transcript."""
    now = _now(now)
    with _write(engine) as session:
        handoff = session.execute(
            _locked(session, select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status == CLAIMED))
        ).scalar_one_or_none()
        if handoff is None:
            return None
        seq = _append(session, handoff, SURVIVOR, body, None, now, None)
        _changed(session, handoff, now)
        held = list(
            session.execute(
                select(HandoffMessage.seq).where(
                    HandoffMessage.handoff_id == handoff.id, HandoffMessage.kind == OFFICER, HandoffMessage.delivery == HELD
                ).order_by(HandoffMessage.seq)
            ).scalars()
        )
        result = Relayed(int(handoff.id), seq, [int(s) for s in held])
    notify.wake()
    return result


def held_messages(handoff_id: int, seqs: list[int], engine: Optional[Engine] = None) -> tuple[str, list[tuple[int, str]]]:
    """Decrypt officer replies that waited for the WhatsApp window (for delivery now)."""
    with session_scope(engine) as session:
        handoff = session.get(Handoff, handoff_id)
        if handoff is None:
            return "", []
        cipher = load_cipher(session, handoff.conversation_id)
        rows = session.execute(
            select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id, HandoffMessage.seq.in_(seqs))
        ).scalars()
        out = []
        for row in rows:
            if cipher is None:
                break
            try:
                out.append((int(row.seq), cipher.decrypt_text(row.body_ct, message_context(handoff_id, int(row.seq)))))
            except DecryptionError:
                continue
        return handoff.conversation_id, sorted(out)
