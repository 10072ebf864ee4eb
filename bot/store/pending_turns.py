"""Pending turns: the durable record of a turn that was accepted and has not finished yet.

Why: a channel answers the provider 200 before the Rasa turn runs (in a background task), and the
inbound receipt makes any retry a duplicate. If the replica dies in between, nobody would run the
turn. So the record is written in the receipt's own transaction (`add`, stage "received"), moved to
stage "turn" with the final turn input once the safety gate passed (`set_turn`), and deleted when
the turn ends (`finish`). A surviving replica claims the records whose owner stopped heart-beating
(`expired`, `claim`) and re-runs them (channels/pending.py).

Lease, not an age bound: the owner moves `lease_until` forward every lease/3 seconds for all its
records (`heartbeat`), so a record is re-run `lease` seconds after its owner died, whatever the
turn's length (a turn may wait behind the conversation's earlier turns, actions and send retries
for minutes, so an age bound longer than any turn would leave a survivor waiting minutes).

Fencing: `claim` is one UPDATE ... WHERE lease_until < now, so of two replicas racing for a record
exactly one gets the row (rowcount 1); every later write (`finish`, `count_reply`, `set_turn`) is
fenced by `owner`, so a replica that lost its record cannot touch it. Owners are host:pid:nonce (the
nonce: a restarted container often has the same hostname and pid).

Content: the turn input is encrypted under the conversation key (context binds stage and id);
an erase deletes the conversation's records and shreds the key (bot/safety/erase.py). Nothing here
logs. All functions are synchronous: call them with `asyncio.to_thread`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.crypto import ConversationCipher, DecryptionError, load_cipher
from bot.store.db import session_scope
from bot.store.models import PendingTurn, utcnow

RECEIVED = "received"  # the receipt is stored; the safety gate may not have run
TURN = "turn"  # the gate passed: the input is the turn's final input
# A record claimed this many times is dropped: a turn that kills every replica that runs it must
# not crash the cluster in a loop.
MAX_ATTEMPTS = 3
_OWNER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner() -> str:
    """This process as the owner of its pending turns (host:pid:nonce)."""
    return _OWNER


def lease() -> timedelta:
    from bot.settings import get_settings

    return timedelta(seconds=get_settings().pending_lease_seconds)


def _context(stage: str, turn_id: str) -> str:
    return f"pending_turns|input|{stage}|{turn_id}"


def _seal(cipher: ConversationCipher, stage: str, turn_id: str, data: dict[str, Any]) -> bytes:
    return cipher.encrypt_text(json.dumps(data, separators=(",", ":")), _context(stage, turn_id))


def add(session: Session, cipher: ConversationCipher, turn_id: str, channel: str, data: dict[str, Any],
        now: Optional[datetime] = None) -> None:
    """Record a received message (inside the receipt's transaction), owned by this process."""
    now = now or utcnow()
    session.add(PendingTurn(
        id=turn_id, conversation_id=cipher.conversation_id, channel=channel, stage=RECEIVED,
        input_ct=_seal(cipher, RECEIVED, turn_id, data), owner=owner(), lease_until=now + lease(),
        attempts=1, replies_sent=0, created_at=now,
    ))


def set_turn(turn_id: str, data: dict[str, Any]) -> bool:
    """The gate passed: store the turn's final input (stage "turn"); False if no longer ours."""
    with session_scope(immediate=True) as session:
        row = session.execute(
            select(PendingTurn).where(PendingTurn.id == turn_id, PendingTurn.owner == owner())
        ).scalar_one_or_none()
        if row is None:
            return False
        cipher = load_cipher(session, row.conversation_id)
        if cipher is None:  # erased meanwhile
            session.delete(row)
            return False
        row.stage, row.input_ct = TURN, _seal(cipher, TURN, turn_id, data)
        return True


def finish(turn_id: str) -> bool:
    """The turn ended (or there is none): delete the record if it is still ours."""
    with session_scope() as session:
        result = session.execute(delete(PendingTurn).where(PendingTurn.id == turn_id, PendingTurn.owner == owner()))
        return bool(result.rowcount)


RELEASED = "released"  # the owner of a record handed back unrun: nobody heart-beats it


def release(turn_id: str, now: Optional[datetime] = None) -> bool:
    """Hand the record back unrun (this process cannot run turns now): expired at once, so any
    replica that can run turns claims it; the run that was not made does not count as an attempt."""
    now = now or utcnow()
    with session_scope() as session:
        result = session.execute(
            update(PendingTurn)
            .where(PendingTurn.id == turn_id, PendingTurn.owner == owner())
            .values(owner=RELEASED, lease_until=now, attempts=PendingTurn.attempts - 1)
        )
        return bool(result.rowcount)


def drop(turn_id: str) -> None:
    """Delete the record whoever owns it (its message was released: the provider retries it)."""
    with session_scope() as session:
        session.execute(delete(PendingTurn).where(PendingTurn.id == turn_id))


def count_reply(turn_id: str, sent: int) -> None:
    """`sent` of the turn's replies have gone out (a re-run skips that many)."""
    with session_scope() as session:
        session.execute(
            update(PendingTurn)
            .where(PendingTurn.id == turn_id, PendingTurn.owner == owner(), PendingTurn.replies_sent < sent)
            .values(replies_sent=sent)
        )


def heartbeat(now: Optional[datetime] = None) -> int:
    """Extend the lease of every record this process owns; returns how many."""
    now = now or utcnow()
    with session_scope() as session:
        result = session.execute(
            update(PendingTurn).where(PendingTurn.owner == owner()).values(lease_until=now + lease())
        )
        return int(result.rowcount or 0)


def expired(channels: list[str], now: Optional[datetime] = None, limit: int = 100) -> list[str]:
    """Ids of records of these channels whose owner stopped heart-beating, oldest first."""
    now = now or utcnow()
    with session_scope() as session:
        return list(session.execute(
            select(PendingTurn.id)
            .where(PendingTurn.lease_until < now, PendingTurn.channel.in_(channels))
            .order_by(PendingTurn.created_at, PendingTurn.id)
            .limit(limit)
        ).scalars())


@dataclass(frozen=True)
class Claimed:
    """A record this process now owns, decrypted for one re-run (never logged)."""

    turn_id: str
    conversation_id: str
    channel: str
    stage: str
    data: dict[str, Any]
    replies_sent: int


def claim(turn_id: str, now: Optional[datetime] = None) -> Optional[Claimed]:
    """Take over an expired record (fenced: of several claimers exactly one gets it); None if
    another replica got it, its lease is live, it was erased, or it ran out of attempts (dropped)."""
    now = now or utcnow()
    with session_scope(immediate=True) as session:
        result = session.execute(
            update(PendingTurn)
            .where(PendingTurn.id == turn_id, PendingTurn.lease_until < now)
            .values(owner=owner(), lease_until=now + lease(), attempts=PendingTurn.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        row = session.get(PendingTurn, turn_id)
        if row is None:  # pragma: no cover - just updated in this transaction
            return None
        cipher = load_cipher(session, row.conversation_id)
        data: Optional[dict[str, Any]] = None
        if cipher is not None and row.attempts <= MAX_ATTEMPTS:
            try:
                data = json.loads(cipher.decrypt_text(row.input_ct, _context(row.stage, row.id)))
            except (DecryptionError, ValueError):
                data = None
        if data is None:
            session.delete(row)
            return None
        return Claimed(row.id, row.conversation_id, row.channel, row.stage, data, int(row.replies_sent))

