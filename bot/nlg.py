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
    reply = country_texts.render(name, slots, language, channel, body.get("arguments") or {})
    reply["language"] = language  # channels word their own framing (e.g. "Reply 1, 2 or 3") in it
    return reply
