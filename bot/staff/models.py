"""Console tables: officers, used TOTP steps, server-side sessions, login failures, audit log.

Nothing here holds survivor content. The TOTP secret is encrypted at rest under a key derived
from the master key (bound to the officer's row); passwords are Argon2id hashes; session and
throttling rows store only hashes of tokens and usernames. The audit log is append-only and
hash-chained (see bot.audit).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, LargeBinary, SmallInteger, String

from bot.store.models import Base, UTCDateTime, utcnow

ROLES = ("officer", "supervisor", "admin")


class Officer(Base):
    """A console account. `languages` is a comma-separated list of language codes it handles."""

    __tablename__ = "officers"
    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(120), nullable=False)
    role = Column(String(16), nullable=False, default="officer")
    team_id = Column(Integer, ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    languages = Column(String(64), nullable=False, default="")
    password_hash = Column(String(255), nullable=False)
    totp_key_id = Column(String(32), nullable=True)
    totp_secret_ct = Column(LargeBinary, nullable=True)
    totp_last_step = Column(Integer, nullable=False, default=0)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    disabled_at = Column(UTCDateTime, nullable=True)
    password_changed_at = Column(UTCDateTime, nullable=True)

    def language_list(self) -> list[str]:
        return [code for code in (self.languages or "").split(",") if code]


class UsedTotp(Base):
    """A TOTP time step already accepted for an officer: the same code is never accepted twice."""

    __tablename__ = "officer_totp_used"
    officer_id = Column(Integer, ForeignKey("officers.id", ondelete="CASCADE"), primary_key=True)
    step = Column(Integer, primary_key=True, autoincrement=False)
    used_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ConsoleSession(Base):
    """A server-side login session; `id` is the SHA-256 of the cookie token (never the token)."""

    __tablename__ = "console_sessions"
    id = Column(String(64), primary_key=True)
    officer_id = Column(Integer, ForeignKey("officers.id", ondelete="CASCADE"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    last_seen_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    revoked_at = Column(UTCDateTime, nullable=True)
    ip = Column(String(64), nullable=True)


class LoginFailure(Base):
    """A failed login under a keyed hash of its username, address, both, or device (bot.staff.throttle)."""

    __tablename__ = "login_failures"
    id = Column(Integer, primary_key=True, autoincrement=True)
    key_hash = Column(String(64), nullable=False, index=True)
    at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class AuditEntry(Base):
    """One audit row: who did what to which record, when and from where; never any content.

    The log is a few independent hash chains (`chain`, by handoff id) so unrelated handoffs can
    commit in parallel; within a chain `seq` is contiguous and `hash` = HMAC(audit key, prev_hash +
    canonical fields), so an edited, inserted or deleted row breaks it (`haven audit verify`).
    """

    __tablename__ = "audit_log"
    chain = Column(SmallInteger, primary_key=True, autoincrement=False)
    seq = Column(Integer, primary_key=True, autoincrement=False)
    at = Column(UTCDateTime, nullable=False)
    actor_type = Column(String(16), nullable=False)  # officer | system | survivor | cli
    actor_id = Column(Integer, nullable=True)
    action = Column(String(32), nullable=False)
    handoff_id = Column(Integer, nullable=True, index=True)
    target_id = Column(Integer, nullable=True)
    team_id = Column(Integer, nullable=True)
    outcome = Column(String(32), nullable=True)
    ip = Column(String(64), nullable=True)
    key_id = Column(String(32), nullable=False)
    prev_hash = Column(String(64), nullable=False)
    hash = Column(String(64), nullable=False)
