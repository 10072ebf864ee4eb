"""Her country's numbers from the first message, through the channels' real webhook path.

One row per country in data/countries.yml x channel: a danger message as the first message of a
conversation (SMS and WhatsApp from a number of that country; Telegram from an app whose language
code names that country) gets that country's emergency number first, and no reply of the turn
carries another country's number. A Telegram chat with no country gets the served countries'
emergency numbers in one line and the country question; after she taps her country, the numbers
are hers. The NLU and policies are stubbed (tests/country/minirasa.py); actions, /nlg rendering
and channels are real.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot import countries
from tests.country.conftest import (
    SERVED,
    Harness,
    channel,
    sent_texts,
    telegram_buttons,
    telegram_message,
    telegram_tap,
    twilio_message,
)
from tests.country.minirasa import MiniRasa
from tests.country.numbers import invented_number

DANGER = {
    "en": "he is outside the door with a knife and says he will kill me",
    "fr": "il est devant la porte avec un couteau et dit qu'il va me tuer",
    "es": "está afuera de la puerta con un cuchillo y dice que me va a matar",
    "pt": "ele está do lado de fora da porta com uma faca e diz que vai me matar",
    "sw": "yuko nje ya mlango na kisu na anasema ataniua",
}
ROWS = [(code, provider) for code in countries.codes() for provider in ("sms", "whatsapp", "telegram")]
DIGITS = re.compile(r"\d{2,}")  # single digits are numbered options (SMS), never a phone number


def danger_nlu(text: str) -> str:
    return "immediate_danger"


def own_numbers(code: str) -> set[str]:
    entry = countries.get(code) or {}
    return {str(entry[f]) for f in countries.NUMBER_FIELDS if entry.get(f)}


def numbers_in(text: str) -> list[str]:
    return DIGITS.findall(text)


async def first_turn(provider: str, code: str, rasa: MiniRasa, fake: Any) -> list[str]:
    language = countries.languages(code)[0]
    harness = await Harness(channel(provider), rasa).start()
    try:
        if provider == "telegram":
            request = telegram_message(555000900 + countries.codes().index(code), DANGER[language], f"{language}-{code}")
        else:
            # Twilio's FromCountry only where the number alone cannot tell (the UK's fictional range).
            request = twilio_message(provider, invented_number(code), DANGER[language], harness.path,
                                     from_country=code if countries.country_of_number(invented_number(code)) != code else None)
        response = await harness.post(*request)
        await harness.settle()
    finally:
        await harness.stop()
    assert response.status_code == 200
    return sent_texts(fake)


@pytest.mark.parametrize("code,provider", ROWS, ids=[f"{c}-{p}" for c, p in ROWS])
async def test_danger_first_message_gets_her_countrys_emergency_number_first(code: str, provider: str, country_env: Any,
                                                                              fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.country_detect.named_country", lambda text, language=None: None)
    rasa = MiniRasa(danger_nlu)
    texts = await first_turn(provider, code, rasa, fake)
    slots = rasa.slots()
    assert slots["country"] == code
    assert slots["country_source"] == ("language_region" if provider == "telegram" else "phone")
    assert [name for name, _ in rasa.sent] == ["utter_emergency", "utter_danger_followup"]
    assert len(texts) == 2, texts
    entry = countries.get(code) or {}
    emergency = entry.get("emergency") or entry.get("police")
    first = numbers_in(texts[0])
    if emergency:
        assert first and first[0] == emergency, (code, texts[0])
    else:
        assert first == [], (code, texts[0])  # no number is better than another country's
    for text in texts:
        assert set(numbers_in(text)) <= own_numbers(code), (code, text)
    language = countries.languages(code)[0]
    assert all(reply["language"] == language for _, reply in rasa.sent), (code, language)


def test_every_row_is_a_country_and_every_channel() -> None:
    assert len(ROWS) == 3 * len(countries.codes()) and len(countries.codes()) >= 45


async def test_telegram_with_no_country_lists_the_served_countries_then_remembers_her_answer(
    country_env: Any, fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.country_detect.named_country", lambda text, language=None: None)
    served = SERVED.split(",")
    rasa = MiniRasa(danger_nlu)
    chat = 555000801
    harness = await Harness(channel("telegram"), rasa).start()
    try:
        await harness.post(*telegram_message(chat, DANGER["sw"], "sw"))  # no region in the language code
        await harness.settle()
        line, question = sent_texts(fake)
        # One short line: every served country's emergency number, each with its name.
        for code in served:
            assert f"{countries.name(code, 'sw')} {countries.get(code)['emergency']}" in line  # type: ignore[index]
        assert set(numbers_in(line)) == {countries.get(c)["emergency"] for c in served}  # type: ignore[index]
        assert numbers_in(question) == []
        titles = {b["text"]: b["callback_data"] for b in telegram_buttons(fake)}
        assert {countries.name(c, "sw") for c in served} <= set(titles)
        assert rasa.slots().get("country") is None

        fake.clear()
        await harness.post(*telegram_tap(chat, titles[countries.name("TZ", "sw")], "sw"))
        await harness.settle()
        confirmed = " ".join(sent_texts(fake))
        assert rasa.slots()["country"] == "TZ" and rasa.slots()["country_source"] == "choice"
        assert "112" in confirmed and "116" in confirmed and "999" not in confirmed

        fake.clear()
        await harness.post(*telegram_message(chat, DANGER["sw"], "sw"))
        await harness.settle()
        texts = sent_texts(fake)
        assert numbers_in(texts[0])[0] == "112"
        assert all(set(numbers_in(t)) <= own_numbers("TZ") for t in texts)
    finally:
        await harness.stop()


async def test_single_country_deployment_uses_its_country_until_hers_is_known(
    country_env: Any, fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.settings import get_settings

    monkeypatch.setattr("bot.country_detect.named_country", lambda text, language=None: None)
    monkeypatch.setenv("HAVEN_COUNTRIES", "UG")
    get_settings.cache_clear()
    rasa = MiniRasa(danger_nlu)
    harness = await Harness(channel("telegram"), rasa).start()
    try:
        await harness.post(*telegram_message(555000802, DANGER["en"], "en"))
        await harness.settle()
    finally:
        await harness.stop()
    texts = sent_texts(fake)
    assert numbers_in(texts[0])[0] == "999" and "116" in texts[1]
    assert rasa.slots().get("country") is None  # the deployment's country is not remembered as hers


async def test_her_choice_outranks_her_phone_and_a_place_she_names(country_env: Any, fake: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    places = {"goma": "CD"}
    monkeypatch.setattr("bot.country_detect.named_country", lambda text, language=None: places.get(text.lower()))
    tagged = lambda text: ["goma"] if "goma" in text.lower() else []  # noqa: E731 - the NLU's place entity
    rasa = MiniRasa(lambda text: "inform_location" if tagged(text) else "immediate_danger", tagged)
    harness = await Harness(channel("telegram"), rasa).start()
    try:
        await harness.post(*telegram_message(555000803, "nipo goma", "sw-TZ"))
        await harness.settle()
        assert rasa.slots()["country"] == "CD" and rasa.slots()["country_source"] == "place"  # place > region
        await harness.post(*telegram_tap(555000803, '/choose_country{"country": "UG"}', "sw-TZ"))
        await harness.settle()
        await harness.post(*telegram_message(555000803, "nipo goma", "sw-TZ"))
        await harness.settle()
        assert rasa.slots()["country"] == "UG" and rasa.slots()["country_source"] == "choice"  # choice > place
    finally:
        await harness.stop()
    sms = MiniRasa(lambda text: "inform_location", tagged)
    harness = await Harness(channel("sms"), sms).start()
    try:
        await harness.post(*twilio_message("sms", invented_number("KE"), "nipo goma", harness.path))
        await harness.settle()
    finally:
        await harness.stop()
    assert sms.slots()["country"] == "KE" and sms.slots()["country_source"] == "phone"  # phone > place
