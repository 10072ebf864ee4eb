"""The safety gate: quick exit in every language and state, never on ordinary sentences; opt-out."""

from __future__ import annotations

import secrets

import pytest

from bot import i18n
from bot.safety.gate import Inbound, Verdict, carrier_keyword, is_quick_exit, screen
from bot.settings import SUPPORTED_LANGUAGES


@pytest.mark.parametrize("lang", SUPPORTED_LANGUAGES)
def test_every_quick_exit_word_matches_in_any_case_accent_punctuation(lang: str) -> None:
    for word in i18n.lexicon(lang).quick_exit:
        for variant in (word, word.upper(), f"  {word.title()}!! ", f"{word}."):
            assert is_quick_exit(variant), (lang, variant)


@pytest.mark.parametrize("text", ["##", "/exit", "/exit@HelpBot", "EXIT", "Exit.", "salir", "SORTIR", "sair!", "Toka"])
def test_known_words(text: str) -> None:
    assert is_quick_exit(text)


@pytest.mark.parametrize(
    "text",
    [
        "I want to exit this relationship",
        "how do i exit the house safely",
        "quiero salir de esta relación",
        "je veux sortir de chez moi",
        "quero sair de casa",
        "nataka kutoka kwa hii ndoa",
        "exit?? what does that do",
        "stop", "STOP", "cancel", "end", "quit", "unsubscribe", "stopall",
        "", "   ", "#", "###x",
    ],
)
def test_ordinary_sentences_and_carrier_words_are_not_quick_exit(text: str) -> None:
    assert not is_quick_exit(text)


def test_carrier_keywords() -> None:
    assert carrier_keyword("STOP") == "out" and carrier_keyword(" Unsubscribe ") == "out"
    assert carrier_keyword("start") == "in"
    assert carrier_keyword("stop hitting me") is None


async def test_quick_exit_erases_and_replies_with_cover(db_url: str) -> None:
    from bot.crypto import get_or_create_cipher, load_cipher
    from bot.store.db import session_scope

    conv = "conv-" + secrets.token_hex(4)
    with session_scope() as s:
        get_or_create_cipher(s, conv)
    result = await screen(Inbound(channel="sms", conversation_id=conv, text="##"))
    assert result.verdict is Verdict.QUICK_EXIT
    assert result.reply and "haven" not in result.reply.lower()
    with session_scope() as s:
        assert load_cipher(s, conv) is None


async def test_sms_opt_out_then_back_in(db_url: str) -> None:
    conv = "conv-" + secrets.token_hex(4)
    assert (await screen(Inbound(channel="sms", conversation_id=conv, text="STOP"))).verdict is Verdict.OPTED_OUT
    from bot.safety.optout import is_opted_out

    assert is_opted_out(conv)
    assert (await screen(Inbound(channel="sms", conversation_id=conv, text="START"))).verdict is Verdict.PASS
    assert not is_opted_out(conv)


async def test_stop_is_an_ordinary_word_outside_sms(db_url: str) -> None:
    conv = "conv-" + secrets.token_hex(4)
    result = await screen(Inbound(channel="telegram", conversation_id=conv, text="stop"))
    assert result.verdict is Verdict.PASS
