"""Supervisor takeovers: the reasons a supervisor may give, and who lost a conversation to one.

A supervisor reassigning a conversation that another officer holds (`transfer(as_supervisor=True)`)
must give one of TAKEOVER_REASONS; it is audited as `takeover` (target: the officer who held it,
outcome: the reason code, never free text), beside the usual `transfer` row. The console tells
the officer who lost it through the live stream (`taken_from`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.staff.models import AuditEntry
from bot.store.db import session_scope

TAKEOVER_REASONS = ("safety_concern", "needs_specialist", "officer_unavailable", "language", "workload", "other")


def taken_from(
    officer_id: int, handoff_ids: Iterable[int], since: datetime, engine: Optional[Engine] = None
) -> list[tuple[int, str]]:
    """(handoff id, reason) for each of these handoffs a supervisor took from the officer since `since`."""
    ids = sorted(set(handoff_ids))
    if not ids:
        return []
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEntry.handoff_id, AuditEntry.outcome).where(
                AuditEntry.action == "takeover", AuditEntry.target_id == officer_id,
                AuditEntry.handoff_id.in_(ids), AuditEntry.at >= since,
            )
        ).all()
    return sorted({(int(h), str(reason or "other")) for h, reason in rows})
