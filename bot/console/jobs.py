"""Background jobs run by the console process: lease expiry and queue updates for survivors.

Both are safe to run in several replicas at once (row locks with SKIP LOCKED, idempotent).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Optional

from sqlalchemy.engine import Engine

from bot.console import messaging
from bot.handoff import service

log = logging.getLogger("haven.console.jobs")

NOTICE_RESPONSES = {
    "update": "utter_handoff_wait_update",
    "long_wait": "utter_handoff_long_wait",
    "no_officer": "utter_handoff_no_officer",
}


async def expire_leases_forever(engine: Engine, every: float) -> None:
    while True:
        try:
            await asyncio.to_thread(service.expire_leases, engine)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - keep the job alive
            log.exception("lease expiry failed")
        await asyncio.sleep(every)


async def send_notices_once(engine: Engine, outbound: Optional[messaging.Outbound]) -> int:
    """Tell waiting survivors what changed (position/wait, long wait, nobody on duty)."""
    sent = 0
    for notice in await asyncio.to_thread(service.due_notices, None, engine):
        ok = await messaging.send_line(
            outbound,
            notice.conversation_id,
            notice.channel,
            notice.language,
            notice.country,
            NOTICE_RESPONSES[notice.kind],
            position=notice.position,
            wait_minutes=notice.wait_minutes or 0,
            count=notice.wait_minutes or 0,
        )
        sent += int(ok)
    return sent


async def notices_forever(engine: Engine, outbound: Optional[messaging.Outbound], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        try:
            await send_notices_once(engine, outbound)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.exception("queue notices failed")
