"""The handoff package's public API: one import for callers (console, actions, gate, tests).

bot.handoff is the only code that changes handoff state, split by what it holds:
- writes:     the write path (one short transaction, fencing by version), errors, result types
- claims:     enqueue / escalate / cancel; claim, renew, release, transfer, close; lease expiry
- transcript: officer replies and notes, her messages while claimed, delivery states
- relay:      the safety gate's hook (her message goes to the officer) and held-reply delivery
- notices:    what a waiting survivor is told (position, long wait, nobody on duty)
- erase_hook: the erase listener (transcripts dropped, open handoff closed as `left`)
Read-side views (inbox, position, transcript for the claimant, dashboard) are in bot.handoff.queue.
"""

from __future__ import annotations

from bot.handoff.claims import (
    cancel,
    claim,
    claim_next,
    close,
    enqueue,
    escalate,
    expire_leases,
    release,
    renew,
    transfer,
)
from bot.handoff.erase_hook import on_conversation_erased
from bot.handoff.notices import UPDATE_MIN_GAP, Notice, due_notices, record_notice
from bot.handoff.relay import deliver_held, relay_inbound_if_active
from bot.handoff.transcript import (
    add_note,
    append_survivor_message,
    has_active_claim,
    held_messages,
    mark_delivery,
    reply,
)
from bot.handoff.writes import (
    LEASE_SECONDS,
    MAX_TEXT,
    WORKING_ROLES,
    Claim,
    Delivery,
    Enqueued,
    HandoffError,
    InvalidRequest,
    NotClaimable,
    NotFound,
    Relayed,
    StaleClaim,
)

__all__ = [
    "LEASE_SECONDS", "MAX_TEXT", "UPDATE_MIN_GAP", "WORKING_ROLES",
    "Claim", "Delivery", "Enqueued", "HandoffError", "InvalidRequest", "NotClaimable", "NotFound",
    "Notice", "Relayed", "StaleClaim",
    "add_note", "append_survivor_message", "cancel", "claim", "claim_next", "close", "deliver_held",
    "due_notices", "enqueue", "escalate", "expire_leases", "has_active_claim", "held_messages",
    "mark_delivery", "on_conversation_erased", "record_notice", "relay_inbound_if_active", "release",
    "renew", "reply", "transfer",
]
