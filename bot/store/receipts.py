"""Inbound receipts: a keyed hash of each provider message id, so a delivery is handled once.

A receipt has no conversation id and survives an erase: a Twilio request can be replayed at any
time (its signature never expires) and Telegram re-sends an update it thinks failed, so after
her quick exit a replay of any message she sent before must still be a duplicate (no turn, no
contact row, no reply). How long: `Settings.receipt_days` (HAVEN_RECEIPT_DAYS, default 366).
Providers retry for at most 24 hours (Telegram) or minutes (Twilio); the bound is about replay:
a captured request replayed more than a year later is implausible next to the cost of keeping
one 64-character hash per message, and a Telegram message older than the window is refused by
its own date (channels/telegram.py). `received_at` is kept to the day only (for pruning).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete
from sqlalchemy.orm import Session

from bot.store.db import session_scope
from bot.store.models import InboundReceipt, utcnow


def receipt_window() -> timedelta:
    from bot.settings import get_settings

    return timedelta(days=get_settings().receipt_days)


def day_of(now: datetime) -> datetime:
    """`now` truncated to its UTC day (a receipt's time says no more than that)."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def release(channel: str, receipt_hash: str) -> None:
    """Forget a receipt: the message could not be handled, so a provider retry must get through."""
    with session_scope() as session:
        session.execute(
            delete(InboundReceipt).where(InboundReceipt.channel == channel, InboundReceipt.receipt_hash == receipt_hash)
        )


def prune(session: Session, now: Optional[datetime] = None) -> None:
    """Delete receipts older than the receipt window (the retention job)."""
    cutoff = (now or utcnow()) - receipt_window()
    session.execute(delete(InboundReceipt).where(InboundReceipt.received_at < cutoff))
