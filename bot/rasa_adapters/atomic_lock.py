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
InMemoryAtomicLockStore gives the same semantics inside one process; RedisAtomicLockStore is in
bot/rasa_adapters/redis_lock.py.
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
from itertools import count
from typing import AsyncGenerator, Optional

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
