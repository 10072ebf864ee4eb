"""Drive a Sanic (or any ASGI) app in-process: lifespan start-up, then httpx over ASGI."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import httpx


@asynccontextmanager
async def asgi_client(app: Any, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for `app` after its ASGI lifespan start-up (Sanic finalises routes there)."""
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put))
    started = await asyncio.wait_for(outbox.get(), 30)
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"ASGI start-up failed: {started}")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client:
            yield client
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(task, 10)
        except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - best-effort shutdown in tests
            task.cancel()
