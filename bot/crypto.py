"""Per-conversation data keys (AES-256-GCM), master-key wrapping, shredding, HMAC pseudonyms.

Each conversation (Rasa sender_id) has its own random data key. The data key is stored only
wrapped (encrypted) under a master key that carries an id, so the master key can be rotated by
re-wrapping every data key. Every ciphertext is bound to its row with associated data (AAD), so
a ciphertext copied to another row, or another conversation, fails to decrypt. Erasing a
conversation deletes its wrapped data key: whatever copies of the ciphertext survive (SQLite free
pages, PostgreSQL dead tuples, backups) can no longer be read.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Optional

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import ConversationKey

NONCE_BYTES = 12
VERSION = b"\x01"


class DecryptionError(Exception):
    """A ciphertext could not be authenticated (wrong key, wrong row, tampered or shredded)."""


class KeyMissing(DecryptionError):
    """The conversation has no data key (never created, or shredded by an erase)."""


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION:
        raise DecryptionError("malformed ciphertext")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise DecryptionError("ciphertext failed authentication") from exc


@dataclass(frozen=True)
class KeyRing:
    """Master keys by id; `current_id` wraps new data keys, the others only unwrap."""

    current_id: str
    keys: Mapping[str, bytes]

    @classmethod
    def from_settings(cls, settings: "object | None" = None) -> "KeyRing":
        from bot.settings import get_settings

        s = settings or get_settings()
        keys = dict(getattr(s, "old_master_keys"))
        keys[getattr(s, "master_key_id")] = getattr(s, "master_key")
        return cls(current_id=getattr(s, "master_key_id"), keys=keys)

    def wrap(self, data_key: bytes, conversation_id: str) -> tuple[str, bytes]:
        aad = b"haven-dk|" + conversation_id.encode()
        return self.current_id, _seal(self.keys[self.current_id], data_key, aad)

    def unwrap(self, key_id: str, wrapped: bytes, conversation_id: str) -> bytes:
        master = self.keys.get(key_id)
        if master is None:
            raise DecryptionError(f"master key id {key_id!r} is not configured")
        return _open(master, wrapped, b"haven-dk|" + conversation_id.encode())


@dataclass(frozen=True)
class ConversationCipher:
    """Encrypts and decrypts one conversation's content; AAD binds each ciphertext to its row."""

    conversation_id: str
    key: bytes

    def _aad(self, context: str) -> bytes:
        return f"{self.conversation_id}|{context}".encode()

    def encrypt(self, plaintext: bytes, context: str) -> bytes:
        return _seal(self.key, plaintext, self._aad(context))

    def decrypt(self, blob: bytes, context: str) -> bytes:
        return _open(self.key, blob, self._aad(context))

    def encrypt_text(self, plaintext: str, context: str) -> bytes:
        return self.encrypt(plaintext.encode("utf-8"), context)

    def decrypt_text(self, blob: bytes, context: str) -> str:
        return self.decrypt(blob, context).decode("utf-8")


def load_cipher(session: Session, conversation_id: str, keyring: Optional[KeyRing] = None) -> Optional[ConversationCipher]:
    """The conversation's cipher, or None if it has no key (never created or shredded)."""
    row = session.get(ConversationKey, conversation_id)
    if row is None:
        return None
    ring = keyring or KeyRing.from_settings()
    return ConversationCipher(conversation_id, ring.unwrap(row.key_id, row.wrapped_key, conversation_id))


def get_or_create_cipher(session: Session, conversation_id: str, keyring: Optional[KeyRing] = None) -> ConversationCipher:
    """The conversation's cipher, creating and storing a fresh wrapped data key if needed."""
    ring = keyring or KeyRing.from_settings()
    existing = load_cipher(session, conversation_id, ring)
    if existing is not None:
        return existing
    data_key = AESGCM.generate_key(bit_length=256)
    key_id, wrapped = ring.wrap(data_key, conversation_id)
    session.add(
        ConversationKey(
            conversation_id=conversation_id,
            key_id=key_id,
            wrapped_key=wrapped,
            created_at=datetime.now(timezone.utc),
        )
    )
    session.flush()
    return ConversationCipher(conversation_id, data_key)


def shred_key(session: Session, conversation_id: str) -> bool:
    """Delete the conversation's wrapped data key; returns whether one existed."""
    row = session.get(ConversationKey, conversation_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def rotate_master_key(session: Session, keyring: KeyRing, batch: int = 500) -> int:
    """Re-wrap every data key not yet under `keyring.current_id`; returns how many changed."""
    changed = 0
    stmt = select(ConversationKey).where(ConversationKey.key_id != keyring.current_id)
    for row in session.execute(stmt.execution_options(yield_per=batch)).scalars():
        data_key = keyring.unwrap(row.key_id, row.wrapped_key, row.conversation_id)
        row.key_id, row.wrapped_key = keyring.wrap(data_key, row.conversation_id)
        changed += 1
    session.flush()
    return changed


def pseudonym(key: bytes, channel: str, normalised_address: str) -> str:
    """The stable, non-reversible conversation id for an address on a channel (HMAC-SHA256, hex)."""
    msg = f"{channel}\x1f{normalised_address}".encode("utf-8")
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def keyed_hash(key: bytes, purpose: str, value: str) -> str:
    """A keyed hash for lookups that must not reveal the value (e.g. provider message ids)."""
    return hmac.new(key, f"{purpose}\x1f{value}".encode("utf-8"), hashlib.sha256).hexdigest()
