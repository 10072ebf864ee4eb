"""A second danger message in a conversation gets a shorter, escalated reply, not a copy of the
first (issue 15: the real emergency two turns later got the identical text again)."""

from __future__ import annotations

from typing import Any

import pytest

from bot import i18n
from bot.nlg import render_request


def body(name: str, lang: str, earlier: list[str], duress: bool = False) -> dict[str, Any]:
    events: list[dict[str, Any]] = [{"event": "user", "text": "x"}]
    events += [{"event": "bot", "text": "...", "metadata": {"utter_action": n}} for n in earlier]
    slots = {"language": lang, "country": "KE", "duress": duress}
    return {"response": name, "arguments": {}, "tracker": {"slots": slots, "events": events}, "channel": {"name": "sms"}}


@pytest.mark.parametrize("lang", ["en", "fr", "es", "pt", "sw"])
def test_second_danger_reply_is_shorter_and_different(haven_env, lang: str) -> None:
    first = render_request(body("utter_emergency", lang, []))["text"]
    first_follow = render_request(body("utter_danger_followup", lang, ["utter_emergency"]))["text"]
    earlier = ["utter_emergency", "utter_danger_followup", "utter_main_menu"]
    second = render_request(body("utter_emergency", lang, earlier))["text"]
    second_follow = render_request(body("utter_danger_followup", lang, earlier + ["utter_emergency"]))
    assert second != first and second_follow["text"] != first_follow
    assert second.startswith(i18n.text("utter_emergency_again", lang, **{"emergency_number": "999"}).split("999")[0])
    assert "999" in second  # the emergency number stays first
    assert len(second) < len(first)
    assert second_follow["buttons"] and second_follow["buttons"][0]["payload"] == "/request_officer"


def test_duress_still_wins(haven_env) -> None:
    reply = render_request(body("utter_emergency", "en", ["utter_emergency"], duress=True))["text"]
    assert reply == i18n.text("utter_neutral_emergency", "en", emergency_number="999", hotline_number="1195", country_name="Kenya")


def test_a_response_without_a_follow_up_form_repeats(haven_env) -> None:
    one = render_request(body("utter_iamabot", "en", []))["text"]
    assert render_request(body("utter_iamabot", "en", ["utter_iamabot"]))["text"] == one


@pytest.mark.parametrize("lang", ["en", "fr", "es", "pt", "sw"])
@pytest.mark.parametrize("name", ["utter_fallback", "utter_out_of_scope", "utter_privacy_info", "utter_disclosure_support"])
def test_said_again_in_other_words_with_the_same_options(haven_env, lang: str, name: str) -> None:
    first = render_request(body(name, lang, []))
    again = render_request(body(name, lang, [name, "utter_main_menu"]))
    assert again["text"] != first["text"]
    assert [b["payload"] for b in again["buttons"]] == [b["payload"] for b in first["buttons"]]


def test_the_same_words_under_another_name_are_not_sent_twice(haven_env) -> None:
    """The core fallback (utter_default) and the NLU fallback share their words: the second of the
    two in a row is said in other words."""
    default_text = render_request(body("utter_default", "es", []))["text"]
    b = body("utter_fallback", "es", [])
    b["tracker"]["events"].append({"event": "bot", "text": default_text, "metadata": {"utter_action": "utter_default"}})
    b["tracker"]["events"].append({"event": "user", "text": "y"})
    assert render_request(b)["text"] == i18n.text("utter_fallback_again", "es")


def test_the_core_fallback_after_the_nlu_fallback_is_not_a_copy(haven_env) -> None:
    """The other order: the NLU fallback's options, then Rasa's core fallback (utter_default, which
    has no follow-up form of its own) in the very next turn, are not the same words twice."""
    fallback_text = render_request(body("utter_fallback", "pt", []))["text"]
    b = body("utter_default", "pt", [])
    b["tracker"]["events"].append({"event": "bot", "text": fallback_text, "metadata": {"utter_action": "utter_fallback"}})
    b["tracker"]["events"].append({"event": "user", "text": "sim"})
    assert render_request(b)["text"] == i18n.text("utter_fallback_again", "pt") != fallback_text
    assert render_request(body("utter_default", "pt", []))["text"] == fallback_text  # alone: unchanged
