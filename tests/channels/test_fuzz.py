"""Property: no body makes a webhook answer 500, and the server still answers afterwards.

Hypothesis drives each webhook parser through the real blueprint (ASGI): Telegram updates whose
fields are replaced by JSON values of any type, strings with lone surrogates, deep nesting and
raw bytes; signed Twilio forms (SMS and WhatsApp) with arbitrary field values; REST bodies of
any JSON shape. Providers are pointed at a closed loopback port (sends fail fast, typed).
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channels.conftest import FakeRasa, Harness, load_rows, telegram_request, twilio_request

CLOSED = "http://127.0.0.1:9"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

text_any = st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)  # surrogates included
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text_any,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text_any, children, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def fuzz_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from bot.settings import get_settings
    from tests.channels import conftest as c

    for key, value in {
        "HAVEN_PUBLIC_URL": c.PUBLIC_URL, "HAVEN_TWILIO_ACCOUNT_SID": c.TWILIO_SID, "HAVEN_TWILIO_AUTH_TOKEN": c.TWILIO_TOKEN,
        "HAVEN_TWILIO_SMS_FROM": c.SMS_FROM, "HAVEN_TWILIO_WHATSAPP_FROM": c.WHATSAPP_FROM, "HAVEN_TWILIO_API_BASE": CLOSED,
        "HAVEN_TELEGRAM_TOKEN": c.TELEGRAM_TOKEN, "HAVEN_TELEGRAM_SECRET": c.TELEGRAM_SECRET, "HAVEN_TELEGRAM_API_BASE": CLOSED,
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    return db_url


def _paths(update: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(update, dict):
        for key, value in update.items():
            found += _paths(value, prefix + (key,))
    return found


def _replace(update: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(update)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


TELEGRAM_BASES = [r["requests"][0]["update"] for r in load_rows("telegram", "inbound.json") if "update" in r["requests"][0]]


@st.composite
def telegram_bodies(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["field", "field", "field", "nested", "bytes"]))
    if kind == "bytes":
        return bytes(draw(st.binary(max_size=200)))
    base = json.loads(json.dumps(draw(st.sampled_from(TELEGRAM_BASES))).replace('"__NOW__"', str(int(time.time()))))
    if kind == "nested":
        depth = draw(st.integers(min_value=20, max_value=3000))
        return (json.dumps(base)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}").encode()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(_paths(base)))
        base = _replace(base, path, draw(json_values))
    return json.dumps(base).encode("utf-8", "surrogatepass")


TWILIO_KEYS = ["MessageSid", "From", "Body", "NumMedia", "Latitude", "Longitude", "ButtonPayload", "FromCountry",
               "MediaContentType0", "SmsStatus", "WaId", "MessageType"]


@st.composite
def twilio_forms(draw: Any, provider: str) -> dict[str, str]:
    base = dict(load_rows(provider, "inbound.json")[0]["requests"][0]["form"])
    for key in draw(st.lists(st.sampled_from(TWILIO_KEYS), min_size=1, max_size=4)):
        if draw(st.booleans()):
            base[key] = draw(st.text(max_size=30))
        else:
            base.pop(key, None)
    return base


async def _still_up(harness: Harness, provider: str) -> None:
    row = load_rows(provider, "inbound.json")[0]["requests"][0]
    if provider == "telegram":
        body, headers = telegram_request(dict(row["update"], update_id=999999, message=dict(row["update"]["message"], date=int(time.time()))))
    else:
        body, headers = twilio_request(dict(row["form"], MessageSid="SM0000000000000000000000000000ffff"), "valid", harness.path)
    assert (await harness.post(body, headers)).status_code == 200


def _channel(provider: str) -> Any:
    from tests.channels.test_inbound import _channel as build

    return build(provider)


def _run(provider: str, strategy: Any) -> None:
    loop = asyncio.new_event_loop()
    harness = loop.run_until_complete(Harness(_channel(provider), FakeRasa()).start())
    statuses: list[int] = []

    @FUZZ
    @given(strategy)
    def check(item: Any) -> None:
        if provider == "telegram":
            body, (_, headers) = item, telegram_request({})
        else:
            body, headers = twilio_request(item, "valid", harness.path)
        status = loop.run_until_complete(harness.post(body, headers)).status_code
        statuses.append(status)
        assert status < 500, status

    try:
        check()
        loop.run_until_complete(_still_up(harness, provider))
    finally:
        loop.run_until_complete(harness.stop())
        loop.close()
    assert any(400 <= s < 500 for s in statuses)  # the parser's refusals were reached (and 200 by _still_up)


def test_telegram_webhook_never_answers_500(fuzz_env: str) -> None:
    _run("telegram", telegram_bodies())


@pytest.mark.parametrize("provider", ["sms", "whatsapp"])
def test_twilio_webhooks_never_answer_500(provider: str, fuzz_env: str) -> None:
    _run(provider, twilio_forms(provider))


def test_rest_webhook_never_answers_500(fuzz_env: str) -> None:
    from channels.rest import RestInput

    loop = asyncio.new_event_loop()
    harness = loop.run_until_complete(Harness(RestInput.from_credentials(None), FakeRasa()).start())
    statuses: list[int] = []

    @FUZZ
    @given(st.one_of(json_values, st.fixed_dictionaries({"sender": text_any, "message": json_values, "metadata": json_values})))
    def check(data: Any) -> None:
        body = json.dumps(data).encode("utf-8", "surrogatepass")
        status = loop.run_until_complete(harness.post(body, {"content-type": "application/json"})).status_code
        statuses.append(status)
        assert status < 500, status

    try:
        check()
        ok = loop.run_until_complete(harness.post(b'{"sender": "fuzz-still-up", "message": "hello"}', {}))
        assert ok.status_code == 200
    finally:
        loop.run_until_complete(harness.stop())
        loop.close()
    assert any(s == 400 for s in statuses)
