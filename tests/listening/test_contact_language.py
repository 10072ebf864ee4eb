"""Once her language is known, channel notices and out-of-band lines (queue updates, an officer's
bot lines, the SMS "Reply 1 or 2" hint) use it too: the contact remembers the language of the
replies she got (issue 15: English inside fr/es/pt/sw conversations)."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

import pytest

from bot import i18n
from channels.contacts import load_contact, record_inbound
from channels.segments import reply_hint
from channels.sending import HavenOutput

ADDRESS = "+15550100777"


class Recording(HavenOutput):
    """An output channel that keeps what it would send."""

    channel_name = "sms"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.got: list[Mapping[str, Any]] = []

    async def deliver(self, address: str, message: Mapping[str, Any]) -> None:
        self.got.append(message)


@pytest.mark.parametrize("lang", ["fr", "es", "sw"])
async def test_out_of_band_lines_follow_her_language(db_url: str, lang: str) -> None:
    conversation = f"conv-lang-{lang}"
    await asyncio.to_thread(record_inbound, "sms", conversation, f"r-{lang}", ADDRESS, "KE", True, None)
    assert (await asyncio.to_thread(load_contact, conversation)).language is None
    # a Rasa turn: the reply rendered by /nlg carries her language
    turn = Recording(conversation, ADDRESS, "en")
    await turn.send_response(conversation, {"text": i18n.text("utter_main_menu", lang), "language": lang})
    assert (await asyncio.to_thread(load_contact, conversation)).language == lang
    # later, out of band (the console's bot line, a queue update): no language on the message
    later = Recording(None)
    await later.send_response(conversation, {"text": "...", "buttons": [{"title": "a"}, {"title": "b"}]})
    assert later.message_language(later.got[0]) == lang
    assert reply_hint(2, later.message_language(later.got[0])) != reply_hint(2, "en")


async def test_console_bot_lines_say_their_language(db_url: str) -> None:
    from bot.console import messaging

    sent: list[list[dict[str, Any]]] = []

    class Outbound:
        async def send_to_conversation(self, conversation_id: str, messages: list[dict[str, Any]]) -> Any:
            sent.append(messages)

        def whatsapp_window_open(self, conversation_id: str) -> bool:
            return True

    assert await messaging.send_line(Outbound(), "conv-x", "sms", "pt", "MZ", "utter_handoff_connected")
    assert sent[0][0]["language"] == "pt"


@pytest.mark.parametrize("lang,text", [("fr", "bonjour, j'ai besoin d'aide, mon mari me frappe"),
                                       ("sw", "habari, nina shida kubwa nyumbani, naomba msaada"),
                                       ("es", "hola, necesito ayuda, mi esposo me pega")])
async def test_her_words_outweigh_her_app_language(lang: str, text: str) -> None:
    """Telegram says her phone is in English; her first confident message in her language is
    answered in it (not English until a second message agrees)."""
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.context import ActionReadContext

    latest = {"text": text, "intent": {"name": "disclose_abuse", "confidence": 0.9}, "entities": []}
    slots = {"language": "en", "language_source": "channel"}
    t = Tracker("conv", slots, latest, [{"event": "user", "text": text, "parse_data": latest,
                                         "metadata": {"language_hint": "en"}}], False, None, {}, "action_listen")
    events = await ActionReadContext().run(CollectingDispatcher(), t, {})
    got = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert got.get("language") == lang, got
