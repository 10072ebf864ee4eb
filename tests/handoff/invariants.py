"""Queue invariants checked from the database's own record (handoff rows + the audit log).

Every ownership change of a handoff writes exactly one audit row in the same transaction, in
that handoff's audit chain, appended in commit order (advisory lock / SQLite write lock). Replaying the log
therefore re-derives each handoff's owner and version; any double claim or applied stale write
shows up as an impossible transition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import select

from bot.staff.models import AuditEntry
from bot.handoff.models import Handoff
from bot.store.db import session_scope


@dataclass
class Replayed:
    status: str = "queued"
    owner: Optional[int] = None
    changes: int = 0
    claims: int = 0


@dataclass
class Report:
    states: dict[int, Replayed] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def replay(engine: Any, supervisors: frozenset[int] = frozenset()) -> Report:
    report = Report()
    with session_scope(engine) as session:
        # every row of one handoff is in one chain, in commit order
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.chain, AuditEntry.seq)).scalars().all()
    for r in rows:
        if r.handoff_id is None:
            continue
        st = report.states.setdefault(r.handoff_id, Replayed())
        where = f"seq {r.seq} {r.action} on handoff {r.handoff_id} by {r.actor_id}"
        if r.action == "claim":
            if st.status == "claimed" and r.target_id != st.owner:
                report.errors.append(f"double claim: {where} while owned by {st.owner}")
            elif st.status not in ("queued", "claimed"):
                report.errors.append(f"claim of a {st.status} handoff: {where}")
            st.status, st.owner, st.changes, st.claims = "claimed", r.actor_id, st.changes + 1, st.claims + 1
        elif r.action in ("reply", "note", "transcript_read"):
            if st.status != "claimed" or r.actor_id != st.owner:
                report.errors.append(f"write by a non-owner: {where} (owner {st.owner}, {st.status})")
        elif r.action in ("release", "close"):
            if st.status != "claimed" or r.actor_id != st.owner:
                report.errors.append(f"stale {r.action} applied: {where} (owner {st.owner})")
            st.status = "queued" if r.action == "release" else "closed"
            st.owner = None if r.action == "release" else st.owner
            st.changes += 1
        elif r.action == "lease_expired":
            if st.status != "claimed" or r.target_id != st.owner:
                report.errors.append(f"expiry of a lease not held: {where}")
            st.status, st.owner, st.changes = "queued", None, st.changes + 1
        elif r.action == "transfer":
            if r.actor_id != st.owner and r.actor_id not in supervisors:
                report.errors.append(f"transfer by a non-owner: {where}")
            st.status, st.owner = ("claimed", r.target_id) if r.target_id else ("queued", None)
            st.changes += 1
        elif r.action == "cancel":
            if st.status != "queued":
                report.errors.append(f"cancel of a {st.status} handoff: {where}")
            st.status, st.changes = "cancelled", st.changes + 1
        elif r.action == "erase":
            if st.status in ("queued", "claimed"):
                st.status, st.changes = "closed", st.changes + 1
    return report


def check_database(engine: Any, expected_total: int, supervisors: frozenset[int] = frozenset()) -> Report:
    """Replay the log and compare with the rows: nothing lost, versions and owners agree."""
    report = replay(engine, supervisors)
    with session_scope(engine) as session:
        rows = session.execute(select(Handoff)).scalars().all()
        if len(rows) != expected_total:
            report.errors.append(f"lost handoffs: {len(rows)} rows, expected {expected_total}")
        for h in rows:
            st = report.states.get(h.id, Replayed())
            if h.version != st.changes:
                report.errors.append(f"handoff {h.id}: version {h.version} but {st.changes} audited changes")
            if h.status != st.status:
                report.errors.append(f"handoff {h.id}: status {h.status} but replay says {st.status}")
            if h.status == "claimed" and h.officer_id != st.owner:
                report.errors.append(f"handoff {h.id}: owner {h.officer_id} but replay says {st.owner}")
    return report
