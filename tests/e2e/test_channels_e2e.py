"""Through the running stack: signed provider webhooks in every channel and language reach Rasa,
and the localised reply arrives at the (fake) provider; quick exit erases everything, everywhere."""

from __future__ import annotations

import base64
import secrets

import pytest
from rasa.shared.core.domain import Domain

from bot import i18n
from bot.crypto import pseudonym
from bot.settings import ROOT
from tests.conftest import TEST_KEYS
from tests.dbfiles import raw_bytes

pytestmark = pytest.mark.slow

GREETINGS = {
    "en": "hello there, good evening",
    "fr": "bonsoir, bonjour à vous",
    "es": "hola, buenas noches, qué tal",
    "pt": "olá, boa noite, tudo bem?",
    "sw": "habari za jioni, hujambo",
}


def new_phone() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def new_chat_id() -> int:
    return int("7" + "".join(secrets.choice("0123456789") for _ in range(11)))


def send(stack, channel: str, address: str, text: str, language_code: str = "en") -> list[dict]:
    """Send one message as the provider would and return the provider calls it caused."""
    after = stack.last_seq()
    if channel == "telegram":
        resp = stack.telegram(int(address), text, language_code)
        recipient = address
    else:
        resp = stack.twilio(channel, address, text)
        recipient = ("whatsapp:" if channel == "whatsapp" else "") + address
    assert resp.status_code == 200, resp.text
    return stack.replies_to(recipient, after, count=1, timeout=40)


def reply_text(call: dict) -> str:
    form = call["form"]
    return str(form.get("Body") or form.get("text") or "")


@pytest.mark.parametrize("lang", sorted(GREETINGS))
@pytest.mark.parametrize("channel", ["sms", "whatsapp", "telegram"])
def test_signed_webhook_gets_a_localised_reply(stack, channel: str, lang: str) -> None:
    address = str(new_chat_id()) if channel == "telegram" else new_phone()
    calls = send(stack, channel, address, GREETINGS[lang], language_code=lang)  # Telegram's app language
    texts = [reply_text(c) for c in calls]
    assert any(i18n.text("utter_safe_check", lang, channel) in t for t in texts), texts


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "telegram"])
async def test_quick_exit_leaves_no_marker_anywhere(stack, channel: str) -> None:
    from bot.rasa_adapters.tracker_store import EncryptedTrackerStore

    text_marker = secrets.token_hex(16)
    address = str(new_chat_id()) if channel == "telegram" else new_phone()
    address_marker = address.lstrip("+")
    send(stack, channel, address, "hello")
    send(stack, channel, address, f"i am staying near {text_marker} i need help")

    key = base64.urlsafe_b64decode(TEST_KEYS["HAVEN_PSEUDONYM_KEY"] + "==")
    conversation = pseudonym(key, channel, address)
    store = EncryptedTrackerStore(domain=Domain.load(str(ROOT / "domain")), database_url=stack.database_url)
    tracker = await store.retrieve(conversation)
    assert tracker is not None, "the conversation should be readable through Haven before the exit"
    assert any(text_marker in (getattr(e, "text", None) or "") for e in tracker.events)
    for marker in (text_marker, address_marker):
        assert raw_bytes(stack.database_url).count(marker.encode()) == 0  # encrypted at rest

    cover = send(stack, channel, address, "##")
    assert cover, "the quick exit should still answer with the cover text"
    if channel == "telegram":
        deletions = [c for c in stack.provider_requests() if c["key"].startswith("telegram:deleteMessage")]
        assert deletions, "quick exit on Telegram deletes the chat's recent messages"

    assert await store.retrieve(conversation) is None
    db = raw_bytes(stack.database_url)
    log = stack.log_path.read_bytes()
    for marker in (text_marker, address_marker):
        assert db.count(marker.encode()) == 0
        assert log.count(marker.encode()) == 0, f"{marker[:6]}... found in the stack log"


async def test_phrased_quick_exit_on_telegram_erases_and_deletes_the_chat(stack) -> None:
    """'delete all this' goes through the NLU (intent quick_exit) and still deletes her messages."""
    from bot.rasa_adapters.tracker_store import EncryptedTrackerStore

    chat = str(new_chat_id())
    send(stack, "telegram", chat, "hello")
    key = base64.urlsafe_b64decode(TEST_KEYS["HAVEN_PSEUDONYM_KEY"] + "==")
    conversation = pseudonym(key, "telegram", chat)
    store = EncryptedTrackerStore(domain=Domain.load(str(ROOT / "domain")), database_url=stack.database_url)
    assert await store.retrieve(conversation) is not None

    before = stack.last_seq()
    send(stack, "telegram", chat, "please delete this whole conversation now")
    deletions = stack.replies_to(chat, before, count=2, timeout=20)
    assert any(c["key"].startswith("telegram:deleteMessage") for c in deletions), [c["key"] for c in deletions]
    assert await store.retrieve(conversation) is None
