"""Rasa lock store chosen by configuration: Redis when HAVEN_REDIS_URL is set, else in-memory.

Both are Haven's atomic ticket locks (bot/rasa_adapters/atomic_lock.py); `redis_lock_store` builds
Rasa's stock RedisLockStore, kept only as the benchmarks' and tests' baseline.

Referenced from endpoints.yml (`type: bot.rasa_adapters.lock_store.HavenLockStore`) so the same file serves
the embedded default (one Rasa process) and a scale-out deployment (several Rasa replicas).
"""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlparse

from rasa.core.lock_store import LockStore, RedisLockStore


def redis_lock_store(url: str) -> RedisLockStore:
    """A RedisLockStore from a redis:// or rediss:// URL (db from the path, default 1)."""
    parsed = urlparse(url)
    db = int(parsed.path.lstrip("/") or 1)
    return RedisLockStore(
        host=parsed.hostname or "localhost",
        port=parsed.port or 6379,
        db=db,
        username=parsed.username or None,
        password=parsed.password or None,
        use_ssl=parsed.scheme == "rediss",
        key_prefix="haven",
    )


class HavenLockStore:
    """Factory class: instantiating it returns the configured LockStore."""

    def __new__(cls, endpoint_config: Optional[Any] = None, redis_url: Optional[str] = None) -> LockStore:
        from bot.settings import get_settings

        from bot.rasa_adapters.atomic_lock import InMemoryAtomicLockStore
        from bot.rasa_adapters.redis_lock import RedisAtomicLockStore

        url = redis_url or get_settings().redis_url
        return RedisAtomicLockStore(url) if url else InMemoryAtomicLockStore()
