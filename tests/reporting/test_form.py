"""The report form's validation (validate_report_form): answers, skips in every language, several
incident types, contact choices, and what interrupts it (danger, quick exit, stop, a person,
a language change, no consent). Tracker.from_dict + CollectingDispatcher; no model, no database."""

from __future__ import annotations

from typing import Any

import pytest

from actions import reporting as form
from actions import reporting_answers as answers
from actions import reporting_case as case_actions
from actions import reporting_health as health
from tests.reporting.formkit import form_tracker, run

V = form.ValidateReportForm()


@pytest.mark.parametrize("lang,word", [("en", "skip"), ("fr", "passer"), ("es", "Saltar"), ("pt", "pular"),
                                       ("sw", "ruka"), ("sw", "Ruka swali")])
async def test_a_typed_skip_in_her_language_skips_the_question(lang: str, word: str) -> None:
    slots, sent, _ = await run(V, form_tracker("report_when", word, intent="nlu_fallback", language=lang))
    assert slots["report_when"] == answers.SKIP and sent == []


@pytest.mark.parametrize("slot", form.FORM_SLOTS)
async def test_the_skip_button_skips_every_question(slot: str) -> None:
    slots, _, _ = await run(V, form_tracker(slot, "/report_skip", intent="report_skip"))
    expected = {"report_contact": {"mode": "chat"}, "report_identity": "anonymous"}.get(slot, answers.SKIP)
    assert slots[slot] == expected


async def test_buttons_and_numbers_answer_category_questions() -> None:
    slots, _, _ = await run(V, form_tracker("report_when", "/report_choice", choice="this_month"))
    assert slots["report_when"] == "this_month"
    slots, _, _ = await run(V, form_tracker("report_relationship", "2", intent="nlu_fallback", language="fr"))
    assert slots["report_relationship"] == "former_partner"
    slots, _, _ = await run(V, form_tracker("report_safe", "ndiyo", intent="affirm", language="sw"))
    assert slots["report_safe"] == "yes"


async def test_an_answer_that_is_no_option_asks_again() -> None:
    slots, sent, _ = await run(V, form_tracker("report_when", "purple", intent="nlu_fallback", language="es"))
    assert slots["report_when"] is None and sent == ["utter_report_invalid"]


async def test_several_incident_types_one_tap_at_a_time_then_done() -> None:
    slots, sent, _ = await run(V, form_tracker("report_types", "/report_choice", choice="rape"))
    assert slots["report_types"] is None and slots["report_types_acc"] == ["rape"] and sent == []
    slots, _, _ = await run(V, form_tracker("report_types", "/report_choice", choice="online", report_types_acc=["rape"]))
    assert slots["report_types_acc"] == ["rape", "online"] and slots["report_types"] is None
    slots, _, _ = await run(V, form_tracker("report_types", "/report_choice", choice="done", report_types_acc=["rape", "online"]))
    assert slots["report_types"] == ["rape", "online"] and slots["report_types_acc"] is None
    # online abuse is psychological abuse, FGM physical assault (GBVIMS); no repeats
    assert answers.incident_types(["rape", "online", "fgm", "physical_assault"]) == [
        "rape", "psychological_abuse", "physical_assault"]


async def test_numbers_pick_several_types_in_one_sms() -> None:
    slots, _, _ = await run(V, form_tracker("report_types", "3 and 6", intent="nlu_fallback", channel="sms"))
    assert slots["report_types"] == ["physical_assault", "psychological_abuse"]


async def test_done_without_any_type_is_a_skip() -> None:
    slots, _, _ = await run(V, form_tracker("report_types", "/report_choice", choice="done"))
    assert slots["report_types"] == answers.SKIP


async def test_the_question_after_some_taps_lists_them_in_her_language() -> None:
    _, sent, messages = await run(form.ActionAskReportTypes(), form_tracker("report_types", "x", language="pt",
                                                                            report_types_acc=["fgm"]))
    assert sent == ["utter_ask_report_types_more"] and messages[0]["chosen"] == "corte genital (MGF)"


@pytest.mark.parametrize("lang,text,intent", [("en", "he has a knife", "nlu_fallback"),
                                              ("sw", "anakuja sasa hivi", "immediate_danger")])
async def test_danger_mid_form_gets_the_emergency_texts_then_the_same_question(lang: str, text: str, intent: str) -> None:
    slots, sent, _ = await run(V, form_tracker("report_place", text, intent=intent, language=lang))
    assert sent == ["utter_emergency", "utter_danger_followup", "utter_report_resume"]
    assert slots == {"report_place": None}  # the form asks the place again; nothing else changes


async def test_not_safe_now_gets_the_danger_path_first_and_the_form_goes_on() -> None:
    slots, sent, _ = await run(V, form_tracker("report_safe", "/report_choice", choice="no", language="fr"))
    assert slots["report_safe"] == "no"
    assert sent == ["utter_emergency", "utter_danger_followup", "utter_report_resume"]


@pytest.mark.parametrize("intent,stage", [("stop_report", "stopped"), ("request_officer", "handoff")])
async def test_stop_or_a_person_end_the_form_and_clear_the_draft(intent: str, stage: str) -> None:
    t = form_tracker("report_statement", "whatever", intent=intent, report_types=["rape"], report_when="today",
                     report_identity="Amina")
    slots, sent, _ = await run(V, t)
    assert slots["requested_slot"] is None and slots["report_stage"] == stage and sent == []
    assert all(slots[s] is None for s in form.FORM_SLOTS)


def test_a_phrased_quick_exit_is_never_an_answer() -> None:
    from tests.reporting.formkit import DOMAIN

    for slot in form.FORM_SLOTS:
        mappings = DOMAIN["slots"][slot]["mappings"]
        assert mappings and all("quick_exit" in m.get("not_intent", []) for m in mappings), slot


async def test_the_quick_exit_action_ends_the_form_so_no_question_follows_the_cover_text() -> None:
    from actions.safety import ActionQuickExit

    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = await ActionQuickExit().run(dispatcher, form_tracker("report_when", "x", intent="quick_exit"), {})
    assert events == [{"event": "active_loop", "name": None, "timestamp": None}]
    assert [m["response"] for m in dispatcher.messages] == ["utter_cover"]
    outside = await ActionQuickExit().run(CollectingDispatcher(), form_tracker(None, "x", intent="quick_exit"), {})
    assert outside == []


async def test_after_the_form_a_person_asked_for_comes_next() -> None:
    from rasa_sdk.executor import CollectingDispatcher

    t = form_tracker(None, "x", report_stage="handoff", report_statement="kept?")
    dispatcher = CollectingDispatcher()
    events = await case_actions.ActionReportAfterForm().run(dispatcher, t, {})
    assert events[-1] == {"event": "followup", "name": "action_request_officer", "timestamp": None}
    assert {"event": "slot", "name": "report_statement", "value": None, "timestamp": None} in events


async def test_a_language_change_mid_form_asks_the_same_question_in_the_new_language() -> None:
    t = form_tracker("report_when", "/choose_language", intent="choose_language",
                     entities=[{"entity": "language", "value": "pt"}], language="pt")
    slots, sent, _ = await run(V, t)
    assert slots == {"report_when": None} and sent == ["utter_language_changed"]


async def test_the_form_never_runs_without_her_consent() -> None:
    slots, _, _ = await run(V, form_tracker("report_when", "/report_choice", choice="today", report_consent=None))
    assert slots["requested_slot"] is None and slots["report_stage"] == "stopped" and slots["report_when"] is None


async def test_contact_at_a_safe_time_takes_the_time_next() -> None:
    slots, _, _ = await run(V, form_tracker("report_contact", "/report_choice", choice="safe_time"))
    assert slots["report_contact"] is None and slots["report_contact_wait"] == "safe_time"
    _, sent, _ = await run(form.ActionAskReportContact(), form_tracker("report_contact", "x", report_contact_wait="safe_time"))
    assert sent == ["utter_ask_report_contact_time"]
    slots, _, _ = await run(V, form_tracker("report_contact", "after six in the evening", intent="nlu_fallback",
                                            report_contact_wait="safe_time"))
    assert slots["report_contact"] == {"mode": "safe_time", "safe_time": "after six in the evening"}


async def test_another_number_is_never_a_call_unless_she_chose_that() -> None:
    number = "+1 555 0100 4455"
    for choice, call_ok in (("other_number", False), ("other_number_call", True)):
        slots, _, _ = await run(V, form_tracker("report_contact", number, intent="nlu_fallback", report_contact_wait=choice))
        assert slots["report_contact"] == {"mode": "other_number", "number": number, "call_ok": call_ok}
    slots, sent, _ = await run(V, form_tracker("report_contact", "not a number", intent="nlu_fallback",
                                               report_contact_wait="other_number"))
    assert slots["report_contact"] is None and sent == ["utter_report_invalid"]


async def test_identity_a_name_or_anonymous() -> None:
    slots, _, _ = await run(V, form_tracker("report_identity", "Wanjiru", intent="nlu_fallback"))
    assert slots["report_identity"] == "Wanjiru"
    slots, _, _ = await run(V, form_tracker("report_identity", "/report_choice", choice="anonymous"))
    assert slots["report_identity"] == "anonymous"
    draft = answers.draft_from_slots({"report_identity": "anonymous"})
    assert draft["anonymous"] is True and draft["name"] is None


async def test_a_very_long_statement_is_kept_to_the_limit_and_she_is_told() -> None:
    slots, sent, _ = await run(V, form_tracker("report_statement", "a" * 5000, intent="nlu_fallback"))
    assert len(slots["report_statement"]) == form.MAX_STATEMENT and sent == ["utter_report_statement_trimmed"]


async def test_a_pin_is_the_place_rounded() -> None:
    t = form_tracker("report_place", "/inform_location", intent="inform_location",
                     metadata={"location": {"lat": -1.286389, "lon": 36.817223}})
    slots, _, _ = await run(V, t)
    assert slots["report_place"] == {"lat": -1.286, "lon": 36.817, "country": "KE"}


async def test_a_typed_place_goes_through_the_gazetteer(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, Any, str]] = []

    def fake(text: str, country: Any, language: str) -> dict[str, Any]:
        seen.append((text, country, language))
        return {"name": "Nakuru", "lat": -0.3, "lon": 36.07, "region": "Nakuru", "country": "KE"}

    monkeypatch.setattr(form, "find_place", fake)
    slots, _, _ = await run(V, form_tracker("report_place", "in nakuru", intent="inform_location", language="sw"))
    assert seen == [("in nakuru", "KE", "sw")] and slots["report_place"]["region"] == "Nakuru"


@pytest.mark.parametrize("types,when,urgent", [(["rape"], "today", True), (["sexual_assault"], "this_week", True),
                                               (["rape"], "longer_ago", False), (["physical_assault"], "today", False),
                                               (answers.SKIP, "today", False)])
async def test_the_72_hour_window_is_said_plainly_only_when_it_may_be_open(types: Any, when: str, urgent: bool) -> None:
    t = form_tracker("report_doctor", "x", report_types=types, report_when=when)
    _, sent, _ = await run(form.ActionAskReportDoctor(), t)
    assert sent == (["utter_report_doctor_urgent"] if urgent else []) + ["utter_ask_report_doctor"]


async def test_wanting_a_doctor_shows_the_nearest_health_service_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.directory import finder

    turns: list[finder.Turn] = []

    def fake(turn: finder.Turn) -> finder.Reply:
        turns.append(turn)
        reply = finder.Reply()
        reply.messages.append({"response": "utter_services_results", "place": "Kibera", "results": "1. Clinic"})
        return reply

    monkeypatch.setattr(health, "_find", fake)
    t = form_tracker("report_doctor", "/report_choice", choice="yes",
                     report_place={"name": "Kibera", "lat": -1.31, "lon": 36.79, "country": "KE"})
    slots, sent, _ = await run(V, t)
    assert slots["report_doctor"] == "yes" and sent == ["utter_services_results", "utter_report_resume"]
    assert turns[0].pin == (-1.31, 36.79) and turns[0].entities == [{"entity": "service_type", "value": "hospital"}]
    # without a place with coordinates: she is told she will be offered one after the form
    slots, sent, _ = await run(V, form_tracker("report_doctor", "/report_choice", choice="yes", report_place=answers.SKIP))
    assert sent == ["utter_report_doctor_later"]


async def test_the_summary_lists_her_answers_without_repeating_her_words() -> None:
    slots = {"report_types": ["rape", "online"], "report_when": "today", "report_place": {"name": "Kisumu"},
             "report_safe": "yes", "report_doctor": answers.SKIP, "report_relationship": "partner",
             "report_identity": "anonymous", "report_contact": {"mode": "other_number", "number": "+15550100", "call_ok": True},
             "report_statement": "MARKER-STATEMENT-1234"}
    text = case_actions.summary_lines(slots, "es")
    assert "sexo forzado, en línea (mensajes, fotos, rastreo)" in text and "Kisumu" in text
    assert "otro número, pueden llamar" in text and "MARKER-STATEMENT" not in text and "incluido" in text
    assert "saltada" in text  # the skipped doctor question


async def test_danger_words_in_her_own_words_get_the_emergency_texts_and_are_kept() -> None:
    text = "last month he held a knife to my throat and said he will kill me"
    slots, sent, _ = await run(V, form_tracker("report_statement", text, intent="immediate_danger", language="en"))
    assert sent == ["utter_emergency", "utter_danger_followup"]
    assert slots["report_statement"] == text  # kept: asking again would loop on the same words


def test_every_report_action_in_the_domain_is_implemented_and_named_once() -> None:
    import inspect

    from rasa_sdk import Action

    from actions import reporting_status
    from tests.reporting.formkit import DOMAIN

    names = [cls().name() for mod in (form, case_actions, reporting_status) for _, cls in inspect.getmembers(mod, inspect.isclass)
             if issubclass(cls, Action) and cls.__module__ == mod.__name__]
    assert sorted(names) == sorted(DOMAIN["actions"])


@pytest.mark.parametrize("lang", ["en", "fr", "es", "pt", "sw"])
def test_every_report_text_renders_through_nlg_without_a_hole(lang: str) -> None:
    from bot import i18n, nlg
    from tests.reporting.formkit import DOMAIN

    args = {"reference": "HT-3WP", "desk": "Central desk", "unit": "Gender Desk", "count": 3, "chosen": "x", "summary": "y"}
    for name in DOMAIN["responses"]:
        for channel in ("sms", "whatsapp", "telegram"):
            body = {"response": name, "arguments": args, "tracker": {"slots": {"language": lang, "country": "KE"}},
                    "channel": {"name": channel}}
            reply = nlg.render_request(body)
            assert reply["text"] and "{" not in reply["text"] and reply["language"] == lang, (name, channel)
    assert i18n.text("report_desk_general", lang) != i18n.text("report_desk_general", "xx" if lang != "en" else "fr")


async def test_a_yes_without_the_explanation_gets_the_explanation_and_no_question(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_actions, "desk_preview", lambda country: None)
    monkeypatch.setattr(case_actions, "has_code_word", lambda conversation_id: True)
    # e.g. a typed "yes" after "you already sent one from this chat": no explanation was given
    slots, sent, messages = await run(case_actions.ActionReportConsent(),
                                      form_tracker(None, "yes", intent="affirm", report_stage=None, report_consent=None))
    assert sent == ["utter_report_intro", "utter_report_consent"] and slots["report_stage"] == "consent"
    assert "report_consent" not in slots or slots["report_consent"] is None
    assert messages[0]["desk"] == "the gender desk or one-stop centre for your area"
    # the form activated by the rule ends before its first question...
    from rasa_sdk.executor import CollectingDispatcher

    events = await form.ActionAskReportTypes().run(CollectingDispatcher(), form_tracker("report_types", "x", report_consent=None), {})
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    # ...and nothing else is said after it
    _, sent, _ = await run(case_actions.ActionReportAfterForm(), form_tracker(None, "x", report_stage="consent", report_consent=None))
    assert sent == []
    # with the explanation just given, her yes starts the questions
    slots, sent, _ = await run(case_actions.ActionReportConsent(), form_tracker(None, "/report_consent", report_stage="consent",
                                                                               report_consent=None))
    assert sent == ["utter_report_begin"] and slots["report_consent"] is True
