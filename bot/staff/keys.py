"""Keys derived from the master key ring for console purposes (audit chain, officer secrets).

Derivation is HKDF-SHA256 with a purpose label, so these keys are independent of the data-key
wrapping done by bot.crypto. Each derived use records the master key id, so a master key
rotation keeps old rows verifiable while HAVEN_OLD_MASTER_KEYS still lists the old key.
"""

from __future__ import annotations

import os
from typing import Optional

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.crypto import DecryptionError, KeyRing

NONCE_BYTES = 12


def derive(ring: KeyRing, key_id: str, purpose: str) -> bytes:
    """A 32-byte key for `purpose` derived from master key `key_id`."""
    master = ring.keys.get(key_id)
    if master is None:
        raise DecryptionError(f"master key id {key_id!r} is not configured")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"haven|{purpose}".encode()).derive(master)


def seal(ring: KeyRing, purpose: str, plaintext: bytes, aad: str) -> tuple[str, bytes]:
    """Encrypt under the current master key's `purpose` key; returns (key_id, blob)."""
    key = derive(ring, ring.current_id, purpose)
    nonce = os.urandom(NONCE_BYTES)
    return ring.current_id, nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())


def unseal(ring: KeyRing, purpose: str, key_id: str, blob: bytes, aad: str) -> bytes:
    key = derive(ring, key_id, purpose)
    try:
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("sealed value failed authentication") from exc


def keyring(settings: Optional[object] = None) -> KeyRing:
    return KeyRing.from_settings(settings)
