"""The report form through the channels' real webhook path (SMS numbered replies, a WhatsApp pin,
Telegram buttons). The NLU and policies are stubbed (tests/reporting/minireport.py); actions,
validation, /nlg rendering, the safety gate and the channels are real. The Rasa test stories for
the same paths, which need the trained model, are in tests/stories/test_reporting.yml."""

from __future__ import annotations

import secrets
from typing import Any, Callable

from sqlalchemy import select

from bot.reporting.models import ReportCase
from bot.store.db import get_engine, session_scope
from tests.country.conftest import (  # noqa: F401  (fixtures)
    Harness, channel, country_env, fake, migrated_template, sent_texts, telegram_buttons, telegram_message,
    telegram_tap, twilio_message,
)
from tests.channels.conftest import twilio_request
from tests.country.numbers import invented_number
from tests.reporting.conftest import add_service
from tests.reporting.minireport import ReportRasa
from tests.unit.test_locales import lock_screen_hits


def stub_nlu(table: dict[str, str]) -> Callable[[str], str]:
    return lambda text: table.get(text, "nlu_fallback")


def desk_in_kenya() -> None:
    from bot.reporting.desks import set_desk_team
    from bot.staff.roster import add_team

    engine = get_engine()
    service_id = add_service(engine, "Kilimani desk", "gender_desk", -1.29, 36.78, desk=True)
    set_desk_team(str(service_id), add_team(f"team {secrets.token_hex(2)}", engine), engine=engine)


def the_case() -> ReportCase:
    with session_scope() as s:
        case = s.execute(select(ReportCase)).scalar_one()
        s.expunge(case)
        return case


def no_case() -> bool:
    with session_scope() as s:
        return s.execute(select(ReportCase.id)).first() is None


async def test_a_whole_report_by_sms_numbers_in_swahili(country_env: Any, fake: Any) -> None:
    desk_in_kenya()
    marker = "MRK-" + secrets.token_hex(8)
    rasa = ReportRasa(stub_nlu({"nataka kutoa ripoti": "start_report"}))
    harness = await Harness(channel("sms"), rasa).start()
    sender = invented_number("KE")
    replies = ["nataka kutoa ripoti", "1", "1 3", "1", "ruka", "1", "2", "1", "1", "1", marker, "1"]
    try:
        for text in replies:
            response = await harness.post(*twilio_message("sms", sender, text, harness.path))
            assert response.status_code == 200
            await harness.settle()
    finally:
        await harness.stop()
    names = [name for name, _ in rasa.sent]
    assert names[:3] == ["utter_report_intro", "utter_report_code_word_tip", "utter_report_consent"]
    assert "utter_report_doctor_urgent" in names  # forced sex today: the 72-hour window, plainly
    assert names[-2:] == ["utter_report_submitted", "utter_report_next"]
    case = the_case()
    assert (case.incident_types, case.when_band, case.relationship, case.safe_now, case.needs_doctor, case.channel) == (
        "rape,physical_assault", "today", "partner", True, False, "sms")
    texts = sent_texts(fake)
    assert any(case.reference in t for t in texts)
    assert all(marker not in t for t in texts)  # her statement is never echoed back
    assert [t[:40] for t in texts if lock_screen_hits(t)] == []


def whatsapp_pin(sender: str, lat: float, lon: float, path: str) -> tuple[bytes, dict[str, str]]:
    form = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32, "From": f"whatsapp:{sender}",
            "Body": "", "NumMedia": "0", "Latitude": str(lat), "Longitude": str(lon)}
    from tests.channels.conftest import TWILIO_SID, WHATSAPP_FROM

    form.update({"AccountSid": TWILIO_SID, "To": f"whatsapp:{WHATSAPP_FROM}"})
    return twilio_request(form, "valid", path)


async def test_whatsapp_pin_danger_mid_form_then_a_phrased_quick_exit(country_env: Any, fake: Any) -> None:
    desk_in_kenya()
    rasa = ReportRasa(stub_nlu({"i want to make a report": "start_report", "he has a knife": "immediate_danger",
                                "delete all this": "quick_exit"}))
    harness = await Harness(channel("whatsapp"), rasa).start()
    sender = invented_number("KE")
    try:
        for text in ("i want to make a report", "1", "3", "9", "2"):
            await harness.post(*twilio_message("whatsapp", sender, text, harness.path))
            await harness.settle()
        await harness.post(*whatsapp_pin(sender, -1.2921, 36.8219, harness.path))
        await harness.settle()
        assert rasa.slots()["report_place"] == {"lat": -1.292, "lon": 36.822, "country": "KE"}
        before = len(rasa.sent)
        await harness.post(*twilio_message("whatsapp", sender, "he has a knife", harness.path))
        await harness.settle()
        danger = [name for name, _ in rasa.sent[before:]]
        assert danger == ["utter_emergency", "utter_danger_followup", "utter_report_resume", "utter_ask_report_safe"]
        before = len(rasa.sent)
        await harness.post(*twilio_message("whatsapp", sender, "delete all this", harness.path))
        await harness.settle()
    finally:
        await harness.stop()
    assert [name for name, _ in rasa.sent[before:]] == ["utter_cover"]  # and no question after it
    assert no_case()


async def test_telegram_buttons_then_stop_sends_nothing(country_env: Any, fake: Any) -> None:
    rasa = ReportRasa(stub_nlu({"make a report": "start_report", "stop the report": "stop_report"}))
    harness = await Harness(channel("telegram"), rasa).start()
    chat = 555000777
    try:
        await harness.post(*telegram_message(chat, "make a report", "en-KE"))
        await harness.settle()
        consent = next(b for b in telegram_buttons(fake) if b["text"] == "Yes, start")
        await harness.post(*telegram_tap(chat, consent["callback_data"], "en-KE"))
        await harness.settle()
        forced = [b for b in telegram_buttons(fake) if b["text"] == "Hit, hurt or choked"][-1]
        await harness.post(*telegram_tap(chat, forced["callback_data"], "en-KE"))
        await harness.settle()
        assert rasa.slots()["report_types_acc"] == ["physical_assault"]
        await harness.post(*telegram_message(chat, "stop the report", "en-KE"))
        await harness.settle()
    finally:
        await harness.stop()
    names = [name for name, _ in rasa.sent]
    assert names[-2:] == ["utter_report_stopped", "utter_main_menu"]
    assert rasa.slots()["report_types_acc"] is None and rasa.slots()["report_consent"] is None
    assert no_case()
