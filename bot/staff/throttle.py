"""Login throttling that slows guessing without locking the officer out of her own account.

Every failed login is a row in `login_failures` under keyed hashes of:

- `pair`: username + client address (3 free failures), `user`: username from any address (10),
- `addr`: client address, any username (30), `device`: one known-device token (5).

Past its free failures a key makes the next attempt wait `2 ** (n - free)` seconds after its
latest failure (capped at 15 minutes; failures older than an hour are forgotten), so one
address guessing one name gets about 13 tries in its first quarter hour, then 4 an hour.
A browser that logged in as a username before holds a known-device token (a keyed MAC over
the username, 90 days): its attempts at that username are judged only by that token's own
failures, so an attacker elsewhere, or behind the same proxy, cannot keep the officer out of
her own browser; with the right password and TOTP code she gets in. Other browsers are judged
by pair, user and addr.

The count is atomic: `reserve` takes the keys' locks (PostgreSQL: a transaction-scoped advisory
lock per key, in order; SQLite: BEGIN IMMEDIATE), reads the counts and records this attempt as
a failure in one transaction, before the slow password check; a successful login then deletes
its reservation. Concurrent guesses cannot all read the same count.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.crypto import keyed_hash
from bot.staff.models import LoginFailure
from bot.store.db import session_scope

WINDOW = timedelta(hours=1)
MAX_DELAY = timedelta(minutes=15)
FREE = {"pair": 3, "user": 10, "addr": 30, "device": 5}
DEVICE_DAYS = 90
DEVICE_COOKIE = "__Host-haven_device"


def _key() -> bytes:
    from bot.settings import get_settings

    return get_settings().pseudonym_key


def delay(failures: int, free: int) -> timedelta:
    """How long after the latest failure the next attempt must wait."""
    if failures < free:
        return timedelta(0)
    return min(MAX_DELAY, timedelta(seconds=2 ** min(failures - free, 20)))


# ------------------------------------------------------------------ known devices


def _norm(username: str) -> str:
    return username.strip().lower()


def device_token(username: str, now: datetime) -> str:
    """A token for the browser that just logged in as `username` (kept in a cookie)."""
    nonce, issued = secrets.token_urlsafe(18), str(int(now.timestamp()))
    mac = keyed_hash(_key(), "login-device", f"{_norm(username)}|{nonce}|{issued}")
    return f"{nonce}.{issued}.{mac}"


def device_id(token: Optional[str], username: str, now: datetime) -> Optional[str]:
    """The token's nonce if it is a live known-device token for this username, else None."""
    if not token or len(token) > 200 or not token.isascii():
        return None
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    nonce, issued, mac = parts
    expected = keyed_hash(_key(), "login-device", f"{_norm(username)}|{nonce}|{issued}")
    if not secrets.compare_digest(expected.encode(), mac.encode()):
        return None
    age = now.timestamp() - int(issued)
    return nonce if 0 <= age <= DEVICE_DAYS * 86400 else None


# ------------------------------------------------------------------ reservations


@dataclass(frozen=True)
class Reservation:
    """One login attempt, recorded in advance as a failure (`ids`), or refused (`throttled`)."""

    throttled: bool
    ids: tuple[int, ...]
    keys: dict[str, str]


def keys_for(username: str, ip: Optional[str], device: Optional[str]) -> dict[str, str]:
    key, name, address = _key(), _norm(username), ip or "?"
    keys = {
        "pair": keyed_hash(key, "login-pair", f"{name}|{address}"),
        "user": keyed_hash(key, "login-user", name),
        "addr": keyed_hash(key, "login-ip", address),
    }
    if device:
        keys["device"] = keyed_hash(key, "login-device-fail", device)
    return keys


def _lock(session: Session, keys: list[str]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite: the caller's BEGIN IMMEDIATE holds the write lock
    for k in sorted(keys):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(k[:15], 16)})


def _must_wait(session: Session, kind: str, key: str, now: datetime) -> bool:
    count, latest = session.execute(
        select(func.count(LoginFailure.id), func.max(LoginFailure.at)).where(
            LoginFailure.key_hash == key, LoginFailure.at > now - WINDOW
        )
    ).one()
    wait = delay(int(count or 0), FREE[kind])
    return bool(latest is not None and wait and now < latest + wait)


def reserve(username: str, ip: Optional[str], device: Optional[str], engine: Optional[Engine], now: datetime) -> Reservation:
    """Check the delays and record this attempt as a failure, atomically, before verifying."""
    keys = keys_for(username, ip, device)
    judged = ["device"] if device else ["pair", "user", "addr"]
    with session_scope(engine, immediate=True) as session:
        _lock(session, list(keys.values()))
        if any(_must_wait(session, kind, keys[kind], now) for kind in judged):
            return Reservation(True, (), keys)
        rows = [LoginFailure(key_hash=k, at=now) for k in keys.values()]
        session.add_all(rows)
        session.flush()
        session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW * 4))
        return Reservation(False, tuple(int(r.id) for r in rows), keys)


def succeeded(session: Session, reservation: Reservation) -> None:
    """Inside the login transaction: the attempt was good; forget it and this name's failures."""
    session.execute(delete(LoginFailure).where(LoginFailure.id.in_(reservation.ids)))
    forget = [reservation.keys[k] for k in ("pair", "user", "device") if k in reservation.keys]
    session.execute(delete(LoginFailure).where(LoginFailure.key_hash.in_(forget)))
