"""The duty-officer console: `create_app(settings=None)` builds the Starlette app.

Served by `haven run` with uvicorn on HAVEN_CONSOLE_PORT (8080). The app starts, in its
lifespan, the live-update watcher (SSE) and two background jobs: lease expiry and queue updates
for waiting survivors. Security posture: deny by default (every route is explicitly guarded or
public, checked at start-up), server-side sessions in `__Host-` cookies (Secure, HttpOnly,
SameSite=Strict), CSRF tokens on every state-changing request, a strict Content-Security-Policy
(no inline script), `no-store` caching, and per-record checks in the handoff service.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, AsyncIterator, Optional

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.console import api, cases_pages, jobs, pages
from bot.console.context import Console, ConsoleConfig
from bot.console.messaging import default_outbound
from bot.handoff.watcher import Watcher
from bot.settings import Settings, get_settings

__all__ = ["Console", "ConsoleConfig", "create_app"]
from bot.store.db import get_engine

HERE = Path(__file__).resolve().parent
_DEFAULT = object()

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
     b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the security headers to every response; `no-store` except for static assets."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app, self.hsts = app, hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for key, value in SECURITY_HEADERS:
                    if key not in names:
                        headers.append((key, value))
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if self.hsts:
                    headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _check_deny_by_default(routes: list[BaseRoute]) -> None:
    """Refuse to start if any route is neither guarded nor explicitly public."""
    for route in routes:
        target = route.endpoint if isinstance(route, Route) else getattr(route, "app", None)
        if getattr(target, "_haven_guard", None) not in ("guarded", "public"):
            raise RuntimeError(f"route {getattr(route, 'path', route)!r} has no access rule")


def _templates() -> Jinja2Templates:
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(default=True))
    env.filters["minutes"] = lambda seconds: f"{int(seconds) // 60} min"
    return Jinja2Templates(env=env)


def create_app(
    settings: Optional[Settings] = None,
    *,
    outbound: Any = _DEFAULT,
    config: Optional[ConsoleConfig] = None,
    engine: Optional[Engine] = None,
) -> Starlette:
    """The console ASGI app. `outbound` defaults to `channels.outbound` (tests pass a fake)."""
    from bot.logging_setup import install_redaction

    install_redaction()  # the same redaction as the Rasa and action processes (tracebacks, SQL parameters)
    settings = settings or get_settings()
    console = Console(
        settings=settings,
        engine=engine or get_engine(settings.database_url),
        config=config or ConsoleConfig(),
        outbound=default_outbound() if outbound is _DEFAULT else outbound,
        templates=_templates(),
    )
    static = StaticFiles(directory=str(HERE / "static"))
    static._haven_guard = "public"  # type: ignore[attr-defined]
    routes: list[BaseRoute] = [*pages.routes(console), *api.routes(console), *cases_pages.routes(console), Mount("/static", app=static, name="static")]
    _check_deny_by_default(routes)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The loop owns its default executor from here (asyncio.run shuts it down at the end).
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=console.config.threads, thread_name_prefix="console"))
        console.watcher = Watcher(console.engine, console.config.poll_interval)
        await console.watcher.start()
        if console.config.background_jobs:
            console.tasks.append(asyncio.create_task(jobs.expire_leases_forever(console.engine, console.config.expire_every)))
            console.tasks.append(
                asyncio.create_task(jobs.notices_forever(console.engine, console.outbound, console.config.notices_every))
            )
        try:
            yield
        finally:
            for task in console.tasks:
                task.cancel()
            for task in console.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            console.tasks.clear()
            await console.watcher.stop()
            console.watcher = None

    app = Starlette(routes=routes, lifespan=lifespan, max_body_size=64 * 1024)
    app.add_middleware(SecurityHeaders, hsts=settings.is_production)
    app.state.console = console
    return app
