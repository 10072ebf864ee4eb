"""The audit log: content-free, append-only, HMAC-chained rows; `verify` detects any edit.

The log is CHAINS independent hash chains. A row goes to the chain of its handoff (handoff id
mod CHAINS), or of its officer when it concerns no handoff, so every event of one handoff is in
one chain, in commit order, while unrelated handoffs commit in parallel (one global chain
serialised every audited commit, fsync included, behind one lock).

Within a chain, each row's hash is HMAC-SHA256 (key derived from the master key) over the
previous row's hash and the row's canonical fields, and `seq` is contiguous from 1. Editing,
inserting or deleting a row breaks verification at that row; cutting a chain's tail is caught by
comparing the heads printed by `haven audit verify` with an earlier, externally kept copy.

Appending locks the chain until commit so it never forks: on PostgreSQL a transaction-scoped
advisory lock per chain; on SQLite the caller's transaction holds the database write lock
(session_scope(immediate=True)). A transaction writing to several chains must take them in
ascending order first (`lock_chains`), so two such transactions cannot deadlock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.staff.keys import derive, keyring
from bot.staff.models import AuditEntry
from bot.crypto import DecryptionError, KeyRing
from bot.store.db import get_engine, session_scope
from bot.store.models import utcnow

GENESIS = "0" * 64
PURPOSE = "audit-chain"
ADVISORY_LOCK_ID = 0x48415645  # "HAVE"
CHAINS = 8

# The audited actions (the list is closed so a typo cannot create an unverifiable vocabulary).
ACTIONS = frozenset(
    {
        "login", "login_failed", "logout",
        "claim", "transcript_read", "reply", "note", "release", "lease_expired", "transfer", "takeover", "close",
        "cancel", "erase",
        "officer_add", "officer_disable", "officer_reset_2fa", "officer_update",
        "team_add", "roster_add", "roster_remove",
        "case_submit", "case_view", "case_status", "case_note", "case_contact", "case_refer", "case_referral", "case_withdraw", "case_expire", "case_denied", "case_status_check", "case_route", "stats_export",
    }
)
FIELDS = ("chain", "seq", "at", "actor_type", "actor_id", "action", "handoff_id", "target_id", "team_id", "outcome", "ip")


def chain_for(handoff_id: Optional[int], actor_id: Optional[int] = None) -> int:
    """The chain of a row: its handoff's, else its officer's, else chain 0."""
    if handoff_id is not None:
        return int(handoff_id) % CHAINS
    return int(actor_id or 0) % CHAINS


def _canonical(values: dict[str, Any]) -> bytes:
    out = {}
    for name in FIELDS:
        value = values.get(name)
        out[name] = value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value
    return json.dumps(out, sort_keys=True, separators=(",", ":")).encode()


def _digest(key: bytes, prev_hash: str, values: dict[str, Any]) -> str:
    return hmac.new(key, prev_hash.encode() + b"\x1f" + _canonical(values), hashlib.sha256).hexdigest()


def lock_chains(session: Session, chains: Iterable[int]) -> None:
    """Lock chains until commit, in ascending order (PostgreSQL; SQLite holds the write lock)."""
    held: set[int] = session.info.setdefault("haven_audit_chains", set())
    wanted = sorted(set(chains) - held)
    if not wanted:
        return
    if session.get_bind().dialect.name == "postgresql":
        for chain in wanted:
            session.execute(text("SELECT pg_advisory_xact_lock(:k, :c)"), {"k": ADVISORY_LOCK_ID, "c": chain})
    held.update(wanted)


def locked_by_statement(session: Session, handoff_id: int) -> None:
    """Record that a statement of this transaction took the chain lock of `handoff_id` itself
    (`pg_advisory_xact_lock(ADVISORY_LOCK_ID, id % CHAINS)`, e.g. in an UPDATE's RETURNING, so the
    lock costs no round trip of its own), so `append` does not take it again."""
    held: set[int] = session.info.setdefault("haven_audit_chains", set())
    held.add(chain_for(handoff_id))


def append(
    session: Session,
    action: str,
    *,
    actor_type: str = "officer",
    actor_id: Optional[int] = None,
    handoff_id: Optional[int] = None,
    target_id: Optional[int] = None,
    team_id: Optional[int] = None,
    outcome: Optional[str] = None,
    ip: Optional[str] = None,
    now: Optional[datetime] = None,
    ring: Optional[KeyRing] = None,
) -> AuditEntry:
    """Append one row inside the caller's transaction (call it last, just before commit)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    ring = ring or keyring()
    chain = chain_for(handoff_id, actor_id)
    lock_chains(session, [chain])
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).where(AuditEntry.chain == chain).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    values: dict[str, Any] = dict(
        chain=chain,
        seq=seq,
        at=(now or utcnow()).astimezone(timezone.utc),
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        handoff_id=handoff_id,
        target_id=target_id,
        team_id=team_id,
        outcome=outcome,
        ip=(ip or None) and ip[:64],
    )
    key_id = ring.current_id
    entry = AuditEntry(**values, key_id=key_id, prev_hash=prev, hash=_digest(derive(ring, key_id, PURPOSE), prev, values))
    session.add(entry)
    session.flush()
    return entry


def record(action: str, engine: Optional[Engine] = None, **kwargs: Any) -> None:
    """Append one row in its own short transaction."""
    with session_scope(engine, immediate=True) as session:
        append(session, action, **kwargs)


@dataclass
class VerifyResult:
    """The log's state: ok, rows checked, each chain's head, and where and why it broke."""

    ok: bool
    count: int
    heads: dict[int, tuple[int, str]] = field(default_factory=dict)
    bad_chain: Optional[int] = None
    bad_seq: Optional[int] = None
    reason: Optional[str] = None


def verify(engine: Optional[Engine] = None, ring: Optional[KeyRing] = None, batch: int = 1000) -> VerifyResult:
    """Walk every chain in order and recompute every link."""
    ring = ring or keyring()
    keys: dict[str, bytes] = {}
    heads: dict[int, tuple[int, str]] = {}
    count = 0
    with (engine or get_engine()).connect() as conn:
        session = Session(bind=conn, future=True)
        stmt = select(AuditEntry).order_by(AuditEntry.chain, AuditEntry.seq).execution_options(yield_per=batch)
        for row in session.execute(stmt).scalars():
            if not 0 <= row.chain < CHAINS:
                return VerifyResult(False, count, heads, row.chain, row.seq, "row in an unknown chain")
            expected_seq, prev = (heads[row.chain][0] + 1, heads[row.chain][1]) if row.chain in heads else (1, GENESIS)
            values = {name: getattr(row, name) for name in FIELDS}

            def broken(reason: str) -> VerifyResult:
                return VerifyResult(False, count, heads, row.chain, row.seq if row.seq == expected_seq else expected_seq, reason)

            if row.seq != expected_seq:
                return broken("missing or inserted row")
            if row.prev_hash != prev:
                return broken("link to previous row broken")
            try:
                key = keys.get(row.key_id) or keys.setdefault(row.key_id, derive(ring, row.key_id, PURPOSE))
            except DecryptionError:
                return broken("audit key not configured")
            if not hmac.compare_digest(_digest(key, prev, values), row.hash):
                return broken("row content does not match its hash")
            heads[row.chain] = (row.seq, row.hash)
            count += 1
        session.close()
    return VerifyResult(True, count, heads)
