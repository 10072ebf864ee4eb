"""The handoff queue: enqueue, claim (leased, fenced), relay, transfer, close; teams and roster.

`bot.handoff.service` is the only code that changes handoff state; `bot.handoff.queue` holds the
read-side views (inbox lists, position and expected wait, transcript, dashboard aggregates).
"""
