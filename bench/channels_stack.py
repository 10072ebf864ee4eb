"""`make bench-channels`: start a private stack wired to a local fake provider, then run
bench.channels against it (signed webhooks on SMS/WhatsApp/Telegram vs plain REST, same run).
All credentials here are invented; nothing leaves the machine."""

from __future__ import annotations

import secrets
import sys
import tempfile

from bot.runner import free_port, temp_stack


def main() -> int:
    from bench import channels

    provider_port = free_port()
    base = f"http://127.0.0.1:{provider_port}"
    env = {
        "HAVEN_PUBLIC_URL": "https://bench.example.org",
        "HAVEN_TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "HAVEN_TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "HAVEN_TWILIO_SMS_FROM": "+15550100000",
        "HAVEN_TWILIO_WHATSAPP_FROM": "+15550100001",
        "HAVEN_TELEGRAM_TOKEN": "123456:" + secrets.token_hex(16),
        "HAVEN_TELEGRAM_SECRET": secrets.token_hex(16),
        "HAVEN_TWILIO_API_BASE": base,
        "HAVEN_TELEGRAM_API_BASE": base,
        "HAVEN_LOG_LEVEL": "WARNING",
    }
    folder = tempfile.mkdtemp(prefix="haven-bench-channels-")
    with temp_stack(folder, env) as stack:
        rasa_pid = next(s.proc.pid for s in stack.services if s.name == "rasa" and s.proc)
        args = ["--rasa-url", stack.rasa_url, "--serve-provider", f"127.0.0.1:{provider_port}",
                "-n", "300", "-c", "20", "--rasa-pid", str(rasa_pid), "--json", "results/bench-channels.json"]
        return channels.main(args + sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
