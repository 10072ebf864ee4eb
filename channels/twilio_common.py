"""Twilio code shared by SMS and WhatsApp: signature check, parsing, the REST sender, the channels.

One code path with a flag, like courier's twiml handler: `channels/sms.py` and
`channels/whatsapp.py` only choose the flag, the sender number and their names.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import parse_qs

import httpx
import phonenumbers
from sanic.request import Request
from twilio.request_validator import RequestValidator

from bot.countries import country_of_number
from bot.settings import Settings, get_settings
from channels import segments
from channels.errors import ContactStopped, Misconfigured, Retryable, Throttled
from channels.pipeline import PICK_RANGE, HavenChannel, Ignored, Malformed, Parsed
from channels.sending import HavenOutput, OptionMemory, RetryPolicy, http_client, tracker_buttons

log = logging.getLogger("haven.channels.twilio")

API_VERSION = "2010-04-01"
SIGNATURE_HEADER = "x-twilio-signature"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
WHATSAPP_PREFIX = "whatsapp:"
# Error codes meaning "this recipient cannot or will not receive": stop, do not retry.
STOPPED_CODES = frozenset({21610, 21211, 21612, 21614, 63024})
# Provider fields whose values are hers (or lead to her): never in a log line.
NEVER_LOG = (
    "From", "To", "Body", "WaId", "ProfileName", "Latitude", "Longitude", "Address", "Label",
    "MessageSid", "SmsSid", "SmsMessageSid", "MediaUrl0", "FromCity", "FromZip", "FromState",
    "ButtonText", "ButtonPayload",
)


class TwilioParams(dict):  # type: ignore[type-arg]
    """Form fields as name -> list of values; `getlist` is what RequestValidator looks for."""

    def getlist(self, name: str) -> list[str]:
        return list(self.get(name, []))

    def first(self, name: str) -> Optional[str]:
        values = self.get(name) or []
        return values[0] if values else None


def parse_form(body: bytes) -> TwilioParams:
    """Decode an application/x-www-form-urlencoded body (blank values kept: Twilio signs them)."""
    try:
        text = body.decode("utf-8")
        return TwilioParams(parse_qs(text, keep_blank_values=True, strict_parsing=False, max_num_fields=200))
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("body is not form-encoded UTF-8") from exc


def signed_url(public_url: str, request: Request) -> str:
    """The URL Twilio signed: the public base (behind any proxy) + path + query string."""
    url = public_url.rstrip("/") + request.path
    return f"{url}?{request.query_string}" if request.query_string else url


def signature_valid(auth_token: str, url: str, params: Mapping[str, Sequence[str]], signature: str) -> bool:
    """twilio's RequestValidator over the public URL and the form fields."""
    return bool(signature) and bool(RequestValidator(auth_token).validate(url, params, signature))


def normalise_e164(raw: str) -> tuple[str, Optional[str]]:
    """'+1 555 010 0001' -> ('+15550100001', 'US'); Malformed if it is not a possible number."""
    try:
        number = phonenumbers.parse(raw.strip(), None)
    except phonenumbers.NumberParseException as exc:
        raise Malformed("sender is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise Malformed("sender is not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), phonenumbers.region_code_for_number(number)


def _coordinate(value: Optional[str], bound: float) -> Optional[float]:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise Malformed("location is not numeric") from exc
    if not math.isfinite(number) or abs(number) > bound:
        raise Malformed("location out of range")
    return number


def _country(*candidates: Optional[str]) -> Optional[str]:
    """The first ISO 3166 alpha-2 code, or None: non-geographic numbers (+800, +882...) have region '001'."""
    for candidate in ((c or "").strip().upper() for c in candidates):
        if candidate and len(candidate) == 2 and candidate.isascii() and candidate.isalpha():
            return candidate.upper()
    return None


def parse_twilio(params: TwilioParams, whatsapp: bool) -> Parsed:
    """One Twilio inbound webhook (SMS or WhatsApp) -> Parsed; status callbacks are Ignored."""
    if not params:
        raise Malformed("empty body")
    if params.first("MessageStatus") is not None and params.first("Body") is None:
        raise Ignored()
    sid = params.first("MessageSid") or params.first("SmsMessageSid") or params.first("SmsSid")
    raw_from = params.first("From")
    if not sid or not raw_from:
        raise Malformed("MessageSid or From missing")
    if whatsapp:
        if not raw_from.startswith(WHATSAPP_PREFIX):
            raise Malformed("From is not a WhatsApp address")
        raw_from = raw_from[len(WHATSAPP_PREFIX):]
    address, region = normalise_e164(raw_from)
    try:
        num_media = int(params.first("NumMedia") or "0")
    except ValueError as exc:
        raise Malformed("NumMedia is not a number") from exc
    lat = _coordinate(params.first("Latitude"), 90.0)
    lon = _coordinate(params.first("Longitude"), 180.0)
    if (lat is None) != (lon is None):
        raise Malformed("half a location")
    body = params.first("Body") or ""
    payload = (params.first("ButtonPayload") or "").strip() or None
    parsed = Parsed(
        provider_id=sid,
        address=address,
        text=body if body.strip() else None,
        payload=payload,
        location=(lat, lon) if lat is not None and lon is not None else None,
        unsupported="media" if num_media > 0 else None,
        country=_country(region, params.first("FromCountry"), country_of_number(address)),
    )
    if parsed.text is None and parsed.payload is None and parsed.location is None and parsed.unsupported is None:
        raise Ignored()  # nothing to read (e.g. an empty SMS): acknowledge, no turn
    return parsed


# ---------------------------------------------------------------- sender


class TwilioClient:
    """Creates messages through Twilio's REST API with httpx (never blocks the loop), typed errors."""

    provider = "twilio"

    def __init__(self, account_sid: str, auth_token: str, api_base: str, policy: Optional[RetryPolicy] = None) -> None:
        self.account_sid = account_sid
        self._auth = (account_sid, auth_token)
        self.url = f"{api_base.rstrip('/')}/{API_VERSION}/Accounts/{account_sid}/Messages.json"
        self.policy = policy or RetryPolicy()

    @classmethod
    def from_settings(cls, settings: Optional[Settings] = None, policy: Optional[RetryPolicy] = None) -> "TwilioClient":
        s = settings or get_settings()
        if not (s.twilio_account_sid and s.twilio_auth_token):
            raise Misconfigured("twilio", "HAVEN_TWILIO_ACCOUNT_SID / HAVEN_TWILIO_AUTH_TOKEN not set")
        return cls(s.twilio_account_sid, s.twilio_auth_token, s.twilio_api_base, policy)

    async def create_message(
        self,
        to: str,
        from_: str,
        body: Optional[str] = None,
        content_sid: Optional[str] = None,
        content_variables: Optional[Mapping[str, str]] = None,
    ) -> str:
        """Send one message; returns Twilio's message sid. Raises channels.errors types."""
        data = {"To": to, "From": from_}
        if body is not None:
            data["Body"] = body
        if content_sid is not None:
            data["ContentSid"] = content_sid
            if content_variables:
                data["ContentVariables"] = json.dumps(dict(content_variables))

        async def call() -> str:
            try:
                resp = await http_client().post(self.url, data=data, auth=self._auth)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise Retryable(self.provider, "connection failed") from exc
            except httpx.TimeoutException as exc:
                raise Retryable(self.provider, "timed out", maybe_sent=True) from exc
            except httpx.HTTPError as exc:
                raise Retryable(self.provider, "transport error", maybe_sent=True) from exc
            return self._result(resp)

        return await self.policy.run(call)

    def _result(self, resp: httpx.Response) -> str:
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if 200 <= resp.status_code < 300:
            return str(data.get("sid") or "")
        code = data.get("code")
        if resp.status_code == 429:
            raise Throttled(self.provider, _retry_after(resp.headers.get("retry-after")), code=code or 429)
        if resp.status_code >= 500:
            raise Retryable(self.provider, "server error", code=resp.status_code)
        if isinstance(code, int) and code in STOPPED_CODES:
            raise ContactStopped(self.provider, "recipient unreachable or unsubscribed", code=code)
        if resp.status_code in (401, 403):
            raise Misconfigured(self.provider, "credentials rejected", code=code or resp.status_code)
        raise Misconfigured(self.provider, "request rejected", code=code or resp.status_code)


def _retry_after(value: Optional[str], default: float = 1.0) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


# ---------------------------------------------------------------- output channel


class TwilioOutput(HavenOutput):
    """SMS / WhatsApp replies: buttons become numbered options; SMS bodies fit the segment budget."""

    whatsapp = False

    def __init__(self, *args: Any, client: Optional[TwilioClient] = None, options: Optional[OptionMemory] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._client = client
        self.options = options

    @property
    def client(self) -> TwilioClient:
        if self._client is None:
            self._client = TwilioClient.from_settings(self.settings)
        return self._client

    @property
    def sender(self) -> str:
        number = self.settings.twilio_whatsapp_from if self.whatsapp else self.settings.twilio_sms_from
        if not number:
            raise Misconfigured("twilio", "sender number not set")
        return self.wire_address(number)

    def wire_address(self, e164: str) -> str:
        if self.whatsapp and not e164.startswith(WHATSAPP_PREFIX):
            return WHATSAPP_PREFIX + e164
        return e164

    def bodies(self, text: str, tail: str, language: str = "en") -> list[str]:
        if self.whatsapp:
            return segments.split_words(text + tail, segments.TWILIO_MAX_BODY)
        from bot import i18n

        continued = i18n.catalog().message("channels_sms_continued", language)  # {part}/{parts} filled per part
        return segments.plan_sms(text, self.settings.sms_max_segments, tail, continued=str(continued))

    async def deliver(self, address: str, message: Mapping[str, Any]) -> None:
        text = str(message.get("text") or "")
        buttons = list(message.get("buttons") or message.get("quick_replies") or [])
        tail = segments.numbered_tail(buttons, self.message_language(message)) if buttons else ""
        if not text.strip() and not tail:
            return
        bodies = self.bodies(text, tail, self.message_language(message))
        if not self.whatsapp and segments.segment_count(text + tail) > self.settings.sms_max_segments:
            log.warning("sms reply over %d segments: sent as %d message(s)", self.settings.sms_max_segments, len(bodies))
        for body in bodies:
            self.sent.append(await self.client.create_message(self.wire_address(address), self.sender, body=body))
        if buttons and self.options is not None and self.conversation_id:
            self.options.remember(self.conversation_id, [str(b.get("payload") or b.get("title") or "") for b in buttons])

    async def send_template(self, address: str, content_sid: str) -> None:
        """A pre-approved WhatsApp template (outside the 24-hour window): no free text."""
        self.sent.append(await self.client.create_message(self.wire_address(address), self.sender, content_sid=content_sid))


# ---------------------------------------------------------------- input channel


class TwilioInput(HavenChannel):
    """A Twilio messaging webhook (SMS or WhatsApp): signed form posts, answered with empty TwiML."""

    whatsapp = False
    output_class: type[TwilioOutput] = TwilioOutput
    ok_body = EMPTY_TWIML
    ok_content_type = "text/xml"
    country_source = "phone"
    never_log = NEVER_LOG

    @classmethod
    def configured(cls, settings: Settings) -> bool:
        return settings.whatsapp_enabled if cls.whatsapp else settings.sms_enabled

    @classmethod
    def from_credentials(cls, credentials: Optional[dict[str, Any]]) -> "TwilioInput":
        """Secrets come from HAVEN_* (credentials.yml holds none); without them the channel is off."""
        settings = get_settings()
        enabled = cls.configured(settings)
        if not enabled:
            log.info("%s channel disabled: Twilio credentials or sender number not set", cls.name())
        return cls(settings, enabled)

    def check_headers(self, request: Request) -> bool:
        return bool(request.headers.get(SIGNATURE_HEADER))

    def check_body(self, request: Request, body: bytes) -> bool:
        try:
            params = parse_form(body)
        except Malformed:
            return False
        request.ctx.twilio_params = params
        token = self.settings.twilio_auth_token or ""
        url = signed_url(self.settings.public_url, request)
        return signature_valid(token, url, params, request.headers.get(SIGNATURE_HEADER, ""))

    def parse(self, request: Request, body: bytes) -> Parsed:
        return parse_twilio(request.ctx.twilio_params, self.whatsapp)

    def reset_opt_out_on_inbound(self) -> bool:
        return self.whatsapp  # SMS: the safety gate owns STOP / START

    def output(self, parsed: Optional[Parsed], conversation_id: str, language: str, started_at: datetime, record: bool = True) -> HavenOutput:
        return self.output_class(
            conversation_id,
            parsed.address if parsed else None,
            language,
            started_at,
            record=record,
            settings=self.settings,
            options=self.options,
        )

    def get_output_channel(self) -> Optional[HavenOutput]:
        """For Rasa-initiated messages (reminders, trigger_intent): the address comes from the contact."""
        if not self.enabled:
            return None
        return self.output_class(None, settings=self.settings, options=self.options)

    async def resolve_payload(self, request: Request, conversation_id: str, parsed: Parsed) -> None:
        remembered = self.options.take(conversation_id)  # options are valid for her next message only
        if parsed.payload is not None:
            return
        number = segments.parse_number(parsed.text)
        if number is None:
            return
        payloads = remembered
        if payloads is None:
            found = await tracker_buttons(request, conversation_id, latest_only=True)
            payloads = [str(b.get("payload") or b.get("title") or "") for b in found[0]] if found else None
        if payloads and 1 <= number <= len(payloads) and payloads[number - 1]:
            parsed.payload = payloads[number - 1]
        elif payloads:
            # A number for the options of her latest message only, never for an older list.
            self.options.remember(conversation_id, payloads)  # still valid for her next reply
            parsed.extra[PICK_RANGE] = len(payloads)
