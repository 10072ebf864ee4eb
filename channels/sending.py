"""What every provider's sending shares: one HTTP client per loop, bounded retries, the
output-channel base, and the memory of options shown (for numeric replies and callback tokens).

Each reply Rasa produces is sent as it arrives (the emergency number in a danger turn leaves before
later actions run), after checking that she has not opted out or quick-exited since the turn
began. Provider errors are typed (channels.errors); inside a Rasa turn they are logged (type and
code only) and swallowed so the turn is still saved; `raise_errors=True` lets them propagate.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping, Optional, TypeVar

import httpx
from rasa.core.channels.channel import OutputChannel
from sanic.request import Request

from bot.settings import SUPPORTED_LANGUAGES, Settings, get_settings
from bot.store.models import utcnow
from channels.contacts import load_contact, mark_stopped, may_send, remember_language
from channels.pending import count_reply
from channels.errors import ChannelError, ContactStopped, Retryable, Throttled

log = logging.getLogger("haven.channels")
T = TypeVar("T")


# ---------------------------------------------------------------- shared HTTP client and retries

_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = weakref.WeakKeyDictionary()


def http_client() -> httpx.AsyncClient:
    """One pooled async HTTP client per event loop (connections belong to a loop)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, connect=5.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            follow_redirects=False,
        )
        _clients[loop] = client
    return client


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: `attempts` tries in all, exponential backoff with jitter, waits capped."""

    attempts: int = 3
    backoff: float = 0.5
    max_wait: float = 20.0

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call`, retrying safe Retryable/Throttled failures; re-raise the last one."""
        for attempt in range(1, self.attempts + 1):
            try:
                return await call()
            except Throttled as exc:
                if attempt == self.attempts or exc.retry_after > self.max_wait:
                    raise
                log.info("%s throttled; waiting %.1fs (attempt %d)", exc.provider, exc.retry_after, attempt)
                await asyncio.sleep(exc.retry_after)
            except Retryable as exc:
                if attempt == self.attempts or exc.maybe_sent:
                    raise
                delay = min(self.max_wait, self.backoff * (2 ** (attempt - 1))) * (0.5 + random.random() / 2)
                log.info("%s temporary failure (%s); retrying in %.2fs", exc.provider, exc.code, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------- numbered / keyboard options


class OptionMemory:
    """The payloads behind the options last shown to each conversation (process-local, bounded).

    A numeric SMS/WhatsApp reply maps to the options of the latest bot message that had them,
    and only for her next message. When this process has no entry (restart, another replica),
    the channel falls back to the Rasa tracker (`tracker_buttons`).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._options: dict[str, list[str]] = {}
        self._max = max_entries

    def remember(self, conversation_id: str, payloads: list[str]) -> None:
        self._options.pop(conversation_id, None)
        self._options[conversation_id] = list(payloads)
        while len(self._options) > self._max:
            self._options.pop(next(iter(self._options)))

    def take(self, conversation_id: str) -> Optional[list[str]]:
        """The remembered payloads, forgotten as soon as read (valid for one reply only)."""
        return self._options.pop(conversation_id, None)

    def forget(self, conversation_id: str) -> None:
        self._options.pop(conversation_id, None)


async def tracker_buttons(request: Request, conversation_id: str, latest_only: bool) -> list[list[dict[str, Any]]]:
    """Buttons of recent bot messages from the Rasa tracker (newest first); [] without an agent.

    `latest_only`: only the newest bot message with buttons, and only if she has not written since.
    """
    agent = getattr(getattr(request.app, "ctx", None), "agent", None)
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return []
    try:
        tracker = await store.retrieve(conversation_id)
    except Exception as exc:  # noqa: BLE001 - a lookup failure must not break the inbound path
        log.warning("tracker lookup for options failed: %s", type(exc).__name__)
        return []
    if tracker is None:
        return []
    from rasa.shared.core.events import BotUttered, UserUttered

    found: list[list[dict[str, Any]]] = []
    for event in reversed(list(tracker.events)[-200:]):
        if isinstance(event, UserUttered) and latest_only:
            break
        if isinstance(event, BotUttered):
            buttons = (event.data or {}).get("buttons") or (event.data or {}).get("quick_replies")
            if buttons:
                found.append(list(buttons))
                if latest_only:
                    break
    return found


async def map_typed_number(request: Request, conversation_id: str, parsed: Any) -> None:
    """A typed number ('2') picks an option of her latest message only (Telegram: its buttons);
    out of range, `parsed.extra["pick_range"]` asks her to pick again. Without options: text."""
    from channels.segments import parse_number

    number = parse_number(parsed.text)
    if number is None:
        return
    found = await tracker_buttons(request, conversation_id, latest_only=True)
    payloads = [str(b.get("payload") or b.get("title") or "") for b in found[0]] if found else []
    if payloads and 1 <= number <= len(payloads) and payloads[number - 1]:
        parsed.payload = payloads[number - 1]
    elif payloads:
        parsed.extra["pick_range"] = len(payloads)


# ---------------------------------------------------------------- output channel base


class HavenOutput(OutputChannel):
    """Sends Rasa's replies to one conversation through a provider (subclasses implement `deliver`).

    `raise_errors=False` (inside a Rasa turn): provider errors are logged and swallowed.
    `raise_errors=True` (channels.outbound, the console): they propagate as typed errors.
    """

    channel_name = "haven"

    def __init__(
        self,
        conversation_id: Optional[str],
        address: Optional[str] = None,
        language: Optional[str] = None,
        started_at: Optional[datetime] = None,
        raise_errors: bool = False,
        record: bool = True,
        settings: Optional[Settings] = None,
    ) -> None:
        self.conversation_id = conversation_id
        self._bound = conversation_id is not None
        self.address = address
        self.language = language
        self.started_at = started_at or utcnow()
        self.raise_errors = raise_errors
        self.record = record
        self.settings = settings or get_settings()
        self.stopped = False
        self.sent: list[str] = []  # provider ids of what this instance sent (not content)
        self._remembered: Optional[str] = None  # the language last stored on the contact
        # A turn with a pending-turn record (channels/pending.py): its replies are counted on it,
        # and a re-run skips the first `skip_replies` (they went out before its replica died).
        self.turn_id: Optional[str] = None
        self.skip_replies = 0
        self.replies = 0

    @classmethod
    def name(cls) -> str:
        return cls.channel_name

    async def deliver(self, address: str, message: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def message_language(self, message: Mapping[str, Any]) -> str:
        custom = message.get("custom") or {}
        for candidate in (message.get("language"), custom.get("language") if isinstance(custom, Mapping) else None, self.language):
            if isinstance(candidate, str) and candidate in SUPPORTED_LANGUAGES:
                return candidate
        return "en"

    async def _resolve(self, recipient_id: str) -> Optional[str]:
        if self._bound:
            if recipient_id and recipient_id != self.conversation_id:
                # Never let one conversation's channel object reach another conversation.
                raise ContactStopped(self.name(), "recipient is not this channel's conversation")
        elif recipient_id != self.conversation_id:
            # Unbound (Rasa-initiated sends): look the recipient up afresh every time.
            self.conversation_id, self.address, self.stopped = recipient_id, None, False
            self.started_at = utcnow()
        if self.address is None and self.conversation_id:
            info = await asyncio.to_thread(load_contact, self.conversation_id)
            if info is None or info.address is None:
                return None
            self.address = info.address
            self.language = self.language or info.language
        return self.address

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Send one Rasa reply ({text, buttons, custom, ...}); custom JSON is never sent as text."""
        index = self.replies
        self.replies += 1
        if index < self.skip_replies:
            return  # a re-run: this reply went out before
        if self.stopped and (self._bound or recipient_id == self.conversation_id):
            return
        try:
            address = await self._resolve(recipient_id)
        except ContactStopped as exc:  # a bound channel asked to reach another conversation
            log.error("%s reply refused: %s", self.name(), exc.detail)
            if self.raise_errors:
                raise
            return
        reason = None
        if address is None or self.conversation_id is None:
            reason = "no reachable contact"
        elif self.record:
            reason = await asyncio.to_thread(may_send, self.conversation_id, self.started_at)
        if reason is not None or address is None:
            self.stopped = True
            log.info("%s reply not sent: %s", self.name(), reason)
            if self.raise_errors:
                raise ContactStopped(self.name(), reason or "no reachable contact")
            return
        try:
            await self.deliver(address, message)
            await self._count_reply(index + 1)
            await self._remember_language(message)
        except ContactStopped as exc:  # the provider says she cannot or will not receive
            self.stopped = True
            if self.conversation_id is not None and self.record:
                await asyncio.to_thread(mark_stopped, self.conversation_id)
            log.warning("%s contact stopped (%s)", self.name(), exc.code if exc.code is not None else exc.detail)
            if self.raise_errors:
                raise
        except ChannelError as exc:
            log.error("%s send failed: %s (%s)", self.name(), type(exc).__name__, exc.code)
            if self.raise_errors:
                raise

    async def _count_reply(self, sent: int) -> None:
        if self.turn_id is None:
            return
        try:
            await count_reply(self.turn_id, sent)
        except Exception as exc:  # noqa: BLE001 - the reply went out; a re-run might repeat it
            log.warning("%s: reply not counted (%s)", self.name(), type(exc).__name__)

    async def _remember_language(self, message: Mapping[str, Any]) -> None:
        language = message.get("language")
        if self.record and self.conversation_id and language in SUPPORTED_LANGUAGES and language != self._remembered:
            self._remembered = str(language)
            try:
                await asyncio.to_thread(remember_language, self.conversation_id, str(language))
            except Exception as exc:  # noqa: BLE001 - a reply was sent; the language is only a hint
                log.warning("%s: language not stored (%s)", self.name(), type(exc).__name__)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, "buttons": buttons, **kwargs})

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"custom": json_message, **kwargs})

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        log.info("%s: images are not sent", self.name())

    async def send_attachment(self, recipient_id: str, attachment: str, **kwargs: Any) -> None:
        log.info("%s: attachments are not sent", self.name())
