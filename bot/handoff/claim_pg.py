"""claim_next on PostgreSQL in one statement (bot.handoff.claims.claim_next uses it there; SQLite
keeps the ORM path)."""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from bot import audit
from bot.handoff import notify
from bot.handoff.models import CLAIMED, QUEUED
from bot.handoff.writes import WORKING_ROLES, Claim, _lease, _working_officer
from bot.store.models import UTCDateTime

# PostgreSQL's claim_next in one statement: the officer's check (active, working role; its team and
# languages), the choice (the most urgent, oldest claimable handoff of its team or none, in its
# languages unless :langs overrides them, skipping rows other claimers hold), the take (as `_take`),
# the change signal (pg_notify, delivered on commit) and the handoff's audit-chain lock (held to
# commit, the key and chain of bot.audit.lock_chains; bot.audit.locked_by_statement). The audit row is the one other statement before COMMIT.
# Plain SQL: its cache key is its text, where the equivalent Core statement cost ~30% of a
# claim's CPU in cache-key generation and compilation (py-spy --gil, under the claims bench).
_CLAIM_NEXT_PG = text(
    """
    WITH o AS (
        SELECT id, team_id,
               COALESCE(CAST(:langs AS varchar[]), array_remove(string_to_array(languages, ','), '')) AS langs
        FROM officers WHERE id = :officer AND active AND role IN :roles
    ), picked AS (
        SELECT h.id, h.officer_id, h.status FROM handoffs h JOIN o ON TRUE
        WHERE (h.status = :queued OR (h.status = :claimed AND h.lease_expires_at <= :now))
          AND (h.team_id IS NULL OR h.team_id = o.team_id)
          AND (cardinality(o.langs) = 0 OR h.language = ANY(o.langs))
        ORDER BY h.priority, h.enqueued_at, h.id
        LIMIT 1
        FOR UPDATE OF h SKIP LOCKED
    )
    UPDATE handoffs SET status = :claimed, officer_id = :officer, version = handoffs.version + 1,
        lease_expires_at = :lease, claimed_at = :now, first_claimed_at = COALESCE(handoffs.first_claimed_at, :now),
        updated_at = :now
    FROM picked WHERE handoffs.id = picked.id
    RETURNING handoffs.id, handoffs.version, picked.officer_id, picked.status,
        pg_notify(:channel, CAST(handoffs.id AS text)), pg_advisory_xact_lock(:chain_key, handoffs.id % :chains)
    """
).bindparams(
    bindparam("now", type_=UTCDateTime()),
    bindparam("lease", type_=UTCDateTime()),
    bindparam("roles", expanding=True),
)


def take_next_pg(session: Session, officer_id: int, languages: Optional[list[str]], now: datetime,
                  lease_seconds: Optional[float], ip: Optional[str]) -> Optional[Claim]:
    """PostgreSQL: check the officer, pick, lock and take the next handoff in one statement (_CLAIM_NEXT_PG)."""
    lease = _lease(now, lease_seconds)
    row = session.execute(_CLAIM_NEXT_PG, {
        "officer": officer_id, "langs": languages,  # None: the officer's own; [] (as in _take's path): any
        "roles": list(WORKING_ROLES), "queued": QUEUED, "claimed": CLAIMED, "now": now, "lease": lease,
        "channel": notify.CHANNEL, "chain_key": audit.ADVISORY_LOCK_ID, "chains": audit.CHAINS,
    }).first()
    if row is None:
        _working_officer(session, officer_id)  # NotClaimable for an account that cannot take any
        return None
    handoff_id, version, previous_owner, previous_status = int(row[0]), int(row[1]), row[2], row[3]
    audit.locked_by_statement(session, handoff_id)
    previous = previous_owner if previous_status == CLAIMED else None
    # One audit row per ownership change; a re-claim of a lapsed lease names the fenced-off owner.
    audit.append(session, "claim", actor_id=officer_id, handoff_id=handoff_id, target_id=previous, ip=ip, now=now)
    return Claim(handoff_id, officer_id, version, lease)
