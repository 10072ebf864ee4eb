"""Ports the core owns: how it reaches a survivor without importing a provider.

The core never imports channels/. At start-up the channels register one `Sender`
(channels.outbound.register()); the core asks `get_sender()` and gets None when no channel
is set up in this process (callers then record the message as failed, as before).
Errors raised by a sender are the typed ones of channels/errors.py (ContactStopped,
Misconfigured, Retryable, Throttled); the core records only their type name.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional, Protocol, Sequence

log = logging.getLogger("haven.ports")


class Sender(Protocol):
    """Send to a conversation through its own channel, and delete Telegram messages."""

    async def send_to_conversation(self, conversation_id: str, messages: Sequence[Any]) -> Any:
        """Send each message ({text, buttons, custom}); returns a delivery (`via_template`, ...)."""
        ...

    def whatsapp_window_open(self, conversation_id: str) -> bool:
        """Whether a free-form WhatsApp message may be sent now (she wrote within 24 hours)."""
        ...

    async def delete_telegram_messages(self, chat_id: str, message_ids: Sequence[int]) -> None:
        """Delete these messages from her Telegram chat (after a phrased quick exit)."""
        ...


_lock = threading.Lock()
_sender: Optional[Sender] = None


def register_sender(sender: Optional[Sender]) -> None:
    """Install the process's sender (the channels call this at start-up; None removes it)."""
    global _sender
    with _lock:
        _sender = sender


def get_sender() -> Optional[Sender]:
    """The registered sender, or None when no channel registered one in this process."""
    with _lock:
        return _sender
