"""`haven telegram ...`: register the Telegram webhook (with its secret token) for this deployment."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from typing import Any

from channels.telegram import WEBHOOK_PATH

SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what the Bot API accepts as secret_token


def _set_webhook(args: argparse.Namespace) -> int:
    from bot.settings import get_settings
    from channels.errors import ChannelError
    from channels.telegram import TelegramApi

    settings = get_settings()
    if not settings.telegram_token or not settings.telegram_secret:
        print("haven: set HAVEN_TELEGRAM_TOKEN and HAVEN_TELEGRAM_SECRET first", file=sys.stderr)
        return 2
    if not SECRET_SHAPE.match(settings.telegram_secret):
        print("haven: HAVEN_TELEGRAM_SECRET must be 1-256 characters of A-Z, a-z, 0-9, _ or -", file=sys.stderr)
        return 2
    url = (args.url or settings.public_url).rstrip("/") + WEBHOOK_PATH
    if not url.startswith("https://"):
        print(f"warning: Telegram only delivers to https URLs; {url} is not one", file=sys.stderr)
    api = TelegramApi.from_settings(settings)
    print(f"registering Telegram webhook at {url} ...")
    try:
        ok = asyncio.run(api.set_webhook(url, settings.telegram_secret, drop_pending=args.drop_pending))
    except ChannelError as exc:
        print(f"haven: Telegram refused the webhook: {type(exc).__name__} ({exc})", file=sys.stderr)
        return 1
    if not ok:
        print("haven: Telegram did not confirm the webhook", file=sys.stderr)
        return 1
    print("webhook registered (with the secret token); updates: message, edited_message, callback_query")
    return 0


def register(subparsers: Any) -> None:
    """Add `haven telegram set-webhook`."""
    telegram = subparsers.add_parser("telegram", help="Telegram channel administration")
    actions = telegram.add_subparsers(dest="telegram_command", metavar="ACTION")
    p = actions.add_parser("set-webhook", help="register HAVEN_PUBLIC_URL + /webhooks/telegram/webhook with the secret token")
    p.add_argument("--url", default=None, help="public base URL (default: HAVEN_PUBLIC_URL)")
    p.add_argument("--drop-pending", action="store_true", help="discard updates Telegram queued while no webhook was set")
    p.set_defaults(func=_set_webhook)
