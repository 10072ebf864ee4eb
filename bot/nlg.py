"""Rasa NLG endpoint logic: render a response name from locales/ for the conversation.

Rasa POSTs {"response", "arguments", "tracker", "channel": {"name"}} for every bot message;
we answer {"text", "buttons", "custom"} in the conversation's `language` slot, shaped by channel,
with the country's emergency and hotline numbers available to every template (bot.country_texts
picks the variant for what is known about her country).
"""

from __future__ import annotations

from typing import Any, Mapping

from bot import country_texts, i18n

COVER_RESPONSE = "utter_cover"
# Duress mode (a wrong code word): every reply is bland; the emergency number stays reachable.
NEUTRAL_FOR = {
    name: "utter_neutral_emergency"
    for name in ("utter_emergency", "utter_danger_followup", "utter_emergency_other", "utter_danger_followup_other",
                 "utter_danger_triage")
}
NEUTRAL_DEFAULT = "utter_neutral"


def render_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """Render one NLG request body to Rasa's expected reply."""
    name = str(body.get("response") or "")
    tracker = body.get("tracker") or {}
    slots = tracker.get("slots") or {}
    channel = (body.get("channel") or {}).get("name")
    language = str(slots.get("language")) if i18n.supported(slots.get("language")) else i18n.DEFAULT_LANGUAGE
    if name == COVER_RESPONSE:
        from bot.safety.gate import cover_text

        return {"text": cover_text(language), "buttons": [], "language": language}
    if slots.get("duress"):
        name = NEUTRAL_FOR.get(name, NEUTRAL_DEFAULT)
    else:
        name = repeat_variant(name, tracker, language)
    arguments = body.get("arguments") or {}
    reply = country_texts.render(name, slots, language, channel, arguments)
    if not slots.get("duress") and reply["text"] and reply["text"] == last_bot_text(tracker):
        # The same words as her last reply, under another name: said in other words where a
        # follow-up form exists (for this name, or for the one whose words it shares).
        again = next((n for n in (name, SAME_WORDS.get(name)) if n and _has_again(n, language)), None)
        if again is not None:
            reply = country_texts.render(again + AGAIN_SUFFIX, slots, language, channel, arguments)
    reply["language"] = language  # channels word their own framing (e.g. "Reply 1, 2 or 3") in it
    return reply


AGAIN_SUFFIX = "_again"
# Responses worded alike in every locale: Rasa's core fallback and the NLU fallback's options.
SAME_WORDS = {"utter_default": "utter_fallback"}


def repeat_variant(name: str, tracker: Mapping[str, Any], language: str) -> str:
    """`<name>_again` when this response was already sent in the conversation and the locales
    define a follow-up form (a second danger message gets a shorter, escalated reply, not a copy)."""
    again = name + AGAIN_SUFFIX
    if not _has_again(name, language):
        return name
    for event in tracker.get("events") or []:
        if event.get("event") == "bot" and (event.get("metadata") or {}).get("utter_action") in (name, again):
            return again
    return name


def _has_again(name: str, language: str) -> bool:
    return name + AGAIN_SUFFIX in i18n.catalog().responses.get(language, {})


def last_bot_text(tracker: Mapping[str, Any]) -> str:
    """The text of the conversation's last bot message ('' if none)."""
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "bot":
            return str(event.get("text") or "")
    return ""
