"""Known answers and small units: segments, signatures, numbers, retries, turn order, the CLI."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Iterator

import pytest

from channels import segments
from channels.errors import Retryable, Throttled
from channels.pipeline import Malformed, TurnRunner, language_from_code, typed_text
from channels.sending import RetryPolicy
from channels.twilio_common import TwilioParams, normalise_e164, signature_valid
from tests.fakes.provider import FakeProvider


def test_twilio_signature_known_answer() -> None:
    # Twilio's documented example (token 12345, URL with query string, five form fields).
    params = TwilioParams({"CallSid": ["CA1234567890ABCDE"], "Caller": ["+14158675310"], "Digits": ["1234"],
                           "From": ["+14158675310"], "To": ["+18005551212"]})
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert signature_valid("12345", url, params, "GvWf1cFY/Q7PnoempGyD5oXAezc=")
    assert not signature_valid("12345", url, params, "GvWf1cFY/Q7PnoempGyD5oXAezd=")
    assert not signature_valid("12345", "https://mycompany.com/other.php?foo=1&bar=2", params, "GvWf1cFY/Q7PnoempGyD5oXAezc=")
    assert not signature_valid("12345", url, params, "")


@pytest.mark.parametrize(
    "text,count,encoding",
    [
        ("a" * 160, 1, "GSM-7"), ("a" * 161, 2, "GSM-7"), ("a" * 306, 2, "GSM-7"), ("a" * 307, 3, "GSM-7"),
        ("€" * 80, 1, "GSM-7"), ("€" * 81, 2, "GSM-7"), ("a" * 159 + "€", 2, "GSM-7"),
        ("a" * 152 + "€" + "a" * 152, 3, "GSM-7"),  # 306 septets, but the escape pair cannot straddle
        ("ã" * 70, 1, "UCS-2"), ("ã" * 71, 2, "UCS-2"), ("ã" * 134, 2, "UCS-2"), ("ã" * 135, 3, "UCS-2"),
        ("😀" * 35, 1, "UCS-2"), ("😀" * 36, 2, "UCS-2"), ("", 1, "GSM-7"),
    ],
)
def test_segment_counts(text: str, count: int, encoding: str) -> None:
    assert segments.segment_count(text) == count
    assert segments.encoding_for(text).name == encoding


def test_which_languages_fit_gsm7() -> None:
    assert segments.is_gsm7("Habari, uko salama? Andika 1 au 2.")
    assert segments.is_gsm7("¿Te ayudo? Escribe 1 o 2. Ñu")  # ¿ and Ñ are GSM-7 ...
    assert not segments.is_gsm7("¿Estás a salvo?")  # ... but á is not: accented Spanish is UCS-2
    assert not segments.is_gsm7("Você está segura? Ação")
    assert segments.is_gsm7(segments.smart_encode("C\u2019est s\u00fbr\u2026".replace("\u00fb", "u")))


def test_fit_keeps_words_whole_and_tail_intact() -> None:
    text = " ".join(f"word{i}" for i in range(200))
    body, trimmed = segments.fit_segments(text, "\n1. A\nReply 1", 2)
    assert trimmed and segments.segment_count(body) <= 2
    assert body.endswith("...\n1. A\nReply 1")
    kept = body.split("...")[0]
    assert text.startswith(kept) and text[len(kept)] == " "
    assert segments.fit_segments("short", "", 1) == ("short", False)


def test_split_words_for_provider_body_limits() -> None:
    chunks = segments.split_words(" ".join(["abcdefghij"] * 400), 1600)
    assert all(len(c) <= 1600 for c in chunks) and len(chunks) == 3
    assert all(not c.startswith(" ") and not c.endswith(" ") for c in chunks)
    assert segments.split_words("x" * 3500, 1600) == ["x" * 1600, "x" * 1600, "x" * 300]


@pytest.mark.parametrize("text,number", [("2", 2), (" 2. ", 2), ("#3", 3), ("12", 12), ("²", None), ("2a", None), ("##", None), ("", None), ("100", None)])
def test_parse_number(text: str, number: int | None) -> None:
    assert segments.parse_number(text) == number


def test_normalise_e164_and_reject_junk() -> None:
    # Invented Kenyan-format number (Kenya has no reserved fictional range); never contacted.
    assert normalise_e164("+254 700 000 001") == ("+254700000001", "KE")
    assert normalise_e164("+1 (555) 010-0001")[0] == "+15550100001"
    for junk in ("12", "hello", "+"):
        with pytest.raises(Malformed):
            normalise_e164(junk)


def test_language_and_typed_text() -> None:
    assert language_from_code("pt-BR") == "pt" and language_from_code("sw") == "sw"
    assert language_from_code("de") is None and language_from_code(None) is None
    assert typed_text("//greet{\"x\":1}") == 'greet{"x":1}'
    assert typed_text("  /  ") is None and typed_text("hello") == "hello"


async def test_retry_policy_is_bounded_and_never_resends_maybe_sent() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        raise Retryable("x", "down")

    with pytest.raises(Retryable):
        await RetryPolicy(attempts=3, backoff=0.001).run(flaky)
    assert len(calls) == 3

    calls.clear()

    async def timed_out() -> str:
        calls.append(1)
        raise Retryable("x", "timed out", maybe_sent=True)

    with pytest.raises(Retryable):
        await RetryPolicy(attempts=3, backoff=0.001).run(timed_out)
    assert len(calls) == 1

    calls.clear()

    async def throttled_once() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Throttled("x", 0.01)
        return "ok"

    assert await RetryPolicy(attempts=3, backoff=0.001).run(throttled_once) == "ok"


async def test_turns_of_one_conversation_run_in_arrival_order() -> None:
    runner = TurnRunner()
    order: list[str] = []

    async def turn(name: str, delay: float) -> None:
        order.append(f"start {name}")
        await asyncio.sleep(delay)
        order.append(f"end {name}")

    runner.spawn(turn("a1", 0.05), "t", "conv-a")
    runner.spawn(turn("a2", 0.0), "t", "conv-a")
    runner.spawn(turn("b1", 0.0), "t", "conv-b")
    await runner.drain()
    assert order.index("end a1") < order.index("start a2")
    assert order.index("end b1") < order.index("end a1")  # other conversations are not held up
    assert runner.pending == 0


@pytest.fixture
def fake_in_thread() -> Iterator[FakeProvider]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = asyncio.run_coroutine_threadsafe(FakeProvider().start(), loop).result(10)
    yield fake
    asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def _run_cli(argv: list[str]) -> int:
    from bot.cli import build_parser

    args = build_parser().parse_args(argv)
    func: Any = args.func
    return int(func(args))


def test_cli_set_webhook_registers_url_and_secret(haven_env: dict[str, str], fake_in_thread: FakeProvider, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("HAVEN_PUBLIC_URL", "https://haven.example.test/")
    monkeypatch.setenv("HAVEN_TELEGRAM_TOKEN", "123:TEST")
    monkeypatch.setenv("HAVEN_TELEGRAM_SECRET", "s3cret_-token")
    monkeypatch.setenv("HAVEN_TELEGRAM_API_BASE", fake_in_thread.url)
    get_settings.cache_clear()
    assert _run_cli(["telegram", "set-webhook"]) == 0
    (request,) = fake_in_thread.requests
    assert request.key == "telegram:setWebhook"
    assert request.form["url"] == "https://haven.example.test/webhooks/telegram/webhook"
    assert request.form["secret_token"] == "s3cret_-token"
    assert request.form["allowed_updates"] == ["message", "edited_message", "callback_query"]
    assert "s3cret" not in capsys.readouterr().out


def test_cli_set_webhook_refuses_bad_secret(haven_env: dict[str, str], fake_in_thread: FakeProvider, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("HAVEN_TELEGRAM_TOKEN", "123:TEST")
    monkeypatch.setenv("HAVEN_TELEGRAM_SECRET", "has spaces!")
    monkeypatch.setenv("HAVEN_TELEGRAM_API_BASE", fake_in_thread.url)
    get_settings.cache_clear()
    assert _run_cli(["telegram", "set-webhook"]) == 2
    monkeypatch.delenv("HAVEN_TELEGRAM_TOKEN")
    get_settings.cache_clear()
    assert _run_cli(["telegram", "set-webhook"]) == 2
    assert fake_in_thread.requests == []
