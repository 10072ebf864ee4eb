"""Listening: which question she asked (a topic read from her words), and whether the main menu
would help now. Free of Rasa; actions/listening.py asks these and answers her.

Topics (locales/<lang>/listening.yml, `topics:`): each topic is a list of alternatives, each a
list of phrases that must all occur in the message (normalised: lowercase, accents stripped, on
word boundaries). Every language's phrases are tried, so a wrong language guess cannot hide a
question. The intent decides the path; a topic lets the reply answer the question she asked
("he checks my phone", "will the police call my husband?") instead of a general text.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

import yaml

from bot.settings import ROOT, SUPPORTED_LANGUAGES
from bot.text import contains_phrase, normalise

LOCALES = ROOT / "locales"
TOPIC_ORDER = ("police_contact", "phone_checked", "disclosure")  # the most specific question first
# The menu, or a reply that already carries its options, counts as "shown".
MENU_RESPONSES = frozenset({"utter_main_menu", "utter_fallback", "utter_out_of_scope"})
MENU_WINDOW = 4  # bot messages: the menu shown among the last ones is not sent again


@lru_cache(maxsize=1)
def topic_table() -> dict[str, tuple[tuple[str, ...], ...]]:
    """topic -> alternatives (each a tuple of normalised phrases), over every language."""
    table: dict[str, list[tuple[str, ...]]] = {}
    for lang in SUPPORTED_LANGUAGES:
        path = LOCALES / lang / "listening.yml"
        if not path.exists():
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for topic, alternatives in (data.get("topics") or {}).items():
            for alternative in alternatives or []:
                phrases = [alternative] if isinstance(alternative, str) else list(alternative)
                table.setdefault(str(topic), []).append(tuple(normalise(str(p)) for p in phrases if normalise(str(p))))
    return {topic: tuple(alts) for topic, alts in table.items()}


def topics_in(text: str) -> list[str]:
    """The topics her message raises, most specific first ([] for a button payload)."""
    if not text or text.startswith("/"):
        return []
    norm = normalise(text)
    found = []
    for topic in TOPIC_ORDER:
        for alternative in topic_table().get(topic, ()):
            if alternative and all(contains_phrase(norm, [phrase]) for phrase in alternative):
                found.append(topic)
                break
    return found


def bot_responses(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The response names of the bot messages so far, oldest first."""
    return [str((e.get("metadata") or {}).get("utter_action") or "") for e in events if e.get("event") == "bot"]


def menu_helps(sent: Sequence[str]) -> bool:
    """Offer the menu unless it (or a reply carrying its options) was among the last messages."""
    return not any(name in MENU_RESPONSES for name in sent[-MENU_WINDOW:])
