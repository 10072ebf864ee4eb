"""The inbound path every channel shares, and the output-channel base every provider extends.

Inbound (`HavenChannel.blueprint`): authenticate -> cap the body -> parse -> dedupe (unique
constraint) -> pseudonymise (store the encrypted reply address) -> safety gate -> answer 200 and
run the Rasa turn in a background task. Only the durable steps (receipt, contact, erase, opt-out)
happen before the 200, so a provider retry never makes a second turn and a quick exit is done
before the provider hears back. Turns of one conversation run one after another, in arrival order.
The receipt's transaction also writes a pending-turn record, deleted when the turn ends: if this
replica dies first, another re-runs the turn (channels/pending.py, `rerun`).

Sending (the output-channel base, retries, options memory) is in `channels.sending`; contact
rows in `channels.contacts`.

Nothing here logs a survivor's words, address, chat id or provider message id.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Optional, cast

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.crypto import keyed_hash, pseudonym
from bot.safety.gate import GateResult, Inbound, Verdict, screen
from bot.settings import SUPPORTED_LANGUAGES, Settings, get_settings
from bot.store import pending_turns
from bot.store.models import utcnow
from bot.store.receipts import receipt_window
from bot.store.receipts import release as release_receipt
from channels import pending
from channels.contacts import ExtraRows, Recorded, load_contact, record_inbound
from channels.sending import HavenOutput, OptionMemory
from channels.turns import TurnInput
from channels.turns import TurnRunner as TurnRunner  # re-exported: it lived here

log = logging.getLogger("haven.channels")

QUICK_EXIT_PAYLOAD = "/quick_exit"
# Parsed.extra key: she typed a number outside the options of the latest message (their count).
PICK_RANGE = "pick_range"
LOCATION_INTENT = "/inform_location"
_LEADING_SLASHES = re.compile(r"^/+\s*")


class Malformed(Exception):
    """The request body is empty or not the provider's shape (400). Message is content-free."""


class Ignored(Exception):
    """A well-formed update that is not a survivor message (status callback, group chat...): 200."""


@dataclass
class Parsed:
    """One normalised inbound message. `address` is the reply address; never logged."""

    provider_id: str
    address: str
    text: Optional[str] = None
    payload: Optional[str] = None
    location: Optional[tuple[float, float]] = None
    unsupported: Optional[str] = None  # "media", "sticker", "voice", "edit", ...
    language_hint: Optional[str] = None
    country: Optional[str] = None
    extra: dict[str, Any] = field(default_factory=dict)


def language_from_code(code: Optional[str]) -> Optional[str]:
    """'pt-BR' -> 'pt' when supported, else None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED_LANGUAGES else None


def typed_text(text: Optional[str]) -> Optional[str]:
    """Typed text never acts as a Rasa '/intent' shortcut: buttons are the only way to send one."""
    if text is None:
        return None
    stripped = text.strip()
    if stripped.startswith("/"):
        stripped = _LEADING_SLASHES.sub("", stripped)
    return stripped or None


def quiet_provider_loggers() -> None:
    """HTTP client loggers print request URLs (the Telegram token) and PTB's DEBUG prints texts."""
    for name, level in (("httpx", logging.WARNING), ("httpcore", logging.WARNING), ("telegram", logging.INFO)):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < level:
            logger.setLevel(level)


# ---------------------------------------------------------------- input channel base


class HavenChannel(InputChannel):
    """A provider webhook: subclasses authenticate, parse and build their output channel."""

    ok_body = ""
    ok_content_type = "text/plain"
    # Names of provider fields whose values must never appear in a log line (tests check this).
    never_log: tuple[str, ...] = ()
    # Where this channel's country comes from (bot.countries.SOURCES): "phone", "language_region".
    country_source: Optional[str] = None

    def __init__(self, settings: Optional[Settings] = None, enabled: bool = True) -> None:
        self.settings = settings or get_settings()
        self.enabled = enabled
        self.turns = TurnRunner()
        self.options = OptionMemory()
        if enabled:
            quiet_provider_loggers()

    # -- hooks
    def check_headers(self, request: Request) -> bool:
        raise NotImplementedError

    def check_body(self, request: Request, body: bytes) -> bool:
        return True

    def parse(self, request: Request, body: bytes) -> Parsed:
        raise NotImplementedError

    def output(self, parsed: Optional[Parsed], conversation_id: str, language: str, started_at: datetime, record: bool = True) -> HavenOutput:
        raise NotImplementedError

    def extra_rows(self, parsed: Parsed, conversation_id: str) -> Optional[ExtraRows]:
        return None

    async def resolve_payload(self, request: Request, conversation_id: str, parsed: Parsed) -> None:
        """Turn a numeric reply / short callback token into the button payload (in place)."""

    async def acknowledge(self, parsed: Parsed) -> None:
        """Provider-side acknowledgement after the gate (Telegram: answer the callback query)."""

    async def after_quick_exit(self, parsed: Parsed, output: HavenOutput, result: GateResult) -> None:
        """Quick exit is already erased: send the cover text (if any) without recording it."""
        if result.reply:
            await output.send_response(output.conversation_id or "", {"text": result.reply})

    def reset_opt_out_on_inbound(self) -> bool:
        """Whether any inbound message re-enables a stopped contact (SMS leaves this to the gate)."""
        return True

    def ok(self) -> HTTPResponse:
        return response.text(self.ok_body, status=200, content_type=self.ok_content_type)

    # -- the path
    def notice_language(self, recorded: Recorded, parsed: Parsed) -> str:
        # A first guess for channel notices (Rasa's language slot decides the conversation's language).
        from bot.countries import languages

        for candidate in (recorded.language, parsed.language_hint, *languages(recorded.country)[:1]):
            if candidate in SUPPORTED_LANGUAGES:
                return str(candidate)
        return "en"

    async def _read_capped(self, request: Request) -> Optional[bytes]:
        cap = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > cap:
                    return None
            except ValueError:
                return None
        if request.stream is None:
            body = request.body or b""
            return body if len(body) <= cap else None
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"haven_{self.name()}_webhook", __name__)
        channel = self
        # Handlers are registered by a call, not @bp.route: sanic's RouteWrapper mentions the untyped
        # sanic_routing.Route, so mypy would treat the decorated handler as untyped.

        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok" if channel.enabled else "disabled"})

        bp.route("/", methods=["GET"])(health)

        async def receive(request: Request) -> HTTPResponse:
            try:
                return await channel.handle(request, on_new_message)
            except Exception as exc:  # noqa: BLE001 - never let a traceback (with content) reach a log
                log.error("%s webhook failed: %s", channel.name(), type(exc).__name__)
                return response.text("error", status=500)

        bp.route("/webhook", methods=["POST"], stream=True)(receive)

        async def recover(app: Any, loop: Any) -> None:
            pending.RECOVERY.register(channel, app, on_new_message)

        async def drain(app: Any, loop: Any) -> None:
            await pending.RECOVERY.unregister(channel)
            await channel.turns.drain(timeout=10)

        if self.enabled:
            bp.listener("after_server_start")(recover)
        bp.listener("before_server_stop")(drain)
        return bp

    async def handle(self, request: Request, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> HTTPResponse:
        """Authenticate, cap, parse, dedupe, pseudonymise, screen; then answer and turn in the background."""
        name = self.name()
        if not self.enabled:
            return response.text("channel not configured", status=404)
        if not self.check_headers(request):
            log.warning("%s webhook rejected: authentication failed", name)
            return response.text("forbidden", status=403)
        body = await self._read_capped(request)
        if body is None:
            log.warning("%s webhook rejected: body too large", name)
            return response.text("payload too large", status=413)
        if not self.check_body(request, body):
            log.warning("%s webhook rejected: authentication failed", name)
            return response.text("forbidden", status=403)
        try:
            parsed = self.parse(request, body)
        except Ignored:
            return self.ok()
        except Malformed as exc:
            log.info("%s webhook: malformed request (%s)", name, exc)
            return response.text("bad request", status=400)

        # Anything that erases this conversation from here on stops this turn's replies.
        started_at = utcnow()
        sent_at = parsed.extra.get("date")
        if not isinstance(sent_at, datetime) or sent_at.tzinfo is None:
            sent_at = None
        elif sent_at < started_at - receipt_window():
            # Older than any receipt we keep: a replay, never a provider retry (Telegram: 24 h).
            log.info("%s webhook: message older than the receipt window ignored", name)
            return self.ok()
        key = self.settings.pseudonym_key
        conversation_id = pseudonym(key, name, parsed.address)
        receipt = keyed_hash(key, f"inbound_receipt|{name}", parsed.provider_id)
        turn_id = keyed_hash(key, f"turn|{name}", parsed.provider_id)  # the turn's Rasa message id
        rows = pending.with_record(self.extra_rows(parsed, conversation_id), turn_id, name,
                                   pending.received_data(parsed, started_at))
        recorded = await asyncio.to_thread(
            record_inbound, name, conversation_id, receipt, parsed.address, parsed.country,
            self.reset_opt_out_on_inbound(), rows, sent_at,
        )
        if recorded is None:
            log.info("%s webhook: duplicate or pre-erase delivery ignored", name)
            return self.ok()
        try:
            return await self._screen_and_answer(request, on_new_message, parsed, recorded, started_at, turn_id)
        except BaseException:
            # Not handled: forget the receipt (and the pending turn) so the provider's retry delivers it.
            await asyncio.to_thread(release_receipt, name, receipt)
            await asyncio.to_thread(pending_turns.drop, turn_id)
            raise

    async def _screen_and_answer(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        parsed: Parsed,
        recorded: Recorded,
        started_at: datetime,
        turn_id: str,
        skip_replies: int = 0,
    ) -> HTTPResponse:
        """The gate, then the answer (the Rasa turn runs in the background; its record says so)."""
        name = self.name()
        conversation_id = recorded.conversation_id
        await self.resolve_payload(request, conversation_id, parsed)
        metadata: dict[str, Any] = {"language_hint": parsed.language_hint, "country": recorded.country, "channel": name}
        if recorded.country and self.country_source not in (None, "phone"):
            metadata["country_source"] = self.country_source  # absent: her phone number's country
        if parsed.location is not None:
            metadata["location"] = {"lat": parsed.location[0], "lon": parsed.location[1]}
        inbound = Inbound(
            channel=name,
            conversation_id=conversation_id,
            text=parsed.text,
            payload=parsed.payload,
            location=parsed.location,
            language_hint=parsed.language_hint,
            metadata=dict(metadata, unsupported=parsed.unsupported) if parsed.unsupported else dict(metadata),
        )
        language = self.notice_language(recorded, parsed)
        inbound.metadata["language"] = language  # the quick-exit cover text is in her language
        result = await screen(inbound)
        if result.verdict is not Verdict.PASS:  # no turn (a quick exit erased the record already)
            await asyncio.to_thread(pending_turns.finish, turn_id)
        if result.verdict is Verdict.QUICK_EXIT:
            self.options.forget(conversation_id)
            output = self.output(parsed, conversation_id, language, started_at, record=False)
            self.turns.spawn(self._quick_exit(parsed, output, result), f"{name} quick exit")
            log.info("%s quick exit", name)
            return self.ok()
        if parsed.extra.get("ack"):
            self.turns.spawn(self.acknowledge(parsed), f"{name} acknowledge")
        if result.verdict is not Verdict.PASS:
            return self.ok()
        metadata.update(result.metadata)
        if result.rewrite:  # the safety gate replaced her message (e.g. her code word never reaches Rasa)
            text: Optional[str] = result.rewrite
        elif parsed.payload:
            text = parsed.payload
        elif parsed.location is not None:
            text = LOCATION_INTENT
        else:
            text = typed_text(parsed.text)
        pick = parsed.extra.get(PICK_RANGE)
        turn = TurnInput(turn_id, name, conversation_id, language, started_at, text, parsed.unsupported,
                         int(pick) if pick else None, metadata)
        if not await asyncio.to_thread(pending_turns.set_turn, turn_id, turn.as_dict()):
            return self.ok()  # erased meanwhile, or (a re-run) another replica took it over
        output = self.output(parsed, conversation_id, language, started_at)
        self.turns.spawn(self._turn(on_new_message, turn, output, skip_replies, getattr(request, "app", None)), f"{name} turn",
                         conversation_id)
        return self.ok()

    async def _quick_exit(self, parsed: Parsed, output: HavenOutput, result: GateResult) -> None:
        if parsed.extra.get("ack"):
            await self.acknowledge(parsed)
        await self.after_quick_exit(parsed, output, result)

    async def _turn(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], turn: TurnInput,
                    output: HavenOutput, skip_replies: int = 0, app: Any = None) -> None:
        """Run one turn, then delete its pending record (also after a handled failure; not when
        cancelled at shutdown: another replica re-runs it; not when this process has no model to
        run it: the record is handed back for a replica that has one, or this one once it has)."""
        output.turn_id, output.skip_replies = turn.turn_id, skip_replies
        if not pending.agent_ready(app):
            await asyncio.to_thread(pending_turns.release, turn.turn_id)
            log.warning("%s turn kept for a re-run: no model loaded", self.name())
            return
        try:
            await self._run_turn(on_new_message, turn, output)
        except asyncio.CancelledError:
            raise
        except Exception:
            await asyncio.to_thread(pending_turns.finish, turn.turn_id)
            raise
        await asyncio.to_thread(pending_turns.finish, turn.turn_id)

    async def _run_turn(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], turn: TurnInput,
                        output: HavenOutput) -> None:
        from bot import i18n

        conversation_id = turn.conversation_id
        if turn.pick_range:  # "please pick 1 or 2": no Rasa turn, no older list
            text = i18n.text("channels_pick_range", turn.language, self.name(), count=turn.pick_range)
            await output.send_response(conversation_id, {"text": text})
            return
        if turn.unsupported:
            await output.send_response(conversation_id, {"text": i18n.text("channels_text_only", turn.language, self.name())})
        if not turn.text:
            return
        await on_new_message(UserMessage(turn.text, output, conversation_id, input_channel=self.name(),
                                         metadata=turn.metadata, message_id=turn.turn_id))

    async def rerun(self, claimed: pending_turns.Claimed, app: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Re-run a turn whose replica died (channels/pending.py), with her address from the contact."""
        contact = await asyncio.to_thread(load_contact, claimed.conversation_id)
        if contact is None or contact.address is None:  # erased
            await asyncio.to_thread(pending_turns.finish, claimed.turn_id)
            return
        if claimed.stage == pending_turns.TURN:
            turn = TurnInput.from_dict(claimed.data)
            output = self.output(None, turn.conversation_id, turn.language, turn.started_at)
            await self._turn(pending.exactly_once(app, on_new_message, turn.started_at), turn, output, claimed.replies_sent,
                             app)
            return
        # Received, gate maybe not run: from the gate on, as the webhook would have.
        started_at = datetime.fromisoformat(str(claimed.data["started_at"]))
        parsed = Parsed(provider_id="", address=contact.address, **pending.parsed_fields(claimed.data))
        recorded = Recorded(claimed.conversation_id, contact.language, contact.country)
        request = cast(Request, SimpleNamespace(app=app))  # resolve_payload reads only request.app
        await self._screen_and_answer(request, pending.exactly_once(app, on_new_message, started_at), parsed,
                                      recorded, started_at, claimed.turn_id, claimed.replies_sent)
