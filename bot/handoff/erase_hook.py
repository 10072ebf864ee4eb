"""The erase listener: when she erases, her transcripts go and an open handoff closes as `left`.

Subscribed to bot.safety.erase when bot.handoff is imported (bot/handoff/__init__.py)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot import audit
from bot.handoff.models import CLOSED, OPEN_STATUSES, Handoff, HandoffMessage, priority_for
from bot.handoff.writes import _changed, _locked
from bot.safety.erase import add_erase_listener
from bot.store.models import utcnow


def on_conversation_erased(session: Session, conversation_id: str) -> None:
    """Erase hook (inside the erase transaction): drop transcripts and summaries, close as `left`.

    The officer then sees only that the person left. Content-free rows stay for statistics, with
    the conversation id replaced so nothing links them back to her.
    """
    now = utcnow()
    handoffs = session.execute(
        _locked(session, select(Handoff).where(Handoff.conversation_id == conversation_id))
    ).scalars().all()
    audit.lock_chains(session, [audit.chain_for(int(h.id)) for h in handoffs])
    for handoff in handoffs:
        session.execute(delete(HandoffMessage).where(HandoffMessage.handoff_id == handoff.id))
        handoff.summary_ct = None
        handoff.country_ct = None
        handoff.priority = priority_for(None)  # the priority stood for her risk flag
        handoff.message_seq = 0
        if handoff.status in OPEN_STATUSES:
            handoff.status, handoff.outcome, handoff.closed_at = CLOSED, "left", now
            handoff.version = handoff.version + 1
            handoff.lease_expires_at = None
        handoff.conversation_id = f"erased:{handoff.id}"
        _changed(session, handoff, now)
        audit.append(session, "erase", actor_type="survivor", handoff_id=int(handoff.id), now=now)
    if handoffs:
        session.flush()


add_erase_listener(on_conversation_erased)
