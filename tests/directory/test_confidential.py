"""A confidential place (a shelter) never leaks its street address or coordinates, on any path."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from actions.services import ActionFindService, ActionServicesMap, ActionServicesMore, ActionServicesPick

from .conftest import NOON_UTC
from .helpers import Conversation

SECRET = "Confidential demo address"


def shelter_coordinates() -> list[tuple[float, float]]:
    from bot.directory.models import Location
    from bot.store.db import session_scope

    with session_scope() as session:
        rows = session.execute(select(Location.latitude, Location.longitude).where(Location.confidential.is_(True))).all()
    assert rows, "the demo directory has confidential shelters"
    return [(float(a), float(b)) for a, b in rows]


def leaks(blob: str, coordinates: list[tuple[float, float]]) -> list[str]:
    """The secret address, or any confidential coordinate written with 2+ decimals."""
    found = [SECRET] if SECRET.lower() in blob.lower() else []
    for lat, lon in coordinates:
        for value in (lat, lon):
            for decimals in (2, 3, 4, 5):
                text = f"{value:.{decimals}f}"
                if text in blob:
                    found.append(text)
    return found


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "telegram", "rest"])
async def test_no_path_leaks_a_shelter(demo_db: str, channel: str) -> None:
    coordinates = shelter_coordinates()
    seen: list[str] = []
    for language, country, place in [("en", "KE", "nakuru"), ("fr", "SN", "dakar"), ("es", "PE", "lima"), ("pt", "MZ", "maputo")]:
        chat = Conversation(channel=channel, slots={"language": language, "country": country}, now=NOON_UTC)
        turns = [await chat.say(ActionFindService(), f"shelter {place}", "find_service", [{"entity": "service_type", "value": "shelter"}])]
        shown = len(chat.slots["services_results"]["items"])
        for n in range(1, shown + 1):
            turns.append(await chat.say(ActionServicesPick(), str(n), "services_pick", [{"entity": "choice", "value": str(n)}]))
            turns.append(await chat.say(ActionServicesMap(), str(n), "services_map", [{"entity": "choice", "value": str(n)}]))
        turns.append(await chat.say(ActionServicesMore(), "more", "services_more"))
        for turn in turns:
            seen.append(turn.all_text())
            seen.append(json.dumps([{k: v for k, v in m.items()} for m in turn.messages], ensure_ascii=False, default=str))
        seen.append(json.dumps(chat.slots, default=str))
        responses = [r for t in turns for r in t.responses]
        assert "utter_services_confidential" in responses  # the shelter was listed and asked about
    blob = "\n".join(seen)
    assert leaks(blob, coordinates) == []
    assert "within about" in blob or "moins de" in blob or "como máximo" in blob or "no máximo" in blob


async def test_the_shelter_gives_its_public_phone_instead(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    await chat.say(ActionFindService(), "shelter in nakuru", "find_service", [{"entity": "service_type", "value": "shelter"}])
    turn = await chat.say(ActionServicesPick(), "the first one", "services_pick")
    assert turn.responses == ["utter_services_confidential"]
    text = turn.texts()[0]
    assert text.startswith("For everyone's safety, place number 1 keeps its address private. Call +44 7700 9000")


def test_confidential_entries_carry_no_address_and_no_location_phone(demo_db: str) -> None:
    from bot.directory.search import get_index

    shelters = [e for e in get_index().by_key.values() if e.confidential]
    assert shelters
    for e in shelters:
        assert e.address == "" and e.directions == "" and e.phones


def test_distance_is_coarse(demo_db: str) -> None:
    from bot.directory.geo import coarse_km
    from bot.directory.present import distance_text
    from bot.directory.search import get_index

    shelter = next(e for e in get_index().by_key.values() if e.confidential)
    assert [coarse_km(d) for d in (0.0, 0.3, 4.9, 5.1, 12, 160)] == [5, 5, 5, 10, 20, 200]
    assert distance_text(shelter, 0.01, "en") == "within about 5 km"
    assert distance_text(shelter, 7.2, "sw") == "ndani ya takriban km 10"


def test_gazetteer_localities_never_come_from_confidential_places(demo_db: str) -> None:
    from bot.directory.gazetteer import directory_localities
    from bot.store.db import session_scope

    coordinates = shelter_coordinates()
    with session_scope() as session:
        localities = directory_localities(session)
    assert localities
    secret = {(round(a, 4), round(b, 4)) for a, b in coordinates}
    assert not any((round(loc.lat, 4), round(loc.lon, 4)) in secret for loc in localities)
    # Only public locations give place names (a shelter alone in a town adds nothing).
    from bot.directory.models import Location

    with session_scope() as session:
        public_names = {n for row in session.execute(select(Location.locality, Location.city).where(Location.confidential.is_(False))) for n in row if n}
    assert {loc.name for loc in localities} <= public_names


def test_map_url_is_never_built_for_a_confidential_place(demo_db: str) -> None:
    from bot.directory.present import map_url
    from bot.directory.search import get_index

    for entry in get_index().by_key.values():
        assert (map_url(entry) is None) == (entry.confidential or entry.lat is None)
