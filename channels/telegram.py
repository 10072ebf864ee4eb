"""Telegram through python-telegram-bot 22: `channels.telegram.TelegramInput` at /webhooks/telegram/webhook.

Inbound: `X-Telegram-Bot-Api-Secret-Token` compared in constant time, `telegram.Update.de_json`,
private chats only, `language_code` as the language hint. Outbound: `telegram.Bot` pointed at
HAVEN_TELEGRAM_API_BASE; buttons as an inline keyboard that always ends with an exit button; a
location-request keyboard when the reply has `custom.request_location`. Every message id, both
directions, is stored encrypted with its time so quick exit can delete the chat (deleteMessages,
messages under 48 hours old).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import datetime
from typing import Any, Mapping, Optional, Union

from sanic.request import Request
from sqlalchemy.orm import Session
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)

from bot.countries import country_of_language_code
from bot.crypto import ConversationCipher, get_or_create_cipher
from bot.safety.gate import GateResult
from bot.settings import SUPPORTED_LANGUAGES, Settings, get_settings
from bot.store import tombstones
from bot.store.db import session_scope
from bot.store.models import TelegramMessage, utcnow
from bot.text import normalise
from channels.contacts import ExtraRows
from channels.errors import ChannelError
from channels.pipeline import QUICK_EXIT_PAYLOAD, HavenChannel, Ignored, Malformed, Parsed, language_from_code
from channels.segments import split_words
from channels.sending import HavenOutput, map_typed_number, tracker_buttons
from channels.json_input import load_json
from channels.telegram_api import ALLOWED_UPDATES, TelegramApi
from channels.telegram_shape import check_update

__all__ = ["ALLOWED_UPDATES", "TelegramApi", "TelegramInput", "TelegramOutput", "parse_update", "WEBHOOK_PATH"]

log = logging.getLogger("haven.channels.telegram")

SECRET_HEADER = "x-telegram-bot-api-secret-token"
WEBHOOK_PATH = "/webhooks/telegram/webhook"
MAX_TEXT = 4096
CALLBACK_DATA_MAX = 64
TOKEN_PREFIX = "#h:"
COMMANDS = {"/start": "/greet", "/help": "/ask_help"}
UNSUPPORTED_KINDS = (
    "photo", "document", "sticker", "voice", "video", "video_note", "audio", "animation",
    "contact", "poll", "dice", "game", "invoice", "story", "paid_media",
)
# Update fields whose values are hers (or lead to her): never in a log line.
NEVER_LOG = ("chat.id", "from.id", "text", "caption", "username", "first_name", "last_name", "phone_number", "location")


# ---------------------------------------------------------------- stored message ids


def _store_message_id(session: Session, cipher: ConversationCipher, direction: str, message_id: int, when: datetime) -> None:
    session.add(
        TelegramMessage(
            conversation_id=cipher.conversation_id,
            direction=direction,
            message_id_ct=cipher.encrypt_text(str(message_id), f"telegram_messages|{direction}"),
            sent_at=when,
        )
    )


def store_outbound(conversation_id: str, message_id: int, since: datetime) -> bool:
    """Record a sent message id; False (nothing stored) if the conversation was erased since `since`."""
    with session_scope(immediate=True) as session:
        erased_at = tombstones.erased_at(session, conversation_id)
        if erased_at is not None and erased_at >= since:
            return False
        cipher = get_or_create_cipher(session, conversation_id)
        _store_message_id(session, cipher, "out", message_id, utcnow())
    return True


# ---------------------------------------------------------------- callback data tokens


def callback_data(payload: str) -> str:
    """The payload itself when it fits Telegram's 64 bytes, else a stable short token."""
    if len(payload.encode("utf-8")) <= CALLBACK_DATA_MAX:
        return payload
    return TOKEN_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


class CallbackTokens:
    """Token -> payload for long payloads, per conversation (bounded; the tracker is the fallback)."""

    def __init__(self, max_conversations: int = 10_000) -> None:
        self._tokens: dict[str, dict[str, str]] = {}
        self._max = max_conversations

    def remember(self, conversation_id: str, payload: str) -> str:
        token = callback_data(payload)
        if token != payload:
            table = self._tokens.pop(conversation_id, {})
            table[token] = payload
            while len(table) > 64:
                table.pop(next(iter(table)))
            self._tokens[conversation_id] = table
            while len(self._tokens) > self._max:
                self._tokens.pop(next(iter(self._tokens)))
        return token

    def lookup(self, conversation_id: str, token: str) -> Optional[str]:
        return self._tokens.get(conversation_id, {}).get(token)

    def forget(self, conversation_id: str) -> None:
        self._tokens.pop(conversation_id, None)


# ---------------------------------------------------------------- parsing


def exit_labels() -> frozenset[str]:
    """The exit button's label in every language (normalised): pressing it on a reply keyboard sends it as text."""
    from bot import i18n

    labels = set()
    for lang in SUPPORTED_LANGUAGES:
        try:
            labels.add(normalise(i18n.text("channels_exit_button", lang)))
        except Exception:  # noqa: BLE001 - a missing locale file must not break parsing
            continue
    return frozenset(label for label in labels if label)


def parse_update(data: Any) -> Parsed:
    """A Telegram update (already authenticated) -> Parsed; non-message updates are Ignored."""
    if not isinstance(data, dict) or "update_id" not in data:
        raise Malformed("not a Telegram update")
    check_update(data)
    try:
        update = Update.de_json(data, None)
    except Exception as exc:  # noqa: BLE001 - PTB raises KeyError/TypeError/ValueError on bad shapes
        raise Malformed("update could not be parsed") from exc
    if update is None:
        raise Malformed("empty update")
    provider_id = str(update.update_id)

    query = update.callback_query
    if query is not None:
        chat = getattr(query.message, "chat", None)
        if chat is None or chat.type != "private" or not query.data:
            raise Ignored()
        return Parsed(
            provider_id,
            str(chat.id),
            payload=query.data,
            language_hint=language_from_code(query.from_user.language_code if query.from_user else None),
            country=country_of_language_code(query.from_user.language_code if query.from_user else None),
            extra={"ack": True, "callback_id": query.id},
        )

    message = update.message or update.edited_message
    if message is None or message.chat.type != "private":
        raise Ignored()
    if message.from_user is not None and message.from_user.is_bot:
        raise Ignored()
    parsed = Parsed(
        provider_id,
        str(message.chat.id),
        language_hint=language_from_code(message.from_user.language_code if message.from_user else None),
        country=country_of_language_code(message.from_user.language_code if message.from_user else None),
        extra={"message_id": message.message_id, "date": message.date},
    )
    if update.edited_message is not None:
        parsed.unsupported = "edit"
        return parsed
    location = message.location or (message.venue.location if message.venue else None)
    if location is not None:
        parsed.location = (float(location.latitude), float(location.longitude))
        return parsed
    text = message.text or message.caption
    if any(getattr(message, kind, None) for kind in UNSUPPORTED_KINDS):
        parsed.unsupported = "media"
    if text:
        command = text.strip().split(maxsplit=1)[0].split("@", 1)[0].lower() if text.strip().startswith("/") else None
        if command in COMMANDS:
            parsed.payload = COMMANDS[command]
        elif normalise(text) in exit_labels():
            parsed.payload = QUICK_EXIT_PAYLOAD
        parsed.text = text
    if parsed.text is None and parsed.payload is None and parsed.unsupported is None:
        parsed.unsupported = "media"  # a kind of message we do not know: answer politely
    return parsed


# ---------------------------------------------------------------- output channel


class TelegramOutput(HavenOutput):
    """Telegram replies: inline keyboard + exit button, location keyboard, every id stored encrypted."""

    channel_name = "telegram"

    def __init__(self, *args: Any, api: Optional[TelegramApi] = None, tokens: Optional[CallbackTokens] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._api = api
        self.tokens = tokens or CallbackTokens()

    @property
    def api(self) -> TelegramApi:
        if self._api is None:
            self._api = TelegramApi.from_settings(self.settings)
        return self._api

    def _text(self, name: str, language: str) -> str:
        from bot import i18n

        return i18n.text(name, language, "telegram")

    def _inline(self, buttons: list[Mapping[str, Any]], language: str) -> InlineKeyboardMarkup:
        rows = []
        for button in buttons:
            payload = str(button.get("payload") or button.get("title") or "")
            data = self.tokens.remember(self.conversation_id or "", payload)
            rows.append([InlineKeyboardButton(str(button.get("title") or payload)[:64], callback_data=data)])
        rows.append([InlineKeyboardButton(self._text("channels_exit_button", language), callback_data=QUICK_EXIT_PAYLOAD)])
        return InlineKeyboardMarkup(rows)

    def _location_keyboard(self, language: str) -> ReplyKeyboardMarkup:
        return ReplyKeyboardMarkup(
            [
                [KeyboardButton(self._text("channels_share_location", language), request_location=True)],
                [KeyboardButton(self._text("channels_exit_button", language))],
            ],
            one_time_keyboard=True,
            resize_keyboard=True,
        )

    async def _send(self, chat_id: str, text: str, markup: Any) -> None:
        message_id = await self.api.send_message(chat_id, text, markup)
        self.sent.append(str(message_id))
        if not self.record or self.conversation_id is None:
            return
        if not await asyncio.to_thread(store_outbound, self.conversation_id, message_id, self.started_at):
            # She quick-exited while this was in flight: take it back at once, send nothing more.
            self.stopped = True
            try:
                await self.api.delete_messages(chat_id, [message_id])
            except ChannelError as exc:
                log.warning("telegram: could not delete a message sent after quick exit (%s)", type(exc).__name__)

    async def deliver(self, address: str, message: Mapping[str, Any]) -> None:
        language = self.message_language(message)
        text = str(message.get("text") or "").strip()
        buttons = list(message.get("buttons") or message.get("quick_replies") or [])
        custom = message.get("custom") if isinstance(message.get("custom"), Mapping) else {}
        wants_location = bool(custom and custom.get("request_location"))
        if not text and not buttons and not wants_location:
            return
        if not text:
            text = self._text("channels_share_location_prompt", language) if wants_location and not buttons else "\u2026"
        markup: Any = None
        if buttons:
            markup = self._inline(buttons, language)
        elif wants_location:
            markup = self._location_keyboard(language)
        elif message.get("remove_keyboard"):
            markup = ReplyKeyboardRemove()
        chunks = split_words(text, MAX_TEXT)
        for index, chunk in enumerate(chunks):
            if self.stopped:
                return
            await self._send(address, chunk, markup if index == len(chunks) - 1 else None)
        if buttons and wants_location and not self.stopped:
            await self._send(address, self._text("channels_share_location_prompt", language), self._location_keyboard(language))


# ---------------------------------------------------------------- input channel


class TelegramInput(HavenChannel):
    """Inbound Telegram webhook (private chats)."""

    never_log = NEVER_LOG
    ok_body = "{}"
    ok_content_type = "application/json"
    country_source = "language_region"

    def __init__(self, settings: Optional[Settings] = None, enabled: bool = True, api: Optional[TelegramApi] = None) -> None:
        super().__init__(settings, enabled)
        self._api = api
        self.tokens = CallbackTokens()

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "TelegramInput":
        """Secrets come from HAVEN_TELEGRAM_TOKEN / HAVEN_TELEGRAM_SECRET; without both the channel is off."""
        settings = get_settings()
        if not settings.telegram_enabled:
            log.info("telegram channel disabled: HAVEN_TELEGRAM_TOKEN or HAVEN_TELEGRAM_SECRET not set")
        return cls(settings, settings.telegram_enabled)

    @property
    def api(self) -> TelegramApi:
        if self._api is None:
            self._api = TelegramApi.from_settings(self.settings)
        return self._api

    def check_headers(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER, "")
        expected = self.settings.telegram_secret or ""
        return bool(given) and bool(expected) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))

    def parse(self, request: Request, body: bytes) -> Parsed:
        if not body.strip():
            raise Malformed("empty body")
        return parse_update(load_json(body))

    def extra_rows(self, parsed: Parsed, conversation_id: str) -> Optional[ExtraRows]:
        message_id = parsed.extra.get("message_id")
        if message_id is None:
            return None
        sent: Union[datetime, None] = parsed.extra.get("date")
        now = utcnow()
        when = min(sent, now) if isinstance(sent, datetime) and sent.tzinfo is not None else now

        def rows(session: Session, cipher: ConversationCipher) -> None:
            _store_message_id(session, cipher, "in", int(message_id), when)

        return rows

    def output(self, parsed: Optional[Parsed], conversation_id: str, language: str, started_at: datetime, record: bool = True) -> HavenOutput:
        return TelegramOutput(
            conversation_id,
            parsed.address if parsed else None,
            language,
            started_at,
            record=record,
            settings=self.settings,
            api=self.api,
            tokens=self.tokens,
        )

    def get_output_channel(self) -> Optional[HavenOutput]:
        if not self.enabled:
            return None
        return TelegramOutput(None, settings=self.settings, api=self.api, tokens=self.tokens)

    async def resolve_payload(self, request: Request, conversation_id: str, parsed: Parsed) -> None:
        token = parsed.payload
        if token is None and parsed.text is not None:
            await map_typed_number(request, conversation_id, parsed)
            return
        if not token or not token.startswith(TOKEN_PREFIX):
            return
        payload = self.tokens.lookup(conversation_id, token)
        if payload is None:
            for buttons in await tracker_buttons(request, conversation_id, latest_only=False):
                for button in buttons:
                    candidate = str(button.get("payload") or button.get("title") or "")
                    if callback_data(candidate) == token:
                        payload = candidate
                        break
                if payload is not None:
                    break
        parsed.payload = payload  # None for a stale button: nothing is sent to Rasa

    async def acknowledge(self, parsed: Parsed) -> None:
        callback_id = parsed.extra.get("callback_id")
        if callback_id:
            try:
                await self.api.answer_callback(str(callback_id))
            except ChannelError as exc:
                log.info("telegram: callback answer failed (%s)", type(exc).__name__)

    async def after_quick_exit(self, parsed: Parsed, output: HavenOutput, result: GateResult) -> None:
        """Delete both sides of the chat (ids under 48 h), then the cover text, if any, unrecorded."""
        self.tokens.forget(output.conversation_id or "")
        ids = sorted(set(result.telegram_message_ids))
        if ids:
            try:
                await self.api.delete_messages(parsed.address, ids)
            except ChannelError as exc:
                log.warning("telegram: quick-exit deletion failed (%s)", type(exc).__name__)
        if result.reply:
            await output.send_response(output.conversation_id or "", {"text": result.reply, "remove_keyboard": True})
