"""The /nlg endpoint renders by language slot and channel, fills country numbers, and errors clearly."""

from __future__ import annotations

import pytest

from bot.nlg import render_request


def body(response: str, language: str | None = "en", country: str | None = None, channel: str = "rest", **args):
    return {
        "response": response,
        "arguments": args,
        "tracker": {"slots": {"language": language, "country": country}},
        "channel": {"name": channel},
    }


def test_emergency_number_comes_from_the_conversation_country(haven_env) -> None:
    assert render_request(body("utter_emergency", country="PE"))["text"].startswith("Call 105")
    assert render_request(body("utter_emergency", country="ES"))["text"].startswith("Call 112")


def test_unknown_country_uses_the_deployment_default(haven_env, monkeypatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("HAVEN_DEFAULT_COUNTRY", "BR")
    get_settings.cache_clear()
    assert render_request(body("utter_emergency", country=None))["text"].startswith("Call 190")


def test_missing_hotline_is_never_presented_as_a_support_line(haven_env) -> None:
    text = render_request(body("utter_hotlines", country="AO"))["text"]  # Angola: no verified line
    assert "emergency 113" in text and "support line 113" not in text and "confidential" not in text


@pytest.mark.parametrize("lang", ["fr", "es", "pt", "sw"])
def test_renders_in_the_language_slot(haven_env, lang: str) -> None:
    en = render_request(body("utter_main_menu", "en"))
    other = render_request(body("utter_main_menu", lang))
    assert other["text"] != en["text"]
    assert [b["payload"] for b in other["buttons"]] == [b["payload"] for b in en["buttons"]]


def test_unsupported_language_falls_back_to_english(haven_env) -> None:
    assert render_request(body("utter_main_menu", "de")) == render_request(body("utter_main_menu", "en"))


def test_channel_variant(haven_env) -> None:
    sms = render_request(body("utter_delete_chat", channel="sms"))["text"]
    tg = render_request(body("utter_delete_chat", channel="telegram"))["text"]
    rest = render_request(body("utter_delete_chat", channel="rest"))["text"]
    assert "SMS" in sms and "48 hours" in tg and sms != rest != tg


def test_cover_text_is_configurable_and_may_be_empty(haven_env, monkeypatch) -> None:
    from bot.settings import get_settings

    assert render_request(body("utter_cover"))["text"]
    monkeypatch.setenv("HAVEN_COVER_TEXT", "")
    get_settings.cache_clear()
    assert render_request(body("utter_cover"))["text"] == ""


async def test_nlg_route_through_the_action_server_app(haven_env) -> None:
    from bot.action_server import create_app

    from tests.asgi import asgi_client

    from bot.settings import ACTION_SECRET_HEADER, get_settings

    async with asgi_client(create_app()) as client:
        client.headers[ACTION_SECRET_HEADER] = get_settings().action_secret  # as Rasa sends it (endpoints.yml)
        resp = await client.post("/nlg", json=body("utter_emergency", country="KE"))
        assert resp.status_code == 200 and resp.json()["text"].startswith("Call 999")
        resp = await client.post("/nlg", json={"nothing": True})
        assert resp.status_code == 400
        resp = await client.post("/nlg", json=body("utter_does_not_exist"))
        assert resp.status_code == 404


def test_duress_renders_only_neutral_content_but_keeps_the_emergency_number(haven_env) -> None:
    def duress(name: str) -> dict:
        b = body(name, "fr", country="SN")
        b["tracker"]["slots"]["duress"] = True
        return render_request(b)

    neutral = render_request(body("utter_neutral", "fr"))["text"]
    for name in ("utter_main_menu", "utter_safety_plan", "utter_disclosure_support", "utter_code_word_ok"):
        reply = duress(name)
        assert reply["text"] == neutral and reply["buttons"] == []
    assert "17" in duress("utter_emergency")["text"]  # Senegal's emergency number, neutrally worded
    for name in ("utter_emergency_other", "utter_danger_triage"):  # danger paths keep the number too
        assert "17" in duress(name)["text"]


@pytest.mark.parametrize("channel", ["rest", "sms", "telegram"])
def test_in_process_nlg_renders_what_the_callback_renders(haven_env, channel: str) -> None:
    """The same reply as Rasa's callback request to /nlg, for a conversation with earlier replies
    (so the `_again` variant and the no-repeat rule are exercised), in another language."""
    import asyncio

    from rasa.core.nlg.callback import nlg_request_format
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_adapters.nlg import InProcessNLG

    domain = Domain.load("domain")
    nlg = InProcessNLG(None, domain)
    first = render_request(body("utter_emergency", "sw", "KE", channel))
    events = [SlotSet("language", "sw"), SlotSet("country", "KE"), UserUttered("x", {"name": "immediate_danger"}),
              ActionExecuted("utter_emergency"), BotUttered(first["text"], metadata={"utter_action": "utter_emergency"})]
    tracker = DialogueStateTracker.from_events("nlg-test", events, domain.slots)
    for name in ("utter_emergency", "utter_main_menu", "utter_safe_check"):
        expected = render_request(nlg_request_format(name, tracker, channel))
        got = asyncio.run(nlg.generate(name, tracker, channel, domain_responses=domain.responses))
        assert got == expected
    again = asyncio.run(nlg.generate("utter_emergency", tracker, channel))
    assert again and again["text"] != first["text"]  # a second danger reply is the escalated form, not a copy


@pytest.mark.parametrize("lang", ["en", "fr", "es", "pt", "sw"])
def test_a_second_triage_question_is_worded_anew_with_the_number_first(haven_env, lang: str) -> None:
    """Two unsure messages in a row must not get the same triage text twice (found by the e2e test)."""
    first = render_request(body("utter_danger_triage", lang, "KE"))
    again_body = body("utter_danger_triage", lang, "KE")
    again_body["tracker"]["events"] = [{"event": "bot", "text": first["text"], "metadata": {"utter_action": "utter_danger_triage"}}]
    again = render_request(again_body)
    assert again["text"] != first["text"] and "999" in again["text"][:60]
    assert [b["payload"] for b in again["buttons"]] == [b["payload"] for b in first["buttons"]]
