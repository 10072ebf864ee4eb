"""Where her country comes from: phone numbers, Telegram language codes, places and pins, the
order of trust, and the deployment's list (HAVEN_COUNTRIES)."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.context import ActionReadContext
from bot import countries, country_detect
from bot.settings import SettingsError, load_settings
from tests.conftest import TEST_KEYS
from tests.country.numbers import invented_number


@pytest.mark.parametrize("code", countries.codes())
def test_phone_number_gives_the_country(code: str) -> None:
    if code == "GB":  # the UK's fictional range is not a valid number: Twilio's FromCountry tells it
        assert countries.country_of_number(invented_number(code)) is None
        return
    assert countries.country_of_number(invented_number(code)) == code


def test_shared_calling_code_needs_a_valid_number() -> None:
    assert countries.country_of_number("+15550100001") is None  # +1 555: no single country
    assert countries.country_of_number("+18095550123") == "DO"
    assert countries.country_of_number("not a number") is None


@pytest.mark.parametrize("code,expected", [("pt-BR", "BR"), ("pt_br", "BR"), ("fr-CI", "CI"), ("sw-TZ", "TZ"),
                                           ("en", None), ("es-419", None), ("de-DE", None), (None, None), ("", None)])
def test_telegram_language_code_region(code: Any, expected: Any) -> None:
    assert countries.country_of_language_code(code) == expected


def test_order_of_trust() -> None:
    assert countries.SOURCES == ("choice", "phone", "place", "language_region", "deployment")
    assert countries.stronger("choice", "phone") and countries.stronger("phone", "place")
    assert countries.stronger("place", "language_region") and countries.stronger("place", "place")
    assert not countries.stronger("place", "phone") and not countries.stronger("language_region", "place")
    assert countries.stronger("language_region", None) and not countries.stronger("nonsense", None)


def test_haven_countries_setting() -> None:
    assert load_settings(dict(TEST_KEYS, HAVEN_COUNTRIES=" ke, tz ,UG,ke")).countries == ("KE", "TZ", "UG")
    assert load_settings(dict(TEST_KEYS, HAVEN_DEFAULT_COUNTRY="pe")).countries == ("PE",)
    assert load_settings(dict(TEST_KEYS)).countries == ("KE",)
    with pytest.raises(SettingsError, match="HAVEN_COUNTRIES"):
        load_settings(dict(TEST_KEYS, HAVEN_COUNTRIES="Kenya"))


def test_unknown_country_gets_no_single_countrys_numbers(haven_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import get_settings

    monkeypatch.setenv("HAVEN_COUNTRIES", "KE,TZ")
    get_settings.cache_clear()
    assert countries.numbers(None)["emergency_number"] == "" and countries.resolve(None).code is None
    assert countries.emergency_list("en") == "Kenya 999 · Tanzania 112"
    monkeypatch.setenv("HAVEN_COUNTRIES", "TZ")
    get_settings.cache_clear()
    assert countries.resolve(None) == countries.Known("TZ", "deployment")
    assert countries.numbers(None)["emergency_number"] == "112"


def tracker(text: str, slots: dict[str, Any], metadata: dict[str, Any], places: tuple[str, ...] = ()) -> Tracker:
    entities = [{"entity": "place", "value": p} for p in places]  # what the NLU tagged as a place
    latest = {"text": text, "intent": {"name": "inform_location", "confidence": 0.9}, "entities": entities}
    events = [{"event": "user", "text": text, "parse_data": latest, "metadata": metadata}]
    return Tracker("conv", slots, latest, events, False, None, {}, "action_listen")


async def slots_after(t: Tracker) -> dict[str, Any]:
    events = await ActionReadContext().run(CollectingDispatcher(), t, {})
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def test_a_pin_gives_the_country_unless_a_stronger_source_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(country_detect, "pin_country", lambda lat, lon: "MZ")
    monkeypatch.setattr(country_detect, "named_country", lambda text, language=None: None)
    pin = {"location": {"lat": -25.96, "lon": 32.57}}
    assert (await slots_after(tracker("/inform_location", {}, pin)))["country"] == "MZ"
    kept = await slots_after(tracker("/inform_location", {"country": "ZA", "country_source": "phone"},
                                     dict(pin, country="ZA", country_source="phone")))
    assert "country" not in kept


async def test_the_phone_never_asks_the_gazetteer(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the place lookup ran although the phone's country outranks it")

    monkeypatch.setattr(country_detect, "named_country", fail)
    slots = await slots_after(tracker("nipo goma", {}, {"country": "KE", "country_source": "phone"}))
    assert slots["country"] == "KE" and slots["country_source"] == "phone"


def test_pin_country_from_the_town_index() -> None:
    assert country_detect.pin_country(-1.2921, 36.8219) == "KE"  # Nairobi
    assert country_detect.pin_country(5.3600, -4.0083) == "CI"  # Abidjan
    assert country_detect.pin_country(0.0, -140.0) is None  # the Pacific: no town near


async def test_a_place_she_names_on_telegram_sets_the_country_with_the_real_gazetteer(haven_env: Any) -> None:
    """The directory's gazetteer (slow to load once): "estoy en Bogotá" gives Colombia."""
    slots = await slots_after(tracker("estoy en Bogotá y tengo miedo", {"language": "es"}, {"country_source": None},
                                      ("Bogotá",)))
    assert slots["country"] == "CO" and slots["country_source"] == "place"
    # A word that is also a town's name, not tagged as a place, changes nothing ("porta": door).
    untagged = await slots_after(tracker("ele está quebrando a porta, socorro", {"language": "pt"}, {"country_source": None}))
    assert "country" not in untagged
    assert country_detect.named_country("je suis à Abidjan", "fr") == "CI"
    assert country_detect.named_country("hola", "es") is None
