"""SMS through Twilio: `channels.sms.SmsInput` at /webhooks/sms/webhook.

Buttons become numbered options ("Reply 1, 2, or 3") and a numeric reply maps back to the
payload; replies fit HAVEN_SMS_MAX_SEGMENTS segments. Carrier words (STOP, START...) are the
safety gate's: after STOP nothing more is sent until she writes again.
"""

from __future__ import annotations

from channels.twilio_common import TwilioInput, TwilioOutput


class SmsOutput(TwilioOutput):
    """Replies by SMS."""

    channel_name = "sms"
    whatsapp = False


class SmsInput(TwilioInput):
    """Inbound SMS webhook."""

    whatsapp = False
    output_class = SmsOutput

    @classmethod
    def name(cls) -> str:
        return "sms"
