"""Issue 15 defects through the running stack (signed webhooks / REST), in three languages or more.

Button payloads (/intent) are used where the path, not the model's reading of her words, is under
test. Tests marked NEEDS_RETRAIN depend on data/dialogue/listening.yml or on NLU, and pass only
with a model trained on this branch.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from bot import i18n
from tests.channels.conftest import PUBLIC_URL, SMS_FROM, TWILIO_SID, TWILIO_TOKEN

pytestmark = pytest.mark.slow
NUMBERS = {"KE": ("1195", "999"), "PE": ("100", "105"), "SN": ("17",), "BR": ("180", "190")}


def sender() -> str:
    return "e2e-listen-" + secrets.token_hex(6)


def texts(replies: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("text") or "") for r in replies]


@pytest.mark.parametrize("lang,country", [("fr", "SN"), ("es", "PE"), ("pt", "BR"), ("sw", "KE")])
def test_asking_for_a_person_says_first_who_is_free_with_her_line(stack, lang: str, country: str) -> None:
    who = sender()
    meta = {"country": country, "language_hint": lang}
    stack.send(who, "/greet", meta)
    replies = texts(stack.send(who, "/request_officer", meta))
    assert len(replies) >= 2, replies
    nobody = i18n.text("utter_handoff_available_nobody", lang, meanwhile="")
    assert replies[0].startswith(nobody.split(".")[0]), replies  # nobody on duty in the test stack
    assert all(n in replies[0] for n in NUMBERS[country]), replies[0]
    assert replies[1].startswith(i18n.text("utter_handoff_consent", lang, summary="").split(":")[0])


@pytest.mark.parametrize("lang,country", [("fr", "SN"), ("es", "PE"), ("pt", "BR")])
def test_second_danger_message_is_shorter_and_escalated(stack, lang: str, country: str) -> None:
    who = sender()
    meta = {"country": country, "language_hint": lang}
    first = texts(stack.send(who, "/immediate_danger", meta))
    second = texts(stack.send(who, "/immediate_danger", meta))
    emergency = NUMBERS[country][-1]
    assert emergency in first[0] and emergency in second[0]  # the number first, both times
    assert second[0] != first[0] and len(second[0]) < len(first[0])
    assert second != first


@pytest.mark.parametrize("lang", ["en", "fr", "es"])
def test_a_repeated_privacy_question_is_not_a_copy(stack, lang: str) -> None:
    who = sender()
    meta = {"country": "KE", "language_hint": lang}
    stack.send(who, "/greet", meta)
    first = texts(stack.send(who, "/ask_privacy", meta))
    second = texts(stack.send(who, "/ask_privacy", meta))
    assert first and second and first[-1] != second[-1]


def _sms(stack, address: str, country: str, body: str = "", media: bool = False) -> int:
    """A signed Twilio SMS webhook; returns the provider sequence number before it."""
    from twilio.request_validator import RequestValidator

    after = stack.last_seq()
    form = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": TWILIO_SID, "From": address, "To": SMS_FROM,
            "Body": body, "NumMedia": "1" if media else "0", "FromCountry": country}
    if media:
        form.update(MediaUrl0="https://media.example.invalid/x.jpg", MediaContentType0="image/jpeg")
    path = "/webhooks/sms/webhook"
    headers = {"content-type": "application/x-www-form-urlencoded",
               "x-twilio-signature": RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC_URL + path, form)}
    resp = httpx.post(stack.rasa_url + path, content=urlencode(form).encode(), headers=headers, timeout=30)
    assert resp.status_code == 200
    return after


@pytest.mark.parametrize("lang,first", [
    ("fr", "Bonjour, j'ai besoin d'aide s'il vous plaît, je ne sais pas quoi faire"),
    ("es", "Hola, necesito ayuda por favor, no sé qué hacer"),
    ("sw", "Habari, naomba msaada tafadhali, sijui nifanye nini"),
])
def test_channel_notice_after_the_first_turn_is_in_her_language(stack, lang: str, first: str) -> None:
    """Kenya's number hints English; once she wrote in her language, a notice (a photo she sent
    cannot be read) comes in hers too."""
    address = "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))
    after = _sms(stack, address, "KE", first)
    assert stack.replies_to(address, after, count=1, timeout=40)
    after = _sms(stack, address, "KE", media=True)
    calls = stack.replies_to(address, after, count=1, timeout=40)
    bodies = [str(c["form"].get("Body") or "") for c in calls]
    assert i18n.text("channels_text_only", lang, "sms") in bodies, bodies


NEEDS_RETRAIN = pytest.mark.xfail(reason="needs a model trained on data/dialogue/listening.yml", strict=False)


@NEEDS_RETRAIN
@pytest.mark.parametrize("lang,text", [("fr", "il vérifie mon téléphone tous les soirs"),
                                       ("es", "él revisa mi teléfono todas las noches"),
                                       ("sw", "anaangalia simu yangu kila jioni")])
def test_he_checks_my_phone_is_answered(stack, lang: str, text: str) -> None:
    who = sender()
    meta = {"country": "KE", "language_hint": lang}
    stack.send(who, "/greet", meta)
    stack.send(who, "/affirm", meta)
    replies = texts(stack.send(who, text, meta))
    assert i18n.text("utter_answer_phone_checked", lang, "rest") in replies, replies


@NEEDS_RETRAIN
@pytest.mark.parametrize("lang,text", [("fr", "est-ce que la police va appeler mon mari ?"),
                                       ("es", "¿la policía va a llamar a mi esposo?"),
                                       ("pt", "a polícia vai ligar para o meu marido?")])
def test_will_the_police_call_my_husband_is_answered(stack, lang: str, text: str) -> None:
    who = sender()
    meta = {"country": "KE", "language_hint": lang}
    stack.send(who, "/greet", meta)
    stack.send(who, "/affirm", meta)
    replies = texts(stack.send(who, text, meta))
    assert replies and replies[0] == i18n.text("utter_answer_police_contact", lang, "rest"), replies


@NEEDS_RETRAIN
@pytest.mark.parametrize("lang,text", [("fr", "mon mari me frappe depuis des mois"),
                                       ("es", "anoche mi esposo me pegó muy fuerte"),
                                       ("sw", "jana usiku mume wangu alinipiga sana")])
def test_disclosure_acknowledged_without_the_menu_again_or_danger_now(stack, lang: str, text: str) -> None:
    who = sender()
    meta = {"country": "KE", "language_hint": lang}
    stack.send(who, "/greet", meta)
    stack.send(who, "/affirm", meta)  # the menu was just shown
    replies = texts(stack.send(who, text, meta))
    assert replies and replies[0] == i18n.text("utter_disclosure_support", lang, "rest"), replies
    assert i18n.text("utter_main_menu", lang, "rest") not in replies
    assert not any("999" in r for r in replies)  # a past event is not the danger-now reply
