"""Live-chat danger flags on a handoff: the content-free note for the officer, the danger priority,
and whether an officer has answered since (bot/handoff is the only writer of handoff state;
bot/safety/live_danger.py decides and sends)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

ANSWER_WINDOW = timedelta(seconds=60)
FLAG_NOTE = "DANGER: her message above matched the danger words. {then}"
THEN_SENT = "The emergency number was sent to her automatically."
THEN_WAIT = "If no officer answers within a minute, the emergency number is sent to her automatically."
SENT_NOTE = "The emergency number was sent to her automatically (no officer answer within a minute)."


@dataclass(frozen=True)
class LiveFlag:
    """A flagged live-chat message (no content)."""

    handoff_id: int
    conversation_id: str
    channel: str
    language: str
    country: Optional[str]
    subject: str
    flagged_at: datetime
    officer_recent: bool  # an officer answered within ANSWER_WINDOW before her message


def _append_note(session: Any, handoff: Any, body: str, now: datetime) -> None:
    from bot.crypto import get_or_create_cipher
    from bot.handoff import notify
    from bot.handoff.models import NOTE, HandoffMessage, message_context

    seq = int(handoff.message_seq) + 1
    handoff.message_seq = seq
    cipher = get_or_create_cipher(session, handoff.conversation_id)
    session.add(HandoffMessage(handoff_id=handoff.id, seq=seq, kind=NOTE, officer_id=None,
                               body_ct=cipher.encrypt_text(body, message_context(int(handoff.id), seq)), created_at=now))
    handoff.updated_at = now
    notify.signal(session, int(handoff.id))


def _last_officer_answer(session: Any, handoff_id: int) -> Optional[datetime]:
    from bot.handoff.models import OFFICER, HandoffMessage

    last: Optional[datetime] = session.execute(
        select(func.max(HandoffMessage.created_at)).where(
            HandoffMessage.handoff_id == handoff_id, HandoffMessage.kind == OFFICER)
    ).scalar()
    return last


def flag_transcript(conversation_id: str, subject: str = "self", engine: Optional[Engine] = None,
                    now: Optional[datetime] = None) -> Optional[LiveFlag]:
    """Flag the claimed handoff after her danger message and raise its risk; None if not claimed."""
    from bot.handoff import notify
    from bot.handoff.models import CLAIMED, Handoff, country_of, priority_for
    from bot.store.db import session_scope
    from bot.store.models import utcnow

    now = now or utcnow()
    with session_scope(engine, immediate=True) as session:
        handoff = session.execute(
            select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status == CLAIMED).with_for_update()
        ).scalar_one_or_none()
        if handoff is None:
            return None
        last = _last_officer_answer(session, int(handoff.id))
        recent = last is not None and _aware(last) >= now - ANSWER_WINDOW
        _append_note(session, handoff, FLAG_NOTE.format(then=THEN_WAIT if recent else THEN_SENT), now)
        handoff.priority = priority_for("danger")
        flag = LiveFlag(int(handoff.id), conversation_id, str(handoff.channel), str(handoff.language or "en"),
                        country_of(session, handoff), subject, now, recent)
    notify.wake()
    return flag


def _aware(value: datetime) -> datetime:
    from datetime import timezone

    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def officer_answered_since(handoff_id: int, since: datetime, engine: Optional[Engine] = None) -> bool:
    """Has an officer sent her anything since `since`?"""
    from bot.store.db import session_scope

    with session_scope(engine) as session:
        last = _last_officer_answer(session, handoff_id)
    return last is not None and _aware(last) > since


def note_sent(handoff_id: int, engine: Optional[Engine] = None) -> None:
    """Tell the officer, in the transcript, that the number went out."""
    from bot.handoff import notify
    from bot.handoff.models import Handoff
    from bot.store.db import session_scope
    from bot.store.models import utcnow

    with session_scope(engine, immediate=True) as session:
        handoff = session.get(Handoff, handoff_id, with_for_update=True)
        if handoff is not None:
            _append_note(session, handoff, SENT_NOTE, utcnow())
    notify.wake()
