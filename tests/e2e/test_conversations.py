"""Whole conversations through signed provider webhooks (issue 15, "Proof").

Plays every conversation of tests/e2e/conversations.yml (5 languages, 3 channels, several
countries) and checks, over every reply the fake provider received:
  - language: every reply with 20+ letters is detected (lingua) as the conversation's language;
  - numbers: no emergency/hotline number of another country than hers;
  - repetition: no bot message sent twice word for word in a row;
  - answered: every turn got at least one reply.
It prints its figures and fails on any finding (each one is listed).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml

from tests.channels.conftest import PUBLIC_URL, SMS_FROM, TELEGRAM_SECRET, TWILIO_SID, TWILIO_TOKEN, WHATSAPP_FROM

pytestmark = pytest.mark.slow
CONVERSATIONS = Path(__file__).with_name("conversations.yml")
MIN_LETTERS = 20
QUIET_S = 2.5  # a turn is over when no new reply came for this long


def load_conversations() -> list[dict[str, Any]]:
    return list(yaml.safe_load(CONVERSATIONS.read_text(encoding="utf-8"))["conversations"])


def country_numbers() -> dict[str, set[str]]:
    """Each country's emergency and hotline numbers, digits only."""
    from bot import countries

    out: dict[str, set[str]] = {}
    for code in countries.codes():
        entry = countries.get(code) or {}
        out[code] = {re.sub(r"\D", "", str(v)) for v in (entry.get("emergency"), entry.get("gbv_hotline")) if v}
    return out


# A number as a word: not part of a longer number, a time (17:30), a decimal or a distance (100 km).
_NUMBER = re.compile(r"(?<![\d:.,+])(\d[\d -]*\d|\d)(?![\d:]|[.,]\d|\s?km|\s?m\b)")


def foreign_numbers(text: str, country: str, table: dict[str, set[str]]) -> list[str]:
    """Numbers in `text` that belong to another country and not to hers."""
    hers = table.get(country, set())
    others = set().union(*(nums for code, nums in table.items() if code != country)) - hers
    found = []
    for match in _NUMBER.finditer(text):
        digits = re.sub(r"\D", "", match.group(1))
        if digits in others:
            found.append(digits)
    return found


@dataclass
class Figures:
    conversations: int = 0
    turns: int = 0
    replies: int = 0
    language_checked: int = 0
    findings: dict[str, list[str]] = field(default_factory=lambda: {
        "language": [], "foreign_number": [], "repeated": [], "unanswered": []})

    def report(self) -> str:
        counts = ", ".join(f"{k}={len(v)}" for k, v in self.findings.items())
        return (f"conversations={self.conversations} turns={self.turns} replies={self.replies} "
                f"language_checked={self.language_checked} findings: {counts}")


class Player:
    """Sends one conversation's turns as the provider would and collects what it receives."""

    def __init__(self, stack: Any, conversation: dict[str, Any]) -> None:
        self.stack, self.conv = stack, conversation
        self.channel = conversation["channel"]
        if self.channel == "telegram":
            self.address = "7" + "".join(secrets.choice("0123456789") for _ in range(11))
            self.recipient = self.address
        else:
            self.address = "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))
            self.recipient = ("whatsapp:" if self.channel == "whatsapp" else "") + self.address

    def _post(self, text: str) -> httpx.Response:
        stack = self.stack
        if self.channel == "telegram":
            return stack.telegram(int(self.address), text, self.conv["lang"])
        from twilio.request_validator import RequestValidator

        prefix = "whatsapp:" if self.channel == "whatsapp" else ""
        form = {
            "MessageSid": "SM" + secrets.token_hex(16), "AccountSid": TWILIO_SID, "From": prefix + self.address,
            "To": prefix + (WHATSAPP_FROM if self.channel == "whatsapp" else SMS_FROM), "Body": text,
            "NumMedia": "0", "FromCountry": self.conv["country"],
        }
        path = f"/webhooks/{self.channel}/webhook"
        headers = {"content-type": "application/x-www-form-urlencoded",
                   "x-twilio-signature": RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, form)}
        return httpx.post(stack.rasa_url + path, content=urlencode(form).encode(), headers=headers, timeout=30)

    def turn(self, text: str) -> list[str]:
        """One inbound message; the texts of every provider call it caused."""
        after = self.stack.last_seq()
        resp = self._post(text)
        assert resp.status_code == 200, resp.status_code
        calls = self.stack.replies_to(self.recipient, after, count=1, timeout=40)
        while calls:
            more = self.stack.replies_to(self.recipient, after, count=len(calls) + 1, timeout=QUIET_S)
            if len(more) <= len(calls):
                break
            calls = more
        return [_text(c) for c in calls if _text(c)]


def _text(call: dict[str, Any]) -> str:
    form = call.get("form") or {}
    return str(form.get("Body") or form.get("text") or "")


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def check(figures: Figures, conv: dict[str, Any], turns: list[tuple[str, list[str]]], table: dict[str, set[str]]) -> None:
    """Apply the four checks to one played conversation."""
    from bot import i18n

    cid, lang = conv["id"], conv["lang"]
    country = conv["country"] if conv["channel"] != "telegram" else "KE"
    previous = None
    for n, (_, replies) in enumerate(turns, 1):
        figures.turns += 1
        if not replies:
            figures.findings["unanswered"].append(f"{cid} turn {n}")
        for reply in replies:
            figures.replies += 1
            if _letters(reply) >= MIN_LETTERS:
                figures.language_checked += 1
                guess = i18n.detect_language(reply).best_guess
                if guess != lang:
                    figures.findings["language"].append(f"{cid} turn {n}: {guess} {reply[:60]!r}")
            for number in foreign_numbers(reply, country, table):
                figures.findings["foreign_number"].append(f"{cid} turn {n}: {number}")
            if reply == previous:
                figures.findings["repeated"].append(f"{cid} turn {n}: {reply[:60]!r}")
            previous = reply


def test_foreign_number_check_can_fail() -> None:
    """The number check itself: another country's line is found, hers, times and distances are not."""
    table = {"KE": {"999", "1195"}, "PE": {"105", "100"}, "SN": {"17"}}
    assert foreign_numbers("Call 1195 or 999 now", "PE", table) == ["1195", "999"]
    assert foreign_numbers("Llama al 105, o al 100", "PE", table) == []
    assert foreign_numbers("open 08:00-17:00, 100 km away, number 1", "KE", table) == []


def test_conversations_in_her_language_with_her_numbers(stack) -> None:
    conversations = load_conversations()
    assert len(conversations) >= 20
    assert {c["lang"] for c in conversations} == {"en", "fr", "es", "pt", "sw"}
    assert {c["channel"] for c in conversations} == {"sms", "whatsapp", "telegram"}
    table = country_numbers()
    figures = Figures()
    transcript: list[dict[str, Any]] = []
    for conv in conversations:
        player = Player(stack, conv)
        played = [(text, player.turn(text)) for text in conv["turns"]]
        figures.conversations += 1
        check(figures, conv, played, table)
        transcript.append({"id": conv["id"], "turns": [{"in": t, "out": r} for t, r in played]})
        time.sleep(0.2)
    if os.environ.get("HAVEN_TEST_TRANSCRIPT"):  # to read the invented conversations back
        Path(os.environ["HAVEN_TEST_TRANSCRIPT"]).write_text(json.dumps(transcript, ensure_ascii=False, indent=1), encoding="utf-8")
    print("\n" + figures.report())
    for kind, items in figures.findings.items():
        for item in items:
            print(f"  {kind}: {item}")
    assert not any(figures.findings.values()), figures.report()
