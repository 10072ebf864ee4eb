"""One run at a time across replicas: a PostgreSQL session advisory lock around a job run.

With several replicas alive (several action servers, console replicas) a scheduled job wraps each
run in `exclusive(name)`: the replica that takes the lock runs, the others skip this interval.
Jobs stay idempotent too (a later run finds nothing left to do), so together: one run per interval.
On SQLite (the embedded default, one machine, one process per role) the lock is always granted.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Iterator, Optional

from sqlalchemy import text
from sqlalchemy.engine import Engine


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job name."""
    return int.from_bytes(hashlib.sha256(f"haven-job:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(name: str, engine: Optional[Engine] = None) -> Iterator[bool]:
    """Yield True if this process holds job `name`'s lock for the block, False if another does."""
    if engine is None:
        from bot.store.db import get_engine

        engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
