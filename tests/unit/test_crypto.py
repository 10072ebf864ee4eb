"""Known-answer and property tests for data keys, wrapping, AAD binding and pseudonyms."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.crypto import (
    DecryptionError,
    KeyRing,
    get_or_create_cipher,
    load_cipher,
    pseudonym,
    rotate_master_key,
    shred_key,
)
from bot.store.db import session_scope
from bot.store.models import ConversationKey


def test_pseudonym_known_answer() -> None:
    # Computed independently: printf 'sms\x1f+15550100001' | openssl dgst -sha256 -mac HMAC -macopt hexkey:00...00
    assert pseudonym(bytes(32), "sms", "+15550100001") == "aae15744029d8dc5c2077d68d2df584c767a37d2360413f1aa05fa4d59b85dcc"


def test_pseudonym_depends_on_channel_and_key() -> None:
    a = pseudonym(b"k" * 32, "sms", "+15550100001")
    assert a != pseudonym(b"k" * 32, "whatsapp", "+15550100001")
    assert a != pseudonym(b"j" * 32, "sms", "+15550100001")
    assert a == pseudonym(b"k" * 32, "sms", "+15550100001")


def test_cipher_roundtrip_and_row_binding(db_url: str) -> None:
    with session_scope() as s:
        c1 = get_or_create_cipher(s, "conv-a")
        c2 = get_or_create_cipher(s, "conv-b")
        blob = c1.encrypt_text("marker-7f3a", "tracker_events|1")
        assert c1.decrypt_text(blob, "tracker_events|1") == "marker-7f3a"
        with pytest.raises(DecryptionError):
            c1.decrypt_text(blob, "tracker_events|2")  # swapped to another row
        with pytest.raises(DecryptionError):
            c2.decrypt_text(blob, "tracker_events|1")  # swapped to another conversation
        assert b"marker-7f3a" not in blob


def test_shredded_key_cannot_be_loaded(db_url: str) -> None:
    with session_scope() as s:
        get_or_create_cipher(s, "conv-a")
    with session_scope() as s:
        assert shred_key(s, "conv-a") is True
    with session_scope() as s:
        assert load_cipher(s, "conv-a") is None


def test_rotation_keeps_every_row_readable(db_url: str) -> None:
    old = KeyRing("k1", {"k1": b"1" * 32})
    blobs = {}
    with session_scope() as s:
        for i in range(5):
            c = get_or_create_cipher(s, f"conv-{i}", old)
            blobs[i] = c.encrypt_text(f"text-{i}", "row")
    new = KeyRing("k2", {"k1": b"1" * 32, "k2": b"2" * 32})
    with session_scope() as s:
        assert rotate_master_key(s, new) == 5
    with session_scope() as s:
        assert {r.key_id for r in s.execute(select(ConversationKey)).scalars()} == {"k2"}
    only_new = KeyRing("k2", {"k2": b"2" * 32})  # the old master key is retired
    with session_scope() as s:
        for i in range(5):
            assert load_cipher(s, f"conv-{i}", only_new).decrypt_text(blobs[i], "row") == f"text-{i}"
