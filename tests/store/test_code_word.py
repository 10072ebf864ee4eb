"""Code word and duress: set, challenge after a break, duress on a wrong word, never the word itself."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import text

from bot.safety.code_word import ASK, CHALLENGE, CHALLENGE_AFTER, OK, SAVED, SET_PAYLOAD, check
from bot.safety.erase import erase_conversation
from bot.store.db import get_engine, session_scope
from bot.store.models import SafetyState, utcnow


def test_full_cycle(db_url: str) -> None:
    conv, word = "conv-" + secrets.token_hex(4), "mango" + secrets.token_hex(4)
    t0 = utcnow()
    assert check(conv, "hello", None, t0) is None  # no code word: nothing happens
    assert check(conv, None, SET_PAYLOAD, t0).rewrite == ASK
    assert check(conv, word.upper() + "!", None, t0).rewrite == SAVED  # normalised like every word
    assert check(conv, "where is the clinic", None, t0 + timedelta(minutes=5)).rewrite is None  # no break

    back = t0 + timedelta(minutes=5) + CHALLENGE_AFTER + timedelta(minutes=1)  # a break since the last message
    assert check(conv, "hi again", None, back).rewrite == CHALLENGE
    ok = check(conv, word, None, back)
    assert ok.rewrite == OK and ok.duress is False

    later = back + CHALLENGE_AFTER * 2
    assert check(conv, "hello", None, later).rewrite == CHALLENGE
    wrong = check(conv, "banana", None, later)
    assert wrong.rewrite == OK and wrong.duress is True  # looks the same from outside...
    assert check(conv, "show me the menu", None, later).duress is True  # ...and stays neutral
    back_to_normal = check(conv, word, None, later)
    assert back_to_normal.rewrite == OK and back_to_normal.duress is False

    with get_engine(db_url).connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM safety_states")) for v in row)
    assert word.lower() not in stored.lower()  # only a keyed hash


def test_danger_is_never_held_back_by_a_challenge(db_url: str) -> None:
    conv = "conv-" + secrets.token_hex(4)
    t0 = utcnow()
    check(conv, None, SET_PAYLOAD, t0)
    check(conv, "papaya", None, t0)
    outcome = check(conv, "he has a knife help", None, t0 + CHALLENGE_AFTER * 3)
    assert outcome.rewrite is None and outcome.duress is False


def test_a_button_instead_of_a_word_abandons_setting(db_url: str) -> None:
    conv = "conv-" + secrets.token_hex(4)
    check(conv, None, SET_PAYLOAD)
    assert check(conv, None, "/find_service") is None
    assert check(conv, "later text", None) is None  # nothing was saved


def test_erase_removes_the_code_word(db_url: str) -> None:
    conv = "conv-" + secrets.token_hex(4)
    check(conv, None, SET_PAYLOAD)
    check(conv, "kiwi", None)
    erase_conversation(conv)
    with session_scope() as s:
        assert s.get(SafetyState, conv) is None


async def test_gate_rewrites_and_flags_duress(db_url: str) -> None:
    from bot.safety.gate import Inbound, Verdict, screen

    conv = "conv-" + secrets.token_hex(4)
    result = await screen(Inbound(channel="sms", conversation_id=conv, payload=SET_PAYLOAD, text=None))
    assert result.verdict is Verdict.PASS and result.rewrite == ASK
    result = await screen(Inbound(channel="sms", conversation_id=conv, text="guava"))
    assert result.rewrite == SAVED and result.metadata == {"duress": False}
