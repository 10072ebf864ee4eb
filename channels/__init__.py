"""Haven's Rasa channels: SMS and WhatsApp (Twilio), Telegram, and the local REST chat.

One module per provider (`sms`, `whatsapp`, `telegram`, `rest`) on a shared inbound pipeline
(`pipeline`), Twilio code shared in `twilio_common`, typed send errors in `errors`. Enable them in
credentials.yml by module path; secrets come from the HAVEN_* environment only.
"""

CHANNEL_NAMES = ("sms", "whatsapp", "telegram")
