"""What every console handler shares: its configuration and the `Console` it is bound to.

Its own module so that app.py (which builds the routes) and api.py / pages.py (the routes)
import it without importing each other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy.engine import Engine
from starlette.templating import Jinja2Templates

from bot.console.messaging import Outbound
from bot.handoff.watcher import Watcher
from bot.settings import Settings


@dataclass(frozen=True)
class ConsoleConfig:
    """Console tuning; defaults are production values, tests shorten them."""

    lease_seconds: float = 90.0
    poll_interval: float = 0.25
    sse_max_seconds: float = 300.0
    sse_session_check: float = 15.0
    expire_every: float = 5.0
    notices_every: float = 30.0
    background_jobs: bool = True
    # Threads for the handlers' blocking database calls (asyncio.to_thread). The loop's default is
    # cores + 4 (6 on two cores). Kept below the engine's pool_size (10; the watcher holds one for
    # LISTEN and reads with another): more threads than pooled connections open and close an
    # overflow connection per request (measured: more CPU per claim, not more claims/s).
    threads: int = 8


@dataclass
class Console:
    """Everything the handlers share."""

    settings: Settings
    engine: Engine
    config: ConsoleConfig
    outbound: Optional[Outbound]
    templates: Jinja2Templates
    watcher: Optional[Watcher] = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def pseudonym_key(self) -> bytes:
        return self.settings.pseudonym_key
