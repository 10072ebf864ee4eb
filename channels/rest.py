"""The local chat channel: `channels.rest.RestInput` ("rest", /webhooks/rest/webhook).

Rasa's REST channel with Haven's safety gate in front, so quick exit works in `haven chat` as it
does on the phone channels. Differences from the stock channel, on purpose:
- nothing is logged with the text (the stock channel logs it on failures);
- a sender id shaped like a channel pseudonym (64 hex characters) is refused, so REST can never
  write into, read from or erase an SMS/WhatsApp/Telegram conversation;
- in production it answers 404 unless credentials.yml sets `enabled_in_production: true`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.safety.gate import Inbound, Verdict, screen
from bot.settings import Settings, get_settings
from channels.json_input import load_json
from channels.pipeline import Malformed, language_from_code

log = logging.getLogger("haven.channels.rest")

PSEUDONYM_SHAPE = re.compile(r"^[0-9a-f]{64}$")
MAX_SENDER = 64


class RestInput(RasaRestInput):
    """REST chat for local use and tests, gated like every other channel."""

    def __init__(self, settings: Optional[Settings] = None, enabled_in_production: bool = False) -> None:
        self.settings = settings or get_settings()
        self.enabled = enabled_in_production or not self.settings.is_production

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "RestInput":
        allow = bool((credentials or {}).get("enabled_in_production", False))
        return cls(get_settings(), allow)

    @staticmethod
    def _metadata(raw: Any) -> dict[str, Any]:
        meta = dict(raw) if isinstance(raw, dict) else {}
        hint = meta.get("language_hint") or meta.get("language")
        meta["language_hint"] = language_from_code(hint) if isinstance(hint, str) else None
        meta.setdefault("country", None)
        location = meta.get("location")
        if not (isinstance(location, dict) and isinstance(location.get("lat"), (int, float)) and isinstance(location.get("lon"), (int, float))):
            meta.pop("location", None)
        meta["channel"] = "rest"
        return meta

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("haven_rest_webhook", __name__)
        channel = self
        # Handlers are registered by a call, not @bp.route: sanic's RouteWrapper mentions the untyped
        # sanic_routing.Route, so mypy would treat the decorated handler as untyped.

        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if channel.enabled else "disabled"})

        bp.route("/", methods=["GET"])(health)

        async def receive(request: Request) -> HTTPResponse:
            if not channel.enabled:
                return response.text("channel not enabled", status=404)
            if len(request.body or b"") > channel.settings.max_body_bytes:
                return response.text("payload too large", status=413)
            try:
                data = load_json(request.body or b"")
            except Malformed:
                return response.text("bad request", status=400)
            if not isinstance(data, dict):
                return response.text("bad request", status=400)
            sender, text = data.get("sender"), data.get("message")
            if not isinstance(sender, str) or not sender or len(sender) > MAX_SENDER or not isinstance(text, str):
                return response.text("bad request", status=400)
            if not sender.isprintable() or "\x00" in text:  # NUL is refused by PostgreSQL
                return response.text("bad request", status=400)
            if PSEUDONYM_SHAPE.match(sender):
                log.warning("rest webhook rejected: sender id shaped like a channel conversation")
                return response.text("forbidden", status=403)
            metadata = channel._metadata(data.get("metadata"))
            location = metadata.get("location")
            inbound = Inbound(
                channel="rest",
                conversation_id=sender,
                text=text,
                location=(float(location["lat"]), float(location["lon"])) if location else None,
                language_hint=metadata["language_hint"],
                metadata=metadata,
            )
            try:
                result = await screen(inbound)
            except Exception as exc:  # noqa: BLE001 - type only: the message may carry content
                log.error("rest gate failed: %s", type(exc).__name__)
                return response.text("error", status=500)
            if result.verdict is Verdict.QUICK_EXIT:
                return response.json([{"recipient_id": sender, "text": result.reply}] if result.reply else [])
            if result.verdict is not Verdict.PASS:
                return response.json([])
            collector = CollectingOutputChannel()
            metadata.update(result.metadata)
            text = result.rewrite or text  # the gate may replace her message (code word)
            try:
                await on_new_message(UserMessage(text, collector, sender, input_channel="rest", metadata=metadata))
            except asyncio.CancelledError:
                log.error("rest turn timed out")
            except Exception as exc:  # noqa: BLE001
                log.error("rest turn failed: %s", type(exc).__name__)
            return response.json(collector.messages)

        bp.route("/webhook", methods=["POST"])(receive)

        return bp
