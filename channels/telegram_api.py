"""The Telegram Bot API calls Haven makes, through python-telegram-bot's `Bot` (httpx underneath).

`HAVEN_TELEGRAM_API_BASE` points it at a local fake provider in tests and staging. PTB's
exceptions become Haven's typed errors; their messages are never copied (they can echo content).
"""

from __future__ import annotations

import asyncio
import warnings
import weakref
from typing import Any, Awaitable, Callable, Optional, TypeVar

import httpx
from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest

from bot.settings import Settings, get_settings
from channels.errors import ChannelError, ContactStopped, Misconfigured, Retryable, Throttled
from channels.pipeline import quiet_provider_loggers
from channels.sending import RetryPolicy

ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
DELETE_BATCH = 100
T = TypeVar("T")


def _map_error(exc: TelegramError) -> ChannelError:
    """PTB's exceptions -> Haven's typed errors (messages are never copied: they can echo content)."""
    provider = "telegram"
    if isinstance(exc, RetryAfter):
        with warnings.catch_warnings():  # PTB 22 warns that int becomes timedelta: accept both
            warnings.simplefilter("ignore")
            wait = exc.retry_after
        seconds = wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)
        return Throttled(provider, seconds, code=429)
    if isinstance(exc, Forbidden):
        return ContactStopped(provider, "bot blocked or user deactivated", code=403)
    if isinstance(exc, InvalidToken):
        return Misconfigured(provider, "bot token rejected", code=401)
    if isinstance(exc, BadRequest):
        if "chat not found" in str(exc).lower():
            return ContactStopped(provider, "chat not found", code=400)
        return Misconfigured(provider, "request rejected", code=400)
    cause = exc.__cause__
    if isinstance(exc, TimedOut):
        safe = isinstance(cause, (httpx.ConnectTimeout, httpx.PoolTimeout)) or "pool timeout" in str(exc).lower()
        return Retryable(provider, "timed out", maybe_sent=not safe)
    if isinstance(exc, NetworkError):
        if cause is None:
            return Retryable(provider, "server error")  # an HTTP error status from the Bot API
        return Retryable(provider, "connection failed", maybe_sent=not isinstance(cause, httpx.ConnectError))
    return Misconfigured(provider, type(exc).__name__)


class TelegramApi:
    """The Bot API calls Haven makes, with typed errors and bounded retries (one Bot per event loop)."""

    provider = "telegram"

    def __init__(self, token: str, api_base: str, policy: Optional[RetryPolicy] = None) -> None:
        quiet_provider_loggers()  # PTB logs the token-bearing URL and message texts at DEBUG
        self._token = token
        self.base_url = f"{api_base.rstrip('/')}/bot"
        self.policy = policy or RetryPolicy()
        self._bots: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Bot]" = weakref.WeakKeyDictionary()

    @classmethod
    def from_settings(cls, settings: Optional[Settings] = None, policy: Optional[RetryPolicy] = None) -> "TelegramApi":
        s = settings or get_settings()
        if not s.telegram_token:
            raise Misconfigured("telegram", "HAVEN_TELEGRAM_TOKEN not set")
        return cls(s.telegram_token, s.telegram_api_base, policy)

    @property
    def bot(self) -> Bot:
        loop = asyncio.get_running_loop()
        bot = self._bots.get(loop)
        if bot is None:
            request = HTTPXRequest(connection_pool_size=64, read_timeout=10.0, write_timeout=10.0, connect_timeout=5.0, pool_timeout=5.0)
            bot = Bot(self._token, base_url=self.base_url, request=request)
            self._bots[loop] = bot
        return bot

    async def call(self, fn: Callable[[Bot], Awaitable[T]], idempotent: bool = False) -> T:
        """Run one Bot API call under the retry policy; idempotent calls retry even after a timeout."""

        async def attempt() -> T:
            try:
                return await fn(self.bot)
            except TelegramError as exc:
                mapped = _map_error(exc)
                if idempotent and isinstance(mapped, Retryable) and not isinstance(mapped, Throttled):
                    mapped.maybe_sent = False
                raise mapped from None

        return await self.policy.run(attempt)

    async def send_message(self, chat_id: str, text: str, reply_markup: Any = None) -> int:
        message = await self.call(lambda bot: bot.send_message(chat_id=int(chat_id), text=text, reply_markup=reply_markup))
        return int(message.message_id)

    async def delete_messages(self, chat_id: str, message_ids: list[int]) -> None:
        for start in range(0, len(message_ids), DELETE_BATCH):
            batch = message_ids[start : start + DELETE_BATCH]
            await self.call(lambda bot: bot.delete_messages(chat_id=int(chat_id), message_ids=batch), idempotent=True)

    async def answer_callback(self, callback_id: str) -> None:
        await self.call(lambda bot: bot.answer_callback_query(callback_query_id=callback_id), idempotent=True)

    async def set_webhook(self, url: str, secret: str, drop_pending: bool = False) -> bool:
        return bool(
            await self.call(
                lambda bot: bot.set_webhook(
                    url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES), drop_pending_updates=drop_pending
                ),
                idempotent=True,
            )
        )
