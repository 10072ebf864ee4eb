"""WhatsApp through Twilio: `channels.whatsapp.WhatsAppInput` at /webhooks/whatsapp/webhook.

Buttons are sent as numbered text (works on every client). Her last inbound time is kept on the
contact; outside the 24-hour customer-service window only the configured neutral template
(HAVEN_TWILIO_WHATSAPP_TEMPLATE_SID) may be sent: see `channels.outbound`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from bot.store.models import utcnow
from channels.twilio_common import TwilioInput, TwilioOutput

WINDOW = timedelta(hours=24)


def window_open(last_inbound_at: Optional[datetime], now: Optional[datetime] = None) -> bool:
    """Free-form replies are allowed within 24 hours of her last message."""
    if last_inbound_at is None:
        return False
    return (now or utcnow()) - last_inbound_at < WINDOW


class WhatsAppOutput(TwilioOutput):
    """Replies by WhatsApp (free-form inside the window)."""

    channel_name = "whatsapp"
    whatsapp = True


class WhatsAppInput(TwilioInput):
    """Inbound WhatsApp webhook."""

    whatsapp = True
    output_class = WhatsAppOutput

    @classmethod
    def name(cls) -> str:
        return "whatsapp"
