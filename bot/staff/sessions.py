"""Server-side console sessions: idle timeout 30 min, absolute 12 h, revocable on logout.

The cookie holds a random token; the database keeps only its SHA-256, so a leaked table gives no
usable session. Each session has its own CSRF token (synchroniser pattern).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.staff.models import ConsoleSession, Officer
from bot.store.db import session_scope
from bot.store.models import utcnow

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
TOUCH_EVERY = timedelta(seconds=20)


@dataclass(frozen=True)
class SessionInfo:
    """The logged-in officer as the web layer sees it."""

    session_id: str
    officer_id: int
    username: str
    display_name: str
    role: str
    team_id: Optional[int]
    languages: tuple[str, ...]
    csrf_token: str


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(officer_id: int, ip: Optional[str], engine: Optional[Engine] = None, now: Optional[datetime] = None) -> str:
    """Start a session; returns the cookie token (shown once, never stored)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with session_scope(engine, immediate=True) as session:
        session.add(
            ConsoleSession(
                id=token_id(token),
                officer_id=officer_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
                expires_at=now + ABSOLUTE_TIMEOUT,
                ip=(ip or "")[:64] or None,
            )
        )
        session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now - timedelta(days=1)))
    return token


def load(token: Optional[str], engine: Optional[Engine] = None, now: Optional[datetime] = None, touch: bool = True) -> Optional[SessionInfo]:
    """The session for a cookie token if it is live (not revoked, idle or past its absolute end)."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    sid = token_id(token)
    with session_scope(engine) as session:
        # The session and its officer in one round trip (every console request starts here).
        found = session.execute(
            select(ConsoleSession, Officer).outerjoin(Officer, Officer.id == ConsoleSession.officer_id)
            .where(ConsoleSession.id == sid)
        ).first()
        if found is None:
            return None
        row, officer = found
        if row.revoked_at is not None:
            return None
        if now >= row.expires_at or now - row.last_seen_at >= IDLE_TIMEOUT:
            return None
        if officer is None or not officer.active:
            return None
        info = SessionInfo(
            sid, int(officer.id), officer.username, officer.display_name, officer.role, officer.team_id,
            tuple(officer.language_list()), row.csrf_token,
        )
        last_seen = row.last_seen_at
    if touch and now - last_seen >= TOUCH_EVERY:
        with session_scope(engine) as session:
            session.execute(update(ConsoleSession).where(ConsoleSession.id == sid).values(last_seen_at=now))
    return info


def still_live(session_id: str, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> bool:
    """Whether a session is still live (not revoked, idle or past its absolute end); no touch."""
    with session_scope(engine) as session:
        row = session.get(ConsoleSession, session_id)
        now = now or utcnow()
        return bool(
            row and row.revoked_at is None and now < row.expires_at and now - row.last_seen_at < IDLE_TIMEOUT
        )


def revoke(session_id: str, engine: Optional[Engine] = None, now: Optional[datetime] = None) -> None:
    with session_scope(engine) as session:
        session.execute(
            update(ConsoleSession).where(ConsoleSession.id == session_id).values(revoked_at=now or utcnow())
        )


def revoke_all(session: Session, officer_id: int, keep: Optional[str] = None) -> None:
    """Inside a transaction: end every session of an officer but `keep` (disable, 2FA reset, password)."""
    stmt = update(ConsoleSession).where(ConsoleSession.officer_id == officer_id, ConsoleSession.revoked_at.is_(None))
    if keep is not None:
        stmt = stmt.where(ConsoleSession.id != keep)
    session.execute(stmt.values(revoked_at=utcnow()))
