"""The atomic ticket lock on Redis (see bot/rasa_adapters/atomic_lock.py for the design):
each queue operation is one Lua script on the Redis clock; waiters wake on a pub/sub message."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlparse

from rasa.core.lock_store import LOCK_LIFETIME

from bot.rasa_adapters.atomic_lock import COUNTER_TTL_MS, POLL_INTERVAL, AtomicLockStore, Renewal, owner

log = logging.getLogger("haven.lock")

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local function head()
  local low = nil
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    local v = tonumber(m)
    if low == nil or v < low then low = v end
  end
  return low
end
local function keep(ms)
  if redis.call('PTTL', KEYS[1]) < ms then redis.call('PEXPIRE', KEYS[1], ms) end
end
"""
# KEYS: queue, counter, owners; ARGV: lifetime ms, counter ttl ms, owner -> {ticket, granted}
ISSUE = _NOW + """
local n = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), n)
keep(tonumber(ARGV[1]))
redis.call('HSET', KEYS[3], n, ARGV[3])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[3], ARGV[1]) end
if head() == n then return {n, 1} end
return {n, 0}
"""
# KEYS: queue; ARGV: ticket, lifetime ms -> 1 granted (lease restarts now), 0 waiting, -1 lost
CHECK = _NOW + """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
if head() ~= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
keep(tonumber(ARGV[2]))
return 1
"""
# KEYS: queue, owners; ARGV: ticket, channel, conversation -> 1 if somebody still waits (and was told)
RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""
# KEYS: queue; ARGV: lifetime ms, ticket... -> tickets renewed (a ticket already expired stays lost)
RENEW = _NOW + """
local renewed = 0
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[1]), ARGV[i])
    renewed = renewed + 1
  end
end
keep(tonumber(ARGV[1]))
return renewed
"""


@dataclass
class _LoopClient:
    client: Any
    issue: Any
    check: Any
    release: Any
    renew: Any
    listener: Optional["asyncio.Task[None]"] = None


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisAtomicLockStore(AtomicLockStore):
    """The ticket lock on Redis, shared by every Rasa replica."""

    def __init__(self, url: str, key_prefix: str = "haven", poll_interval: float = POLL_INTERVAL,
                 socket_timeout: float = 10.0) -> None:
        super().__init__(poll_interval)
        parsed = urlparse(url)
        self.url = url
        self.db = int(parsed.path.lstrip("/") or 1)
        self.socket_timeout = socket_timeout
        self.prefix = f"{key_prefix}:lock:"
        self.channel = f"{key_prefix}:lock:released"
        self._clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient]" = weakref.WeakKeyDictionary()
        self._sync: Any = None

    def _keys(self, conversation_id: str) -> tuple[str, str, str]:
        base = f"{self.prefix}{{{conversation_id}}}"
        return f"{base}:q", f"{base}:n", f"{base}:o"

    def owners(self, conversation_id: str) -> dict[int, str]:
        """Live ticket -> the process ("host:pid") that holds or waits with it."""
        client = self._sync_client()[0]
        queue, _, owners = self._keys(conversation_id)
        live = set(self._tickets(conversation_id))
        return {int(n): o.decode() for n, o in client.hgetall(owners).items() if int(n) in live}

    def _loop_client(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        found = self._clients.get(loop)
        if found is None:
            import redis.asyncio

            client = redis.asyncio.from_url(self.url, db=self.db, socket_timeout=self.socket_timeout)
            found = _LoopClient(client, *(client.register_script(s) for s in (ISSUE, CHECK, RELEASE, RENEW)))
            self._clients[loop] = found
        return found

    def _sync_client(self) -> Any:
        if self._sync is None:
            import redis

            client = redis.Redis.from_url(self.url, db=self.db, socket_timeout=self.socket_timeout)
            self._sync = (client, *(client.register_script(s) for s in (ISSUE, CHECK, RELEASE, RENEW)))
        return self._sync

    async def _issue(self, conversation_id: str, lifetime: float) -> tuple[int, bool]:
        number, granted = await self._loop_client().issue(
            keys=self._keys(conversation_id), args=[_ms(lifetime), COUNTER_TTL_MS, owner()])
        return int(number), bool(granted)

    async def _check(self, conversation_id: str, number: int, lifetime: float) -> int:
        queue = self._keys(conversation_id)[0]
        return int(await self._loop_client().check(keys=[queue], args=[number, _ms(lifetime)]))

    async def _release(self, conversation_id: str, number: int) -> None:
        queue, _, owners = self._keys(conversation_id)
        await self._loop_client().release(keys=[queue, owners], args=[number, self.channel, conversation_id])

    async def _renew(self, tickets: list[Renewal]) -> None:
        conn = self._loop_client()
        by_queue: dict[tuple[str, float], list[int]] = {}
        for conv, number, lifetime in tickets:
            by_queue.setdefault((self._keys(conv)[0], lifetime), []).append(number)
        await asyncio.gather(*(conn.renew(keys=[queue], args=[_ms(lifetime), *numbers])
                               for (queue, lifetime), numbers in by_queue.items()))

    async def _listen_for_releases(self) -> None:
        conn = self._loop_client()
        if conn.listener is None or conn.listener.done():
            conn.listener = asyncio.get_running_loop().create_task(self._listen(conn), name="haven-lock-listener")

    async def _listen(self, conn: _LoopClient) -> None:
        while True:
            pubsub = conn.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self.wake(data.decode())
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - waiters still poll; reconnect after a pause
                log.warning("lock release listener lost its Redis connection; retrying")
                await asyncio.sleep(1.0)
            finally:
                try:
                    await pubsub.reset()
                except Exception:  # noqa: BLE001
                    pass

    async def aclose(self) -> None:
        await super().aclose()
        conn = self._clients.pop(asyncio.get_running_loop(), None)
        if conn is not None:
            if conn.listener is not None:
                conn.listener.cancel()
                await asyncio.gather(conn.listener, return_exceptions=True)
            await conn.client.close()
            await conn.client.connection_pool.disconnect()

    # ---- synchronous interface (tools, tests)
    def _tickets(self, conversation_id: str) -> dict[int, float]:
        client = self._sync_client()[0]
        rows = client.zrange(self._keys(conversation_id)[0], 0, -1, withscores=True)
        now_s, now_us = client.time()
        skew = time.time() - (now_s + now_us / 1e6)  # report expiry on this machine's clock
        live = {int(m): score / 1000 + skew for m, score in rows}
        return {n: exp for n, exp in live.items() if exp > time.time()}

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        number, _ = self._sync_client()[1](keys=self._keys(conversation_id),
                                           args=[_ms(lock_lifetime), COUNTER_TTL_MS, owner()])
        return int(number)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        queue, _, owners = self._keys(conversation_id)
        self._sync_client()[3](keys=[queue, owners], args=[ticket_number, self.channel, conversation_id])

    def delete_lock(self, conversation_id: str) -> None:
        # the counter stays, so a ticket number is never handed out twice
        queue, _, owners = self._keys(conversation_id)
        self._sync_client()[0].delete(queue, owners)
