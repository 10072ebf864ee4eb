"""Atomic ticket locks for Rasa: one turn at a time per conversation, across replicas.

Rasa's stock RedisLockStore issues a ticket by reading one JSON value, appending and writing it
back, so two replicas can both take ticket N and both be served (RasaHQ/rasa#9213), and a waiter
sleeps 1 s between polls. Here each operation on a conversation's queue is one Lua script:

    haven:lock:{<conversation>}:q   sorted set: member = ticket number, score = expiry (ms, Redis clock)
    haven:lock:{<conversation>}:n   INCR source of ticket numbers (kept a week after the last use)
    haven:lock:{<conversation>}:o   hash: ticket -> owner ("host:pid"), for operators and the kill test

issue = INCR + ZADD (and "granted?" in the same call); the lowest live number is served;
release = ZREM, then PUBLISH when somebody still waits. Waiters wake on that message (one pub/sub
connection per process) and re-check every `poll_interval` (100 ms) regardless, which is how a
dead holder's ticket, no longer renewed, is passed over within its lifetime. A live process renews
its tickets every lifetime/3, so a slow turn never loses its lock to another replica.
InMemoryAtomicLockStore gives the same semantics inside one process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import weakref
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any, AsyncGenerator, Optional
from urllib.parse import urlparse

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore

log = logging.getLogger("haven.lock")

GRANTED, WAITING, LOST = 1, 0, -1
POLL_INTERVAL = 0.1
COUNTER_TTL_MS = 7 * 24 * 3600 * 1000


def owner() -> str:
    """This process, as recorded beside its tickets."""
    return f"{socket.gethostname()}:{os.getpid()}"


Renewal = tuple[str, int, float]  # conversation id, ticket number, lifetime in seconds


class AtomicLockStore(LockStore):
    """A FIFO ticket lock with lifetimes; a backend provides the atomic queue operations."""

    def __init__(self, poll_interval: float = POLL_INTERVAL) -> None:
        super().__init__()
        self.poll_interval = poll_interval
        self._live: dict[tuple[str, int], float] = {}  # tickets this process holds or waits on
        self._waiters: dict[str, set["asyncio.Future[None]"]] = {}
        self._renewers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[asyncio.Task[None], float]]"
        self._renewers = weakref.WeakKeyDictionary()

    # ---- backend operations (each atomic)
    async def _issue(self, conversation_id: str, lifetime: float) -> tuple[int, bool]:
        raise NotImplementedError

    async def _check(self, conversation_id: str, number: int, lifetime: float) -> int:
        raise NotImplementedError

    async def _release(self, conversation_id: str, number: int) -> None:
        raise NotImplementedError

    async def _renew(self, tickets: list[Renewal]) -> None:
        raise NotImplementedError

    async def _listen_for_releases(self) -> None:
        """Start hearing releases made by other processes (Redis only)."""

    def _tickets(self, conversation_id: str) -> dict[int, float]:
        """Live ticket numbers -> expiry as a Unix time (for get_lock and tests)."""
        raise NotImplementedError

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        raise NotImplementedError

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        raise NotImplementedError

    # ---- Rasa's entry point
    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 0.0,
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold the conversation for one turn; waiters are served in ticket order."""
        number, granted = await self._issue(conversation_id, lock_lifetime)
        key = (conversation_id, number)
        self._live[key] = lock_lifetime
        self._ensure_renewer(lock_lifetime)
        try:
            if not granted:
                await self._wait(conversation_id, number, lock_lifetime)
            expires = time.time() + lock_lifetime
            yield TicketLock(conversation_id, deque([Ticket(number, expires)]))
        finally:
            self._live.pop(key, None)
            await asyncio.shield(self._release(conversation_id, number))
            self.wake(conversation_id)

    async def _wait(self, conversation_id: str, number: int, lifetime: float) -> None:
        await self._listen_for_releases()
        loop = asyncio.get_running_loop()
        while True:
            fut: asyncio.Future[None] = loop.create_future()
            waiters = self._waiters.setdefault(conversation_id, set())
            waiters.add(fut)  # before checking, so a release between check and wait still wakes us
            try:
                state = await self._check(conversation_id, number, lifetime)
                if state == GRANTED:
                    return
                if state == LOST:
                    raise LockError("a conversation's lock ticket expired while it waited")
                await asyncio.wait((fut,), timeout=self.poll_interval)
            finally:
                fut.cancel()
                waiters.discard(fut)
                if not waiters and self._waiters.get(conversation_id) is waiters:
                    del self._waiters[conversation_id]

    def wake(self, conversation_id: str) -> None:
        """Wake this process's waiters on a conversation (called on every release)."""
        for fut in list(self._waiters.get(conversation_id, ())):
            if not fut.done():
                fut.set_result(None)

    # ---- renewal of live tickets
    def _ensure_renewer(self, lifetime: float) -> None:
        loop = asyncio.get_running_loop()
        period = max(0.05, lifetime / 3)
        current = self._renewers.get(loop)
        if current is not None and not current[0].done() and current[1] <= period:
            return
        if current is not None:
            current[0].cancel()
        task = loop.create_task(self._renew_forever(period), name="haven-lock-renewer")
        self._renewers[loop] = (task, period)

    async def _renew_forever(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            snapshot = [(conv, number, lifetime) for (conv, number), lifetime in list(self._live.items())]
            if not snapshot:
                continue
            try:
                await self._renew(snapshot)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - retry next period; tickets still have lifetime left
                log.warning("lock renewal failed; retrying")

    async def aclose(self) -> None:
        """Stop this loop's background tasks (renewer, release listener)."""
        entry = self._renewers.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            entry[0].cancel()
            await asyncio.gather(entry[0], return_exceptions=True)

    # ---- the rest of Rasa's LockStore interface, for tools and tests
    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        tickets = self._tickets(conversation_id)
        if not tickets:
            return None
        return TicketLock(conversation_id, deque(Ticket(n, exp) for n, exp in sorted(tickets.items())))

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return bool(self._tickets(conversation_id))

    def save_lock(self, lock: TicketLock) -> None:
        raise NotImplementedError("read-modify-write of a lock is not atomic; use lock() or issue_ticket()")

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)


class InMemoryAtomicLockStore(AtomicLockStore):
    """The same ticket lock for one process (the embedded default)."""

    def __init__(self, poll_interval: float = POLL_INTERVAL) -> None:
        super().__init__(poll_interval)
        self._queues: dict[str, dict[int, float]] = {}  # conversation -> ticket -> expiry (monotonic)
        self._numbers = count(1)  # unique in the process: a lost ticket's number never comes back
        self._mutex = threading.Lock()

    def _live_queue(self, conversation_id: str, now: float) -> dict[int, float]:
        queue = self._queues.get(conversation_id, {})
        for number in [n for n, exp in queue.items() if exp <= now]:
            del queue[number]
        return queue

    def _issue_now(self, conversation_id: str, lifetime: float) -> tuple[int, bool]:
        with self._mutex:
            now = time.monotonic()
            queue = self._live_queue(conversation_id, now)
            number = next(self._numbers)
            queue[number] = now + lifetime
            self._queues[conversation_id] = queue
            return number, min(queue) == number

    def _check_now(self, conversation_id: str, number: int, lifetime: float) -> int:
        with self._mutex:
            now = time.monotonic()
            queue = self._live_queue(conversation_id, now)
            if number not in queue:
                return LOST
            if min(queue) != number:
                return WAITING
            queue[number] = now + lifetime
            return GRANTED

    def _release_now(self, conversation_id: str, number: int) -> None:
        with self._mutex:
            queue = self._queues.get(conversation_id)
            if queue is not None:
                queue.pop(number, None)
                if not queue:
                    del self._queues[conversation_id]

    async def _issue(self, conversation_id: str, lifetime: float) -> tuple[int, bool]:
        return self._issue_now(conversation_id, lifetime)

    async def _check(self, conversation_id: str, number: int, lifetime: float) -> int:
        return self._check_now(conversation_id, number, lifetime)

    async def _release(self, conversation_id: str, number: int) -> None:
        self._release_now(conversation_id, number)

    async def _renew(self, tickets: list[Renewal]) -> None:
        with self._mutex:
            now = time.monotonic()
            for conv, number, lifetime in tickets:
                queue = self._queues.get(conv)
                if queue is not None and number in queue and queue[number] > now:
                    queue[number] = now + lifetime

    def _tickets(self, conversation_id: str) -> dict[int, float]:
        with self._mutex:
            now = time.monotonic()
            offset = time.time() - now
            return {n: exp + offset for n, exp in self._live_queue(conversation_id, now).items()}

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self._issue_now(conversation_id, lock_lifetime)[0]

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self._release_now(conversation_id, ticket_number)

    def delete_lock(self, conversation_id: str) -> None:
        with self._mutex:
            self._queues.pop(conversation_id, None)


# ---- Redis
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
