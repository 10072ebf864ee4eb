"""The handoff queue: enqueue, claim (leased, fenced), relay, transfer, close.

`bot.handoff.service` is the public API of the modules that change handoff state (the only
ones); `bot.handoff.queue` holds the read-side views (inbox lists, position and expected wait,
transcript, dashboard aggregates). Teams, roster and officers live in bot.staff.

Importing this package subscribes its erase listener (bot.handoff.erase_hook) to
bot.safety.erase, so any process that has handoffs closes them when she erases.
"""

from bot.handoff import erase_hook as _erase_hook  # noqa: F401 - subscribes on import
