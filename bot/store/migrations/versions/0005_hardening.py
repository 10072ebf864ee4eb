"""hardening: no metadata in the clear, receipts that outlive an erase, unlinkable tombstones

- tracker_events: intent_name and action_name dropped (they are inside the encrypted event JSON);
  every event is re-encrypted under the new associated data (type and timestamp only).
- contacts.country and handoffs.country -> country_ct (encrypted under the conversation key);
  handoffs.risk dropped (the priority, which the queue order needs, stands for it).
- inbound_receipts.conversation_id dropped (a receipt outlives an erase; received_at to the day).
- erasures.conversation_id -> token, a keyed hash of the conversation id (bot/store/tombstones.py).

Plain ALTER TABLE ... DROP/RENAME COLUMN (SQLite >= 3.35 and PostgreSQL) rather than Alembic's
batch mode, which would rebuild `handoffs` and lose the partial unique index's WHERE clause.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
import json
from typing import Any, Optional

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

PRIORITY_RISK = {0: "danger", 1: "disclosed", 2: "other"}


def _old_context(type_name: str, timestamp: Any, intent: Optional[str], action: Optional[str]) -> str:
    return f"tracker_events|{type_name}|{timestamp!r}|{intent}|{action}"


def _new_context(type_name: str, timestamp: Any) -> str:
    return f"tracker_events|{type_name}|{timestamp!r}"


def _names(plain: str) -> tuple[Optional[str], Optional[str]]:
    data = json.loads(plain)
    return (data.get("parse_data") or {}).get("intent", {}).get("name"), data.get("name")


def _ciphers(session: Session) -> Any:
    from bot.crypto import DecryptionError, load_cipher

    cache: dict[str, Any] = {}

    def get(conversation_id: str) -> Any:
        if conversation_id not in cache:
            try:
                cache[conversation_id] = load_cipher(session, conversation_id)
            except DecryptionError:
                cache[conversation_id] = None
        return cache[conversation_id]

    return get


def _drop(table: str, column: str) -> None:
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


def _reencrypt_events(session: Session, upgrade: bool) -> None:
    from bot.crypto import DecryptionError

    cipher_of = _ciphers(session)
    conn = session.connection()
    cols = "id, conversation_id, type_name, timestamp, data_ct" + (", intent_name, action_name" if upgrade else "")
    for row in conn.execute(sa.text(f"SELECT {cols} FROM tracker_events")).mappings().all():
        cipher = cipher_of(row["conversation_id"])
        try:
            if cipher is None:
                raise DecryptionError("no key")
            if upgrade:
                old = _old_context(row["type_name"], row["timestamp"], row["intent_name"], row["action_name"])
                plain = cipher.decrypt_text(bytes(row["data_ct"]), old)
                blob = cipher.encrypt_text(plain, _new_context(row["type_name"], row["timestamp"]))
                conn.execute(sa.text("UPDATE tracker_events SET data_ct = :b WHERE id = :i"), {"b": blob, "i": row["id"]})
            else:
                plain = cipher.decrypt_text(bytes(row["data_ct"]), _new_context(row["type_name"], row["timestamp"]))
                intent, action = _names(plain)
                blob = cipher.encrypt_text(plain, _old_context(row["type_name"], row["timestamp"], intent, action))
                conn.execute(
                    sa.text("UPDATE tracker_events SET data_ct = :b, intent_name = :n, action_name = :a WHERE id = :i"),
                    {"b": blob, "n": intent, "a": action, "i": row["id"]},
                )
        except DecryptionError:
            # Unreadable already (its key was shredded): nothing worth keeping.
            conn.execute(sa.text("DELETE FROM tracker_events WHERE id = :i"), {"i": row["id"]})


def _move_country(session: Session, table: str, key: str, context: str, upgrade: bool) -> None:
    from bot.crypto import DecryptionError

    cipher_of = _ciphers(session)
    conn = session.connection()
    source = "country" if upgrade else "country_ct"
    rows = conn.execute(sa.text(f"SELECT {key}, conversation_id, {source} FROM {table} WHERE {source} IS NOT NULL"))
    for row in rows.mappings().all():
        cipher = cipher_of(row["conversation_id"])
        value: Any = None
        if cipher is not None:
            try:
                if upgrade:
                    value = cipher.encrypt_text(row["country"], context)
                else:
                    value = cipher.decrypt_text(bytes(row["country_ct"]), context)[:2]
            except DecryptionError:
                value = None
        target = "country_ct" if upgrade else "country"
        conn.execute(sa.text(f"UPDATE {table} SET {target} = :v WHERE {key} = :k"), {"v": value, "k": row[key]})


def upgrade() -> None:
    from bot.crypto import keyed_hash
    from bot.settings import get_settings

    bind = op.get_bind()
    session = Session(bind=bind)

    _reencrypt_events(session, upgrade=True)
    _drop("tracker_events", "intent_name")
    _drop("tracker_events", "action_name")

    op.add_column('contacts', sa.Column('country_ct', sa.LargeBinary(), nullable=True))
    _move_country(session, "contacts", "conversation_id", "contacts|country", upgrade=True)
    _drop("contacts", "country")

    op.add_column('handoffs', sa.Column('country_ct', sa.LargeBinary(), nullable=True))
    _move_country(session, "handoffs", "id", "handoffs|country", upgrade=True)
    _drop("handoffs", "country")
    _drop("handoffs", "risk")
    # Rows already erased keep no trace of her risk flag.
    op.execute("UPDATE handoffs SET priority = 2 WHERE conversation_id LIKE 'erased:%'")

    op.drop_index('ix_inbound_receipts_conversation_id', table_name='inbound_receipts')
    _drop("inbound_receipts", "conversation_id")

    op.execute("ALTER TABLE erasures RENAME COLUMN conversation_id TO token")
    key = get_settings().pseudonym_key
    conn = session.connection()
    for (cid,) in conn.execute(sa.text("SELECT token FROM erasures")).all():
        conn.execute(
            sa.text("UPDATE erasures SET token = :t WHERE token = :c"), {"t": keyed_hash(key, "erasure", cid), "c": cid}
        )
    session.flush()


def downgrade() -> None:
    bind = op.get_bind()
    session = Session(bind=bind)

    # Tombstones cannot be turned back into conversation ids: they are dropped (they last a day).
    op.execute("DELETE FROM erasures")
    op.execute("ALTER TABLE erasures RENAME COLUMN token TO conversation_id")

    op.add_column('inbound_receipts', sa.Column('conversation_id', sa.String(length=64), nullable=True))
    op.create_index('ix_inbound_receipts_conversation_id', 'inbound_receipts', ['conversation_id'], unique=False)

    op.add_column('handoffs', sa.Column('risk', sa.String(length=16), nullable=False, server_default='other'))
    for priority, risk in PRIORITY_RISK.items():
        op.execute(sa.text("UPDATE handoffs SET risk = :r WHERE priority = :p").bindparams(r=risk, p=priority))
    op.add_column('handoffs', sa.Column('country', sa.String(length=2), nullable=True))
    _move_country(session, "handoffs", "id", "handoffs|country", upgrade=False)
    _drop("handoffs", "country_ct")

    op.add_column('contacts', sa.Column('country', sa.String(length=2), nullable=True))
    _move_country(session, "contacts", "conversation_id", "contacts|country", upgrade=False)
    _drop("contacts", "country_ct")

    op.add_column('tracker_events', sa.Column('intent_name', sa.String(length=128), nullable=True))
    op.add_column('tracker_events', sa.Column('action_name', sa.String(length=128), nullable=True))
    _reencrypt_events(session, upgrade=False)
    session.flush()
