"""SQLite runs with WAL, busy_timeout, foreign keys and secure_delete; retention erases idle ones."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from bot.crypto import get_or_create_cipher, load_cipher
from bot.safety.erase import erase_idle_conversations
from bot.store.db import get_engine, session_scope
from bot.store import tombstones
from bot.store.models import Contact, ConversationKey, Erasure


def test_sqlite_pragmas(haven_env) -> None:
    engine = get_engine(haven_env["HAVEN_DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA secure_delete")).scalar() == 1


def test_retention_erases_only_idle_conversations_and_keeps_no_content(db_url: str) -> None:
    now = datetime.now(timezone.utc)
    with session_scope() as s:
        for cid, age in (("old", 45), ("recent", 3)):
            get_or_create_cipher(s, cid)
            s.get(ConversationKey, cid).created_at = now - timedelta(days=age)
            s.add(Contact(conversation_id=cid, channel="sms", last_active_at=now - timedelta(days=age)))
    assert erase_idle_conversations(days=30, now=now) == 1
    with session_scope() as s:
        assert load_cipher(s, "old") is None and s.get(Contact, "old") is None
        assert load_cipher(s, "recent") is not None
        assert tombstones.erased_at(s, "old") is not None  # tombstone, pruned after TOMBSTONE_TTL
        assert s.get(Erasure, "old") is None  # keyed by a hash, never by the conversation id
    assert erase_idle_conversations(days=30, now=now + timedelta(days=31)) == 1  # "recent" now idle
    with session_scope() as s:
        assert s.get(Erasure, tombstones.token("old")) is None
