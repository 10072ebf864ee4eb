"""The safety gate: runs at the channel edge on every inbound message, before any NLU.

Order: quick exit (erase + cover text) -> SMS carrier opt-out/opt-in -> code word / duress
(bot/safety/code_word.py) -> active handoff (message goes to the officer, not to Rasa; the danger
decision still runs on it: bot/safety/live_danger.py) -> Rasa. Matching never depends on a
model or on a language guess: quick-exit words of every language are recognised everywhere.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Optional

from bot import i18n
from bot.handoff.relay import relay_inbound_if_active
from bot.text import normalise

log = logging.getLogger("haven.safety.gate")

from bot.gate_words import CARRIER_OPT_IN, UNIVERSAL_EXIT
from bot.gate_words import CARRIER_WORDS as CARRIER_OPT_OUT
DEFAULT_COVER_TEXT = "Thanks, your settings are saved."


class Verdict(enum.Enum):
    PASS = "pass"  # hand the message to Rasa
    QUICK_EXIT = "quick_exit"  # erased; send `reply` (may be empty) and stop
    OPTED_OUT = "opted_out"  # carrier opt-out: send nothing
    HANDOFF = "handoff"  # delivered to the officer's transcript; not to Rasa


@dataclass
class Inbound:
    """One normalised inbound message (the channels build it; nothing here is logged)."""

    channel: str
    conversation_id: str
    text: Optional[str] = None
    payload: Optional[str] = None
    location: Optional[tuple[float, float]] = None
    language_hint: Optional[str] = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class GateResult:
    """What to do; on PASS, `rewrite` (if set) replaces her message for Rasa and `metadata` is
    added to the message's metadata."""

    verdict: Verdict
    reply: Optional[str] = None
    telegram_message_ids: list[int] = field(default_factory=list)
    rewrite: Optional[str] = None
    metadata: dict[str, Any] = field(default_factory=dict)


def is_quick_exit(text: Optional[str]) -> bool:
    """The whole message is a quick-exit word of any language (case/accent/punctuation-insensitive)."""
    if not text:
        return False
    raw = text.strip().lower()
    if raw in UNIVERSAL_EXIT or raw.split("@", 1)[0] == "/exit":  # '/exit@SomeBot' in groups
        return True
    norm = normalise(text)
    if not norm or norm in CARRIER_OPT_OUT:
        return False
    return norm in UNIVERSAL_EXIT or norm in i18n.all_quick_exit_words()


def carrier_keyword(text: Optional[str]) -> Optional[str]:
    """'out' for an SMS carrier opt-out word, 'in' for an opt-in word, else None."""
    norm = normalise(text or "")
    if norm in CARRIER_OPT_OUT:
        return "out"
    if norm in CARRIER_OPT_IN:
        return "in"
    return None


def cover_text(language: Optional[str] = None) -> str:
    """The quick-exit reply in her language: the deployment's text for that language, else its
    text for all languages, else the neutral locale text (utter_cover). Empty: send nothing."""
    from bot.settings import get_settings

    settings = get_settings()
    lang = str(language) if language and i18n.supported(language) else i18n.DEFAULT_LANGUAGE
    if lang in settings.cover_texts:
        return settings.cover_texts[lang]
    if settings.cover_text is not None:
        return settings.cover_text
    try:
        return i18n.text("utter_cover", lang) or DEFAULT_COVER_TEXT
    except i18n.LocaleError:
        return DEFAULT_COVER_TEXT


def _handoff_relay() -> Any:
    """The handoff relay (a seam for tests); bot.handoff is imported at the top of this module
    so that its erase listener is subscribed before the first quick exit of the process."""
    return relay_inbound_if_active


async def _live_danger(inbound: Inbound) -> None:
    """Danger in a live officer chat: flag it, and the emergency number if no officer answers."""
    from bot.safety.live_danger import on_live_message

    try:
        await on_live_message(inbound)
    except Exception as exc:  # noqa: BLE001 - her message is already with the officer; never lose it
        log.warning("live-chat danger check failed (%s)", type(exc).__name__)


async def screen(inbound: Inbound) -> GateResult:
    """Decide what happens to an inbound message before Rasa sees it."""
    from bot.safety.erase import erase_conversation
    from bot.safety.optout import set_opted_out, is_opted_out

    message = inbound.payload if inbound.payload and inbound.payload.startswith("/exit") else inbound.text
    if is_quick_exit(message) or inbound.payload == "/quick_exit":
        report = await asyncio.to_thread(erase_conversation, inbound.conversation_id)
        language = inbound.metadata.get("language") or inbound.language_hint
        return GateResult(Verdict.QUICK_EXIT, cover_text(language), report.telegram_message_ids)

    if inbound.channel == "sms":
        keyword = carrier_keyword(inbound.text)
        if keyword == "out":
            await asyncio.to_thread(set_opted_out, inbound.conversation_id, True)
            log.info("sms contact opted out")
            return GateResult(Verdict.OPTED_OUT)
        if await asyncio.to_thread(is_opted_out, inbound.conversation_id):
            # START, or any new message where the carrier let it through, re-enables replies.
            await asyncio.to_thread(set_opted_out, inbound.conversation_id, False)
            log.info("sms contact opted back in")

    from bot.safety import code_word

    outcome = await asyncio.to_thread(code_word.check, inbound.conversation_id, inbound.text, inbound.payload)
    metadata = {"duress": outcome.duress} if outcome is not None else {}
    if outcome is not None and outcome.report is not None:  # her code word for a report
        from bot.safety.report_word import answer

        verdict = await asyncio.to_thread(answer, inbound.conversation_id, *outcome.report)
        return GateResult(Verdict.PASS, rewrite=verdict, metadata=metadata)
    if outcome is not None and outcome.rewrite:
        return GateResult(Verdict.PASS, rewrite=outcome.rewrite, metadata=metadata)

    relay = _handoff_relay()
    if relay is not None and await relay(inbound):
        await _live_danger(inbound)
        return GateResult(Verdict.HANDOFF)
    return GateResult(Verdict.PASS, metadata=metadata)
