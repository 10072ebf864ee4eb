"""Each case's own data key: the per-key design of bot.crypto, keyed `case:<id>`.

The key row lives in `report_case_keys`, not `conversation_keys`, so neither the conversation's
erase nor its retention job can reach it; withdrawal and case retention shred it.
"""

from __future__ import annotations

from typing import Optional

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.crypto import ConversationCipher, KeyRing
from bot.reporting.models import CaseKey
from bot.store.models import utcnow


def key_name(case_id: int) -> str:
    return f"case:{int(case_id)}"


def create_cipher(session: Session, case_id: int, ring: Optional[KeyRing] = None) -> ConversationCipher:
    """A fresh data key for a new case, stored wrapped under the current master key."""
    ring = ring or KeyRing.from_settings()
    data_key = AESGCM.generate_key(bit_length=256)
    key_id, wrapped = ring.wrap(data_key, key_name(case_id))
    session.add(CaseKey(case_id=case_id, key_id=key_id, wrapped_key=wrapped, created_at=utcnow()))
    session.flush()
    return ConversationCipher(key_name(case_id), data_key)


def load_cipher(session: Session, case_id: int, ring: Optional[KeyRing] = None) -> Optional[ConversationCipher]:
    """The case's cipher, or None once shredded."""
    row = session.get(CaseKey, case_id)
    if row is None:
        return None
    ring = ring or KeyRing.from_settings()
    return ConversationCipher(key_name(case_id), ring.unwrap(row.key_id, row.wrapped_key, key_name(case_id)))


def shred(session: Session, case_id: int) -> bool:
    row = session.get(CaseKey, case_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def rotate(session: Session, ring: KeyRing) -> int:
    """Re-wrap every case key not under `ring.current_id` (beside bot.crypto.rotate_master_key)."""
    changed = 0
    for row in session.execute(select(CaseKey).where(CaseKey.key_id != ring.current_id)).scalars():
        data_key = ring.unwrap(row.key_id, row.wrapped_key, key_name(row.case_id))
        row.key_id, row.wrapped_key = ring.wrap(data_key, key_name(row.case_id))
        changed += 1
    session.flush()
    return changed
