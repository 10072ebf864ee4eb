"""Change signals for the live console: in-process wake-ups plus PostgreSQL NOTIFY.

Every state change bumps `handoffs.updated_at` (the console's watcher reads changes from the
database, the single source of truth). To make a change visible within a second:
- in the same process, `wake()` runs the registered callbacks right after commit;
- across processes and replicas on PostgreSQL, `signal(session, id)` issues `pg_notify` inside
  the transaction (delivered on commit) to every console listening on CHANNEL;
- on SQLite the console polls `max(updated_at)` a few times a second (an indexed lookup).
Payloads are internal row ids only.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

log = logging.getLogger("haven.handoff.notify")

CHANNEL = "haven_handoffs"
_lock = threading.Lock()
_callbacks: list[Callable[[], None]] = []


def subscribe(callback: Callable[[], None]) -> None:
    """Call `callback` (thread-safe, non-blocking please) after every local handoff change."""
    with _lock:
        _callbacks.append(callback)


def unsubscribe(callback: Callable[[], None]) -> None:
    with _lock:
        if callback in _callbacks:
            _callbacks.remove(callback)


def signal(session: Session, handoff_id: int) -> None:
    """Inside a transaction: tell other processes (PostgreSQL) that this handoff changed."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": str(handoff_id)})


def wake() -> None:
    """After commit: run local callbacks (the console's watcher re-reads at once)."""
    with _lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001 - a broken listener must not fail a state change
            log.exception("handoff change callback failed")
