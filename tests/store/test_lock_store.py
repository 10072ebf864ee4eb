"""The lock store follows HAVEN_REDIS_URL; with Redis two stores share one conversation's lock."""

from __future__ import annotations

from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import read_endpoint_config

from bot.rasa_adapters.atomic_lock import InMemoryAtomicLockStore
from bot.rasa_adapters.redis_lock import RedisAtomicLockStore
from bot.settings import ROOT


def test_in_memory_by_default(haven_env) -> None:
    cfg = read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store")
    assert isinstance(LockStore.create(cfg), InMemoryAtomicLockStore)


async def test_redis_when_configured(haven_env, monkeypatch, redis_url: str) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("HAVEN_REDIS_URL", redis_url)
    get_settings.cache_clear()
    cfg = read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store")
    a, b = LockStore.create(cfg), LockStore.create(cfg)
    assert isinstance(a, RedisAtomicLockStore) and isinstance(b, RedisAtomicLockStore)
    conv = "lock-test-conversation"
    a.delete_lock(conv)
    async with a.lock(conv):
        # A second replica sees the ticket the first one holds.
        held = b.get_lock(conv)
        assert held is not None and len(held.tickets) == 1
        # ...so a ticket it issues now is not served until the first replica releases.
        assert held.is_locked(held.last_issued + 1)
    after = b.get_lock(conv)
    assert after is None or not after.tickets
