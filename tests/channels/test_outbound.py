"""Outbound tables against the fake provider: canned response -> exact request(s) -> id or typed error.

Rows live in tests/channels/testdata/<provider>/outbound.json. Each runs on SQLite and PostgreSQL
(the reply address is read back, decrypted, from the contact row as the console would).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import select

from bot.crypto import load_cipher, pseudonym
from bot.settings import get_settings
from bot.store.db import session_scope
from bot.store.models import Contact, TelegramMessage
from channels import errors
from channels.contacts import mark_stopped, record_inbound
from channels.segments import encoding_for, segment_count, smart_encode
from channels.sending import HavenOutput, OptionMemory, RetryPolicy
from tests.channels.conftest import FakeRasa, Harness, load_rows, telegram_request, twilio_request
from tests.fakes.provider import Canned, FakeProvider, telegram_error

PROVIDERS = ("sms", "whatsapp", "telegram")
CASES = [pytest.param(p, row, id=f"{p}: {row['label']}") for p in PROVIDERS for row in load_rows(p, "outbound.json")]
ADDRESS = {"sms": "+15550100201", "whatsapp": "+15550100201", "telegram": "555000201"}
FAST = RetryPolicy(attempts=3, backoff=0.01, max_wait=5)


async def _contact(provider: str, opted_out: bool = False) -> str:
    conversation = pseudonym(get_settings().pseudonym_key, provider, ADDRESS[provider])
    await asyncio.to_thread(record_inbound, provider, conversation, f"r-{provider}", ADDRESS[provider], None, True, None)
    if opted_out:
        await asyncio.to_thread(mark_stopped, conversation)
    return conversation


def _output(provider: str, conversation: str, options: OptionMemory, raise_errors: bool = True) -> HavenOutput:
    settings = get_settings()
    if provider == "telegram":
        from channels.telegram import TelegramOutput
        from channels.telegram_api import TelegramApi

        api = TelegramApi(settings.telegram_token or "", settings.telegram_api_base, FAST)
        return TelegramOutput(conversation, None, "en", raise_errors=raise_errors, api=api)
    from channels.sms import SmsOutput
    from channels.twilio_common import TwilioClient
    from channels.whatsapp import WhatsAppOutput

    client = TwilioClient(settings.twilio_account_sid or "", settings.twilio_auth_token or "", settings.twilio_api_base, FAST)
    cls = SmsOutput if provider == "sms" else WhatsAppOutput
    return cls(conversation, None, "en", raise_errors=raise_errors, client=client, options=options)


def _stored_out(conversation: str) -> list[str]:
    with session_scope() as s:
        cipher = load_cipher(s, conversation)
        rows = s.execute(select(TelegramMessage).where(TelegramMessage.direction == "out")).scalars().all()
        assert cipher is not None or not rows
        return [cipher.decrypt_text(r.message_id_ct, "telegram_messages|out") for r in rows] if cipher else []


def _opted_out(conversation: str) -> bool:
    with session_scope() as s:
        return bool(s.execute(select(Contact.opted_out).where(Contact.conversation_id == conversation)).scalar_one())


@pytest.mark.parametrize("provider,row", CASES)
async def test_outbound_row(provider: str, row: dict[str, Any], channel_env: str, fake: FakeProvider) -> None:
    label = row["label"]
    conversation = await _contact(provider, row.get("opted_out", False))
    key = "twilio" if provider != "telegram" else "telegram:sendMessage"
    for canned in row.get("canned", []):
        fake.script(key, Canned(canned["status"], canned["body"], canned.get("headers", {})))
    options = OptionMemory()
    output = _output(provider, conversation, options)
    error = None
    try:
        await output.send_response(conversation, dict(row["message"]))
    except errors.ChannelError as exc:
        error = exc

    requests = fake.requests
    assert len(requests) == len(row["expect_requests"]), label
    for expected, actual in zip(row["expect_requests"], requests):
        if "key" in expected:
            assert actual.key == f"telegram:{expected['key']}", label
        form = expected.get("form", {k: v for k, v in expected.items() if k not in ("key", "absent")})
        for field, value in form.items():
            assert actual.form.get(field) == value, (label, field)
        for field in expected.get("absent", []):
            assert field not in actual.form, (label, field)

    expect = row["expect"]
    if "error" in expect:
        assert error is not None and type(error).__name__ == expect["error"], (label, error)
        assert str(error).find("MRK-") == -1 and ADDRESS[provider] not in str(error)
        if "retry_after" in expect:
            assert isinstance(error, errors.Throttled) and error.retry_after == expect["retry_after"]
    else:
        assert error is None, (label, error)
        assert len(output.sent) == expect["sent"], label
    if expect.get("opted_out"):
        assert _opted_out(conversation), label
    if "options" in expect:
        assert options.take(conversation) == expect["options"]
    if "token_for" in expect:
        from channels.telegram import TelegramOutput, callback_data

        token = callback_data(expect["token_for"])
        assert len(token.encode()) <= 64 and token != expect["token_for"]
        assert requests[0].form["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == token
        assert isinstance(output, TelegramOutput) and output.tokens.lookup(conversation, token) == expect["token_for"]
    if "stored" in expect:
        assert sorted(_stored_out(conversation)) == sorted(output.sent) and len(output.sent) == expect["stored"], label
    if "max_segments" in expect:
        body = requests[0].form["Body"]
        assert segment_count(body) <= expect["max_segments"], label
        assert body.endswith(expect["ends_with"]), label
        if "encoding" in expect:
            assert encoding_for(body).name == expect["encoding"], label
        if "prefix_of" in expect:
            original = smart_encode(expect["prefix_of"])
            kept = body[: -len(expect["ends_with"])]
            assert original.startswith(kept) and original[len(kept)].isspace(), "cut at a word boundary"
            assert segment_count(original) > expect["max_segments"]
    elif "ends_with" in expect:
        assert requests[0].form["Body"].endswith(expect["ends_with"])


async def test_turn_send_errors_are_swallowed_and_stop_the_turn(channel_env: str, fake: FakeProvider) -> None:
    """Inside a Rasa turn a blocked contact is marked and the rest of the turn sends nothing."""
    conversation = await _contact("telegram")
    fake.script("telegram:sendMessage", telegram_error(403, "Forbidden: bot was blocked by the user"))
    output = _output("telegram", conversation, OptionMemory(), raise_errors=False)
    await output.send_response(conversation, {"text": "first"})  # must not raise into Rasa
    await output.send_response(conversation, {"text": "second"})
    assert len(fake.requests) == 1
    assert _opted_out(conversation)


async def test_writing_again_reenables_a_blocked_telegram_contact(channel_env: str, fake: FakeProvider) -> None:
    conversation = await _contact("telegram", opted_out=True)
    rasa = FakeRasa(replies=[{"text": "welcome back"}])
    harness = await Harness(_channel("telegram"), rasa).start()
    update = {"update_id": 777001, "message": {"message_id": 5, "date": int(time.time()), "chat": {"id": int(ADDRESS["telegram"]), "type": "private"},
                                               "from": {"id": int(ADDRESS["telegram"]), "is_bot": False, "first_name": "x"}, "text": "hello again"}}
    try:
        response = await harness.post(*telegram_request(update))
        await harness.settle()
    finally:
        await harness.stop()
    assert response.status_code == 200
    assert not _opted_out(conversation)
    assert [r.form["text"] for r in fake.of("telegram:sendMessage")] == ["welcome back"]


async def test_quick_exit_during_a_turn_stops_and_takes_back_messages(channel_env: str, fake: FakeProvider) -> None:
    """A reply already in flight when she quick-exits is deleted at once; nothing more is sent."""
    from bot.safety.erase import erase_conversation

    conversation = await _contact("telegram")
    output = _output("telegram", conversation, OptionMemory(), raise_errors=False)
    await output.send_response(conversation, {"text": "one"})
    assert len(_stored_out(conversation)) == 1
    # She quick-exits on another request while this turn's next message is on its way.
    original = output.api.send_message

    async def send_then_erase(chat_id: str, text: str, markup: Any = None) -> int:
        message_id = await original(chat_id, text, markup)
        await asyncio.to_thread(erase_conversation, conversation)
        return message_id

    output.api.send_message = send_then_erase  # type: ignore[method-assign]
    await output.send_response(conversation, {"text": "two"})
    await output.send_response(conversation, {"text": "three"})
    keys = [r.key for r in fake.requests]
    assert keys == ["telegram:sendMessage", "telegram:sendMessage", "telegram:deleteMessages"]
    assert fake.requests[2].form["message_ids"] == [int(output.sent[1])]
    with session_scope() as s:
        assert s.execute(select(TelegramMessage)).scalars().all() == []


async def test_sms_turn_replies_reach_the_provider_with_options(channel_env: str, fake: FakeProvider) -> None:
    """Full path: signed SMS -> turn -> numbered reply at the fake -> '2' maps to the second payload."""
    buttons = [{"title": "Talk", "payload": "/request_officer"}, {"title": "Places", "payload": "/find_service"}]
    rasa = FakeRasa(replies=[{"text": "How can I help?", "buttons": buttons}])
    harness = await Harness(_channel("sms"), rasa).start()
    base = {"MessageSid": "SM" + "1" * 32, "AccountSid": "AC", "From": "+15550100301", "To": "+15550199999", "Body": "hello", "NumMedia": "0"}
    try:
        first = await harness.post(*twilio_request(base, path=harness.path))
        await harness.settle()
        second = await harness.post(*twilio_request(dict(base, MessageSid="SM" + "2" * 32, Body="2"), path=harness.path))
        await harness.settle()
    finally:
        await harness.stop()
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["content-type"].startswith("text/xml")
    assert [m.text for m in rasa.messages] == ["hello", "/find_service"]
    bodies = [r.form["Body"] for r in fake.of("twilio")]
    assert bodies[0] == "How can I help?\n\n1. Talk\n2. Places\nReply 1 or 2"


async def test_disabled_channel_is_harmless(haven_env: dict[str, str]) -> None:
    """No credentials: the webhook answers 404, health says disabled, nothing is stored."""
    for provider in PROVIDERS:
        channel = _channel(provider)
        assert channel.enabled is False
        harness = await Harness(channel, FakeRasa()).start()
        try:
            response = await harness.post(b"Body=x", {"content-type": "application/x-www-form-urlencoded"})
            assert harness.client is not None
            health = await harness.client.get(f"/webhooks/{provider}/")
        finally:
            await harness.stop()
        assert response.status_code == 404
        assert health.json() == {"status": "disabled"}
        assert channel.get_output_channel() is None


def _channel(provider: str) -> Any:
    from channels.sms import SmsInput
    from channels.telegram import TelegramInput
    from channels.whatsapp import WhatsAppInput

    return {"sms": SmsInput, "whatsapp": WhatsAppInput, "telegram": TelegramInput}[provider].from_credentials(None)


async def test_rasa_initiated_output_looks_up_each_recipient(channel_env: str, fake: FakeProvider) -> None:
    """get_output_channel() (reminders, trigger_intent) is unbound: each recipient's own address."""
    first = await _contact("sms")
    second = pseudonym(get_settings().pseudonym_key, "sms", "+15550100299")
    await asyncio.to_thread(record_inbound, "sms", second, "r-2", "+15550100299", None, True, None)
    output = _channel("sms").get_output_channel()
    await output.send_response(first, {"text": "a"})
    await output.send_response(second, {"text": "b"})
    await output.send_response("f" * 64, {"text": "nobody"})  # unknown: swallowed, nothing sent
    assert [(r.form["To"], r.form["Body"]) for r in fake.requests] == [(ADDRESS["sms"], "a"), ("+15550100299", "b")]


async def test_a_turn_output_never_reaches_another_conversation(channel_env: str, fake: FakeProvider) -> None:
    conversation = await _contact("sms")
    output = _output("sms", conversation, OptionMemory())
    with pytest.raises(errors.ContactStopped):
        await output.send_response("e" * 64, {"text": "x"})
    assert fake.requests == []


class _Store:
    def __init__(self, tracker: Any) -> None:
        self.tracker = tracker

    async def retrieve(self, sender_id: str) -> Any:
        return self.tracker


async def test_numeric_reply_falls_back_to_the_tracker(channel_env: str, fake: FakeProvider) -> None:
    """After a restart (no options in memory) '2' still maps, from the last bot message in the tracker."""
    from types import SimpleNamespace

    from rasa.shared.core.events import BotUttered, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    address = "+15550100501"
    conversation = pseudonym(get_settings().pseudonym_key, "whatsapp", address)
    buttons = [{"title": "A", "payload": "/choose_a"}, {"title": "B", "payload": "/choose_b"}]
    tracker = DialogueStateTracker.from_events(conversation, [UserUttered("hi"), BotUttered("pick", data={"buttons": buttons})])
    rasa = FakeRasa()
    harness = Harness(_channel("whatsapp"), rasa)
    harness.app.ctx.agent = SimpleNamespace(tracker_store=_Store(tracker))
    await harness.start()
    form = {"MessageSid": "SM" + "5" * 32, "From": "whatsapp:" + address, "To": "whatsapp:+15550188888", "Body": "2", "NumMedia": "0"}
    try:
        await harness.post(*twilio_request(form, path=harness.path))
        await harness.settle()
        tracker.update(UserUttered("2"))  # she has written since: the options no longer apply
        await harness.post(*twilio_request(dict(form, MessageSid="SM" + "6" * 32), path=harness.path))
        await harness.settle()
    finally:
        await harness.stop()
    assert [m.text for m in rasa.messages] == ["/choose_b", "2"]


async def test_a_refused_recipient_does_not_mark_the_conversation(channel_env: str, fake: FakeProvider) -> None:
    conversation = await _contact("sms")
    output = _output("sms", conversation, OptionMemory(), raise_errors=False)
    await output.send_response("e" * 64, {"text": "x"})
    assert not _opted_out(conversation)
    await output.send_response(conversation, {"text": "still fine"})
    assert [r.form["Body"] for r in fake.requests] == ["still fine"]
