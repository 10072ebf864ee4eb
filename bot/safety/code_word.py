"""Her code word, and the duress word: checked at the channel edge, never seen by Rasa.

She sets a code word from the safety information ("Set a code word" button). Haven keeps only a
keyed hash of it. When she comes back after a break, Haven first asks for it (the challenge also
gives the emergency number, so nobody is left without it). Her code word: the conversation goes
on as before. Any other word (duress, or someone else holding her phone): the conversation
carries on *quietly* in neutral mode: every reply is bland, innocuous content, until her real code
word is sent again. A message the danger lexicon flags is never held back by a challenge.

The gate rewrites the message she sent into a button payload (`/code_word_saved`, ...), so the
word itself never reaches the NLU, the tracker or the logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from bot.crypto import keyed_hash
from bot.safety.lexicon import danger_match
from bot.store.db import session_scope
from bot.store.models import SafetyState, utcnow
from bot.text import normalise

SET_PAYLOAD = "/set_code_word"
ASK, SAVED, CHALLENGE, OK = "/code_word_ask", "/code_word_saved", "/code_word_challenge", "/code_word_ok"
CHALLENGE_AFTER = timedelta(hours=1)
# Her next message is the code word for a report's status or withdrawal ("s:" / "w:" + the
# reference without its dash: fits safety_states.awaiting, 8 characters).
REPORT_AWAITING = {"status": "s:", "withdraw": "w:"}


@dataclass(frozen=True)
class Outcome:
    """`rewrite`: the payload Rasa gets instead of her message (None: her message as is)."""

    rewrite: Optional[str]
    duress: bool
    report: Optional[tuple[str, str, str]] = None  # (purpose, reference, word): bot.safety.report_word


def _hash(conversation_id: str, word: str) -> str:
    from bot.settings import get_settings

    return keyed_hash(get_settings().pseudonym_key, f"code_word|{conversation_id}", normalise(word))


def check(conversation_id: str, text: Optional[str], payload: Optional[str], now: Optional[datetime] = None) -> Optional[Outcome]:
    """Apply the code-word rules to one inbound message; None when no code word is involved."""
    now = now or utcnow()
    message = payload or text or ""
    if message.strip() != SET_PAYLOAD:
        with session_scope() as session:  # the common case: no code word, no write lock taken
            if session.get(SafetyState, conversation_id) is None:
                return None
    with session_scope(immediate=True) as session:
        state = session.get(SafetyState, conversation_id)
        if message.strip() == SET_PAYLOAD:
            if state is None:
                state = SafetyState(conversation_id=conversation_id, duress=False)
                session.add(state)
            state.awaiting, state.last_seen_at = "set", now
            return Outcome(ASK, bool(state.duress))
        if state is None:
            return None
        word = normalise(text or "") if not payload else ""
        if state.awaiting and state.awaiting[:2] in REPORT_AWAITING.values():
            purpose = next(k for k, v in REPORT_AWAITING.items() if v == state.awaiting[:2])
            reference, state.awaiting = state.awaiting[2:], None
            if not word or danger_match(text or ""):  # a button, or danger: never read as the word
                return None
            return Outcome(None, bool(state.duress), (purpose, reference, (text or "").strip()))
        if state.awaiting == "set":
            state.awaiting = None
            if not word:  # she pressed a button instead: setting is abandoned
                return None
            state.code_word_hash, state.last_seen_at, state.duress = _hash(conversation_id, word), now, False
            return Outcome(SAVED, False)
        if state.code_word_hash is None:
            return None
        matches = bool(word) and _hash(conversation_id, word) == state.code_word_hash
        last_seen, state.last_seen_at = state.last_seen_at, now
        if state.awaiting == "check":
            state.awaiting, state.duress = None, not matches
            return Outcome(OK, bool(state.duress))
        if state.duress:
            if matches:
                state.duress = False
                return Outcome(OK, False)
            return Outcome(None, True)
        came_back = last_seen is None or now - last_seen >= CHALLENGE_AFTER
        if came_back and not (text and danger_match(text)):
            state.awaiting = "check"
            return Outcome(CHALLENGE, False)
        return Outcome(None, False)


def expect_report_word(conversation_id: str, purpose: str, reference: str, now: Optional[datetime] = None) -> None:
    """Her next typed message is the code word for this report (read by the gate, never by Rasa)."""
    code = reference.replace("-", "")
    if purpose not in REPORT_AWAITING or len(code) != 5 or not code.isalnum():
        raise ValueError("unknown purpose or malformed reference")
    with session_scope(immediate=True) as session:
        state = session.get(SafetyState, conversation_id)
        if state is None:
            state = SafetyState(conversation_id=conversation_id, duress=False, last_seen_at=now or utcnow())
            session.add(state)
        state.awaiting = REPORT_AWAITING[purpose] + code
