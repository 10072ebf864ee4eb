"""The survivor side end to end through the actions and the safety gate, on the real database:
no consent -> no case row; a confirmed report gets a lock-screen-safe reference, survives the
chat's quick exit and is gone (markers) after withdrawal; status only from the same chat or
with her code word (read at the gate, never by Rasa); a draft lives only in the tracker."""

from __future__ import annotations

import json
import secrets
from typing import Any

from sqlalchemy import func, select

from actions import reporting_case as case_actions
from actions import reporting_status as status_actions
from bot import i18n, nlg
from bot.reporting import reference as refs
from bot.reporting.models import ReportCase
from bot.safety import gate
from bot.safety.erase import erase_conversation
from bot.store.db import session_scope
from tests.dbfiles import raw_bytes
from tests.reporting.formkit import form_tracker, run
from tests.unit.test_locales import lock_screen_hits


def answered(statement: str, **over: Any) -> dict[str, Any]:
    slots: dict[str, Any] = {
        "report_types": ["physical_assault", "online"], "report_when": "this_week",
        "report_place": {"name": "Kibera", "lat": -1.31, "lon": 36.79, "region": "Nairobi", "country": "KE"},
        "report_safe": "yes", "report_doctor": "no", "report_relationship": "partner",
        "report_identity": "anonymous", "report_contact": {"mode": "chat"}, "report_statement": statement,
        "report_stage": "summary",
    }
    slots.update(over)
    return slots


def holds(dump: bytes, ciphertext: bytes) -> bool:
    """Whether a raw file or dump holds these bytes (pg_dump writes bytea as hex)."""
    return ciphertext in dump or ciphertext.hex().encode() in dump


def cases(engine: Any) -> int:
    with session_scope(engine) as s:
        return int(s.execute(select(func.count()).select_from(ReportCase)).scalar_one())


async def confirm(conv: str, language: str = "en", **slots: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    t = form_tracker(None, "/report_confirm", intent="report_confirm", sender=conv, language=language,
                     message_id=secrets.token_hex(4), **slots)
    values, _, messages = await run(case_actions.ActionReportSubmit(), t)
    return values, messages


async def set_code_word(conv: str, word: str) -> None:
    for inbound in (gate.Inbound("whatsapp", conv, payload="/set_code_word"), gate.Inbound("whatsapp", conv, text=word)):
        result = await gate.screen(inbound)
        assert result.verdict is gate.Verdict.PASS and result.rewrite in ("/code_word_ask", "/code_word_saved")


async def test_no_consent_means_no_case_row(engine: Any, desk: Any) -> None:
    conv = "conv-" + secrets.token_hex(4)
    start = form_tracker(None, "/start_report", intent="start_report", sender=conv)
    values, sent, messages = await run(case_actions.ActionReportStart(), start)
    assert sent == ["utter_report_intro", "utter_report_code_word_tip", "utter_report_consent"]  # no code word yet
    assert messages[0]["desk"] == "Central desk"  # named from the directory
    assert messages[0]["unit"] == "Gender Desk (Kenya Police Service)"  # data/countries.yml
    values, sent, _ = await run(case_actions.ActionReportDecline(), form_tracker(None, "/report_decline", sender=conv))
    assert values["report_consent"] is False and "utter_main_menu" in sent
    # even a complete draft with a summary on screen is not sent without her yes
    for consent in (None, False):
        values, messages = await confirm(conv, **answered("x", report_consent=consent))
        assert [m["response"] for m in messages] == ["utter_report_nothing_to_send"]
    assert cases(engine) == 0


async def test_confirmed_report_survives_quick_exit_and_is_gone_after_withdrawal(engine: Any, db_url: str, desk: Any) -> None:
    conv, marker = "conv-" + secrets.token_hex(4), "MARKER-" + secrets.token_hex(12)
    values, messages = await confirm(conv, language="sw", report_consent=True, **answered(marker))
    reference = values["report_ref"]
    assert refs.PATTERN.match(reference) and cases(engine) == 1
    assert [m["response"] for m in messages] == ["utter_report_submitted", "utter_report_next"]
    assert messages[0]["desk"] == "Central desk" and messages[0]["count"] >= 1
    assert all(values[s] is None for s in ("report_statement", "report_types", "report_place"))  # draft cleared
    with session_scope(engine) as s:
        case = s.execute(select(ReportCase)).scalar_one()
        ciphertext = bytes(case.statement_ct)
        assert case.incident_types == "physical_assault,psychological_abuse"
    assert marker.encode() not in raw_bytes(db_url) and holds(raw_bytes(db_url), ciphertext)

    erase_conversation(conv)  # the chat's quick exit: the case is kept for the desk
    assert cases(engine) == 1
    _, sent, messages = await run(status_actions.ActionReportStatus(),
                                  form_tracker(None, f"whats up with {reference.lower()}", intent="report_status", sender=conv))
    assert sent == ["utter_report_status_new"] and messages[0]["reference"] == reference

    values, sent, _ = await run(status_actions.ActionReportWithdraw(),
                                form_tracker(None, f"withdraw {reference}", intent="withdraw_report", sender=conv))
    assert sent == ["utter_report_withdraw_confirm"] and values == {"report_pending_ref": reference}
    values, sent, _ = await run(status_actions.ActionReportWithdrawConfirmed(),
                                form_tracker(None, "/report_withdraw_confirm", intent="report_withdraw_confirm",
                                             sender=conv, report_pending_ref=reference, report_ref=reference))
    assert sent == ["utter_report_withdrawn"] and values == {"report_pending_ref": None, "report_ref": None}
    assert cases(engine) == 0
    dump = raw_bytes(db_url)
    assert not holds(dump, ciphertext) and reference.encode() not in dump


async def test_a_double_pressed_confirm_is_one_case(engine: Any, desk: Any) -> None:
    conv = "conv-" + secrets.token_hex(4)
    t = form_tracker(None, "/report_confirm", intent="report_confirm", sender=conv, message_id="same",
                     report_consent=True, **answered("x"))
    first, _, _ = await run(case_actions.ActionReportSubmit(), t)
    second, _, _ = await run(case_actions.ActionReportSubmit(), t)
    assert first["report_ref"] == second["report_ref"] and cases(engine) == 1


async def test_status_elsewhere_needs_her_code_word_checked_at_the_gate(engine: Any, desk: Any) -> None:
    mine, other = "conv-" + secrets.token_hex(4), "conv-" + secrets.token_hex(4)
    await set_code_word(mine, "papaya tree")
    values, _ = await confirm(mine, report_consent=True, **answered("x"))
    reference = values["report_ref"]

    # another chat: no status, only the code-word question
    _, sent, _ = await run(status_actions.ActionReportStatus(),
                           form_tracker(None, f"check {reference}", intent="report_status", sender=other))
    assert sent == ["utter_report_word_needed"]
    wrong = await gate.screen(gate.Inbound("sms", other, text="banana"))
    assert wrong.rewrite == '/report_word_result{"report_result": "denied"}'
    # a wrong word ends the question: the right word now is just a message for Rasa
    assert (await gate.screen(gate.Inbound("sms", other, text="papaya tree"))).rewrite is None

    await run(status_actions.ActionReportStatus(), form_tracker(None, f"check {reference}", intent="report_status", sender=other))
    right = await gate.screen(gate.Inbound("sms", other, text="Papaya Tree"))
    assert right.rewrite is not None and "papaya" not in right.rewrite.lower()  # the word never reaches Rasa
    body = json.loads("{" + right.rewrite.split("{", 1)[1])
    assert body == {"report_result": "new", "report_ref": reference, "count": "0"}
    _, sent, messages = await run(status_actions.ActionReportWordResult(),
                                  form_tracker(None, right.rewrite, intent="report_word_result", sender=other,
                                               entities=[{"entity": k, "value": v} for k, v in body.items()]))
    assert sent == ["utter_report_status_new"] and messages[0]["reference"] == reference

    # withdraw from the other chat with the code word
    _, sent, _ = await run(status_actions.ActionReportWithdraw(),
                           form_tracker(None, f"withdraw {reference}", intent="withdraw_report", sender=other))
    assert sent == ["utter_report_word_needed_withdraw"] and cases(engine) == 1
    done = await gate.screen(gate.Inbound("sms", other, text="papaya tree"))
    assert done.rewrite == '/report_word_result{"report_result": "withdrawn", "report_ref": "%s"}' % reference
    assert cases(engine) == 0


async def test_a_danger_message_is_never_taken_for_the_code_word(engine: Any, desk: Any) -> None:
    mine, other = "conv-" + secrets.token_hex(4), "conv-" + secrets.token_hex(4)
    values, _ = await confirm(mine, report_consent=True, **answered("x"))
    await run(status_actions.ActionReportStatus(),
              form_tracker(None, f"check {values['report_ref']}", intent="report_status", sender=other))
    result = await gate.screen(gate.Inbound("sms", other, text="he has a knife"))
    assert result.verdict is gate.Verdict.PASS and result.rewrite is None  # her words go to Rasa (danger path)


async def test_reference_texts_are_lock_screen_safe_in_every_language(engine: Any, desk: Any) -> None:
    conv = "conv-" + secrets.token_hex(4)
    values, _ = await confirm(conv, report_consent=True, **answered("x"))
    reference = values["report_ref"]
    assert not lock_screen_hits(reference)
    for language in i18n.catalog().languages():
        for name in ("utter_report_submitted", "utter_report_next", "utter_report_status_referred",
                     "utter_report_withdrawn"):
            body = {"response": name, "arguments": {"reference": reference, "desk": "Central desk", "count": 2},
                    "tracker": {"slots": {"language": language, "country": "KE"}}, "channel": {"name": "sms"}}
            text = nlg.render_request(body)["text"]
            assert reference in text and not lock_screen_hits(text) and "{" not in text, (language, name)


async def test_quick_exit_mid_form_erases_the_draft_with_the_tracker(db_url: str) -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered

    from bot.rasa_adapters.tracker_store import EncryptedTrackerStore

    domain = Domain.from_yaml('version: "3.1"\nintents: [quick_exit]\nslots:\n  report_statement:\n'
                              '    type: any\n    mappings: [{type: custom}]\n')
    marker, conv = secrets.token_hex(16), "conv-" + secrets.token_hex(4)
    store = EncryptedTrackerStore(domain=domain, database_url=db_url)
    tracker = await store.get_or_create_tracker(conv)
    tracker.update(UserUttered(marker, {"name": "quick_exit", "confidence": 1.0}))
    tracker.update(SlotSet("report_statement", marker))
    await store.save(tracker)
    assert (await store.retrieve(conv)).get_slot("report_statement") == marker
    from bot.store.models import TrackerEvent

    with session_scope() as s:
        stored = [bytes(e.data_ct) for e in s.execute(select(TrackerEvent).where(TrackerEvent.conversation_id == conv)).scalars()]
    assert stored and all(holds(raw_bytes(db_url), ct) for ct in stored)
    # the form's quick exit ends in action_quick_exit (ActionReportAfterForm): the store erases
    tracker.update(ActionExecuted("action_quick_exit"))
    await store.save(tracker)
    assert await store.retrieve(conv) is None
    dump = raw_bytes(db_url)
    assert marker.encode() not in dump and not any(holds(dump, ct) for ct in stored)


async def test_with_a_code_word_set_the_tip_is_not_shown(engine: Any, desk: Any) -> None:
    conv = "conv-" + secrets.token_hex(4)
    await set_code_word(conv, "mango")
    _, sent, _ = await run(case_actions.ActionReportStart(), form_tracker(None, "/start_report", intent="start_report", sender=conv))
    assert sent == ["utter_report_intro", "utter_report_consent"]


async def test_in_duress_nothing_is_sent_read_or_withdrawn(engine: Any, desk: Any) -> None:
    conv = "conv-" + secrets.token_hex(4)
    values, _ = await confirm(conv, report_consent=True, **answered("x"))
    reference = values["report_ref"]
    _, messages = await confirm(conv, report_consent=True, duress=True, **answered("y"))
    assert [m["response"] for m in messages] == ["utter_report_nothing_to_send"] and cases(engine) == 1
    values, sent, _ = await run(case_actions.ActionReportConsent(), form_tracker(None, "/report_consent", sender=conv, duress=True))
    assert values.get("report_consent", None) is None
    for action, text in ((status_actions.ActionReportStatus(), f"check {reference}"),
                         (status_actions.ActionReportWithdraw(), f"withdraw {reference}")):
        _, sent, _ = await run(action, form_tracker(None, text, intent="report_status", sender=conv, duress=True))
        assert sent == ["utter_report_word_denied"]
    _, sent, _ = await run(status_actions.ActionReportWithdrawConfirmed(),
                           form_tracker(None, "/report_withdraw_confirm", intent="report_withdraw_confirm", sender=conv,
                                        duress=True, report_pending_ref=reference))
    assert sent == ["utter_report_kept"] and cases(engine) == 1


async def test_the_gates_quick_exit_mid_form_erases_the_draft(db_url: str) -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet, UserUttered

    from bot.rasa_adapters.tracker_store import EncryptedTrackerStore
    from bot.store.models import TrackerEvent

    domain = Domain.from_yaml('version: "3.1"\nintents: [report_choice]\nslots:\n  report_statement:\n'
                              '    type: any\n    mappings: [{type: custom}]\n')
    marker, conv = secrets.token_hex(16), "conv-" + secrets.token_hex(4)
    store = EncryptedTrackerStore(domain=domain, database_url=db_url)
    tracker = await store.get_or_create_tracker(conv)
    tracker.update(UserUttered("x", {"name": "report_choice", "confidence": 1.0}))
    tracker.update(SlotSet("report_statement", marker))
    await store.save(tracker)
    with session_scope() as s:
        stored = [bytes(e.data_ct) for e in s.execute(select(TrackerEvent).where(TrackerEvent.conversation_id == conv)).scalars()]
    assert stored and all(holds(raw_bytes(db_url), ct) for ct in stored)
    result = await gate.screen(gate.Inbound("whatsapp", conv, text="##"))
    assert result.verdict is gate.Verdict.QUICK_EXIT
    assert await store.retrieve(conv) is None
    dump = raw_bytes(db_url)
    assert not any(holds(dump, ct) for ct in stored)


async def test_a_typed_no_to_the_withdrawal_question_keeps_it(engine: Any, desk: Any) -> None:
    conv = "conv-" + secrets.token_hex(4)
    values, _ = await confirm(conv, report_consent=True, **answered("x"))
    _, sent, _ = await run(status_actions.ActionReportWithdrawConfirmed(),
                           form_tracker(None, "no", intent="deny", sender=conv, report_pending_ref=values["report_ref"]))
    assert sent == ["utter_report_kept"] and cases(engine) == 1
