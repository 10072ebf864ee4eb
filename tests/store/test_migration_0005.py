"""Migration 0005 keeps every existing conversation readable and leaves no clear metadata behind."""

from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import create_engine, text

from bot.crypto import get_or_create_cipher, load_cipher
from bot.store import tombstones
from bot.store.db import dispose_engines, session_scope
from bot.store.migrate import upgrade
from bot.store.models import Contact, Erasure
from tests.conftest import _postgres_schema_url


@pytest.fixture(params=["sqlite", "postgres"])
def at_0004(request, haven_env, monkeypatch):  # noqa: ANN001, ANN201 - a database at revision 0004
    if request.param == "sqlite":
        url = haven_env["HAVEN_DATABASE_URL"]
        upgrade(url, "0004")
        yield url
        return
    base = os.environ.get("HAVEN_TEST_DATABASE_URL")
    if not base:
        pytest.skip("HAVEN_TEST_DATABASE_URL not set")
    url, schema = _postgres_schema_url(base)
    admin = create_engine(base, future=True)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    monkeypatch.setenv("HAVEN_DATABASE_URL", url)
    from bot.settings import get_settings

    get_settings.cache_clear()
    dispose_engines()
    try:
        upgrade(url, "0004")
        yield url
    finally:
        dispose_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_upgrade_reencrypts_events_and_moves_metadata(at_0004: str) -> None:
    event = {"event": "user", "timestamp": 1700000000.5, "text": "words", "parse_data": {"intent": {"name": "immediate_danger"}}}
    with session_scope() as s:
        cipher = get_or_create_cipher(s, "conv-m")
        old_ctx = "tracker_events|user|1700000000.5|immediate_danger|None"
        s.execute(
            text("INSERT INTO tracker_events (conversation_id, type_name, timestamp, intent_name, action_name, data_ct) "
                 "VALUES ('conv-m', 'user', 1700000000.5, 'immediate_danger', NULL, :d)"),
            {"d": cipher.encrypt_text(json.dumps(event), old_ctx)},
        )
        s.execute(text("INSERT INTO contacts (conversation_id, channel, country, opted_out, created_at, last_active_at) "
                       "VALUES ('conv-m', 'sms', 'KE', false, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"))
        s.execute(text("INSERT INTO handoffs (conversation_id, channel, language, country, risk, priority, status, version, "
                       "enqueued_at, message_seq, updated_at) VALUES ('conv-m', 'sms', 'en', 'KE', 'danger', 0, 'queued', 0, "
                       "'2026-01-01 00:00:00.000000', 0, '2026-01-01 00:00:00.000000')"))
        s.execute(text("INSERT INTO inbound_receipts (channel, receipt_hash, conversation_id, received_at) "
                       "VALUES ('sms', 'h1', 'conv-m', '2026-01-01 00:00:00.000000')"))
        s.execute(text("INSERT INTO erasures (conversation_id, erased_at) VALUES ('conv-gone', '2026-01-01 00:00:00.000000')"))

    upgrade(at_0004)

    from bot.handoff.models import Handoff, country_of, risk_of
    from bot.rasa_adapters.tracker_store import EncryptedTrackerStore

    events = EncryptedTrackerStore(engine=None, database_url=at_0004)._load_sync("conv-m", all_sessions=True)
    assert events == [event]
    with session_scope() as s:
        contact = s.get(Contact, "conv-m")
        cipher = load_cipher(s, "conv-m")
        assert cipher.decrypt_text(contact.country_ct, "contacts|country") == "KE"
        handoff = s.execute(text("SELECT id FROM handoffs")).scalar_one()
        row = s.get(Handoff, handoff)
        assert country_of(s, row) == "KE" and risk_of(row.priority) == "danger"
        assert s.get(Erasure, tombstones.token("conv-gone")) is not None
        assert s.execute(text("SELECT count(*) FROM inbound_receipts")).scalar_one() == 1
