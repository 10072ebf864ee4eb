"""The service-finder actions with Tracker + CollectingDispatcher, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from actions.services import ActionFindService, ActionServicesMap, ActionServicesMore, ActionServicesPick

from .conftest import NOON_UTC
from .helpers import Conversation, lock_screen_problems

FIND, MORE, PICK, MAP = ActionFindService(), ActionServicesMore(), ActionServicesPick(), ActionServicesMap()


def stype(value: str) -> list[dict[str, Any]]:
    return [{"entity": "service_type", "value": value}]


def choice(n: int) -> list[dict[str, Any]]:
    return [{"entity": "choice", "value": str(n)}]


def test_action_names_follow_the_classes() -> None:
    assert [a.name() for a in (FIND, MORE, PICK, MAP)] == ["action_find_service", "action_services_more", "action_services_pick", "action_services_map"]


async def test_typed_place_gives_the_nearest_of_the_type(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "where is the nearest gender desk in nakuru", "find_service", stype("gender_desk"))
    assert turn.responses == ["utter_services_results", "utter_services_demo_notice"]
    text = turn.texts()[0]
    assert text.startswith("Here are the nearest places that can help you, around Nakuru")
    assert "1. DEMO Nakuru Gender Desk (demo)" in text
    assert "open now, 24 hours" in text and "details checked Sep 2026" in text
    assert chat.slots["services_location"]["country"] == "KE"
    assert chat.slots["services_query"]["types"] == ["gender_desk"]
    assert chat.slots["services_results"]["total"] == 1  # the next gender desk is in Nairobi, 140 km away
    assert lock_screen_problems(turn.texts()) == []


async def test_location_pin(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    pin = {"location": {"lat": -1.9441, "lon": 30.0619}}  # Kigali
    turn = await chat.say(FIND, "", "inform_location", metadata=pin)
    assert turn.responses[0] == "utter_services_results"
    assert "around your location" in turn.texts()[0] and "DEMO" in turn.texts()[0]
    assert chat.slots["services_location"] == {"lat": -1.944, "lon": 30.062, "label": "your location", "country": "RW", "pin": True}
    directions = await chat.say(PICK, "how do i get to number 1", "services_pick")
    assert directions.responses == ["utter_services_directions"]
    assert " m away, to the " in directions.texts()[0] and " of you" in directions.texts()[0]


async def test_ask_for_the_place_then_use_it(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    first = await chat.say(FIND, "i need a shelter tonight", "find_service", stype("shelter"))
    assert first.responses == ["utter_services_ask_location"]
    assert first.rendered()[0].get("custom") == {"request_location": True}
    second = await chat.say(FIND, "im in nakuru near the stage", "inform_location", [{"entity": "place", "value": "nakuru"}])
    assert second.responses[0] == "utter_services_results"
    assert "DEMO Nakuru Safe House" in second.texts()[0]
    assert "within about 5 km" in second.texts()[0]


async def test_ambiguous_place_numbered_choices_then_pick(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "rongai", "inform_location")
    assert turn.responses == ["utter_services_choose_place"]
    buttons = turn.rendered()[0]["buttons"]
    assert [b["payload"] for b in buttons] == ['/services_pick{"choice": "1"}', '/services_pick{"choice": "2"}']
    assert buttons[0]["title"].startswith("Ongata Rongai") and "(Kenya)" in buttons[0]["title"]
    picked = await chat.say(PICK, '/services_pick{"choice": "1"}', "services_pick", choice(1))
    assert picked.responses[0] == "utter_services_results"
    assert "DEMO Ongata Rongai Gender Desk" in picked.texts()[0]
    assert chat.slots["services_choices"] is None


async def test_unknown_place_asks_for_a_nearby_town(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "niko kamukunji", "inform_location")
    assert turn.responses == ["utter_services_place_unknown", "utter_services_meanwhile"]
    assert turn.texts()[0] == 'Sorry, I could not find "kamukunji" on my map. What is the nearest bigger town?'
    assert "1195" in turn.texts()[1] and "999" in turn.texts()[1]  # her country's numbers meanwhile
    assert "services_location" not in chat.slots


async def test_more_then_the_second_one_then_map(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    await chat.say(FIND, "help near kibera", "find_service")
    more = await chat.say(MORE, "more", "services_more")
    assert more.responses[0] == "utter_services_more_results"
    assert "\n\n4. " in "\n\n" + more.texts()[0].split(":\n\n", 1)[1]
    assert len(chat.slots["services_results"]["items"]) == 6
    directions = await chat.say(PICK, "the second one", "services_pick")
    assert directions.responses == ["utter_services_directions"]
    text = directions.texts()[0]
    assert text.startswith("Here is how to find place number 2 on the list:")
    assert "Fictional demo address" in text and "near the centre" in text and "Phone: +44 7700 900" in text
    link = await chat.say(MAP, "show number 1 on a map", "services_map")
    assert link.responses == ["utter_services_map"]
    assert "https://www.openstreetmap.org/?mlat=" in link.texts()[0]
    for _ in range(20):
        turn = await chat.say(MORE, "more", "services_more")
        if turn.responses == ["utter_services_no_more"]:
            break
    assert turn.responses == ["utter_services_no_more"]


async def test_map_link_only_on_request(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "gender desk in mombasa", "find_service", stype("gender_desk"))
    assert "openstreetmap" not in turn.all_text()


@pytest.mark.parametrize("channel", ["sms", "whatsapp", "telegram", "rest"])
async def test_results_shaped_per_channel(demo_db: str, channel: str) -> None:
    chat = Conversation(channel=channel, now=NOON_UTC)
    turn = await chat.say(FIND, "shelter in nairobi", "find_service", stype("shelter"))
    reply = turn.rendered()[0]
    text, payloads = reply["text"], [b["payload"] for b in reply["buttons"]]
    if channel == "sms":
        assert text.startswith("Nearest places that can help you, near Nairobi:\n1. ")
        assert "details checked" not in text and len(text) < 480
    if channel == "whatsapp":
        assert "*1.* DEMO Nairobi Safe House" in text
    if channel == "telegram":
        # a map button per place that has a public location, none for the confidential one
        assert all(p.startswith("/services_map") or p == "/services_more" for p in payloads)
        assert '/services_map{"choice": "1"}' not in payloads  # 1 is the confidential safe house
    else:
        assert payloads[:1] == ['/services_pick{"choice": "1"}']
    assert lock_screen_problems(turn.texts()) == []


async def test_in_spanish_in_peru(demo_db: str) -> None:
    chat = Conversation(slots={"language": "es", "country": "PE"}, now=NOON_UTC)
    turn = await chat.say(FIND, "estoy en miraflores lima", "inform_location")
    text = turn.texts()[0]
    assert text.startswith("Estos son los lugares de ayuda más cercanos a ti, cerca de Miraflores")
    assert "DEMO Centro integral Miraflores" in text and "a " in text
    assert turn.texts()[-1].startswith("Ten en cuenta: son fichas de DEMOSTRACIÓN")


async def test_hotline_needs_no_location(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "give me the gbv hotline", "find_service", stype("hotline"))
    assert turn.responses == ["utter_hotlines"]
    assert "1195" in turn.texts()[0]


async def test_nothing_within_a_sensible_radius(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    # Mandera: over 300 km from any demo service (Lodwar now widens to Eldoret: test_widening.py)
    turn = await chat.say(FIND, "", "inform_location", metadata={"location": {"lat": 3.94, "lon": 41.86}})
    assert turn.responses == ["utter_services_nothing_near"]
    assert "within 300 km" in turn.texts()[0] and "1195" in turn.texts()[0]


async def test_nothing_open_gives_open_ones_and_the_hotline(demo_db: str) -> None:
    sunday_3am_nairobi = datetime(2026, 11, 22, 0, 0, tzinfo=timezone.utc)
    chat = Conversation(now=sunday_3am_nairobi)
    turn = await chat.say(FIND, "counselling in kibera", "find_service", stype("counselling"))
    assert turn.responses[:3] == ["utter_services_results", "utter_services_hotline_247", "utter_services_demo_notice"]
    assert "closed" in turn.texts()[0]
    assert "1195" in turn.texts()[1]


async def test_empty_directory_says_so(db_url: str, gazetteer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.directory import finder, search

    search.invalidate()
    monkeypatch.setattr(finder, "_gazetteer", lambda: gazetteer)
    turn = await Conversation(now=NOON_UTC).say(FIND, "im in nakuru", "inform_location")
    assert turn.responses == ["utter_services_empty"] and "1195" in turn.texts()[0]


async def test_failure_is_never_silent(demo_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.directory import finder

    def broken() -> Any:
        raise RuntimeError("database down")

    monkeypatch.setattr(finder, "get_index", broken)
    turn = await Conversation(now=NOON_UTC).say(FIND, "im in nakuru", "inform_location")
    assert turn.responses == ["utter_services_unavailable"] and "1195" in turn.texts()[0]


async def test_follow_ups_without_a_search_ask_where(demo_db: str) -> None:
    for action, text, intent in ((MORE, "more", "services_more"), (PICK, "the second one", "services_pick"), (MAP, "map", "services_map")):
        turn = await Conversation(now=NOON_UTC).say(action, text, intent)
        assert turn.responses == ["utter_services_ask_location"]


async def test_her_words_never_reach_the_logs(demo_db: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from bot.directory import finder

    marker = "zqxmarker"
    caplog.set_level(logging.DEBUG)
    chat = Conversation(now=NOON_UTC)
    await chat.say(FIND, f"im in nakuru {marker}", "inform_location")
    await chat.say(FIND, f"niko {marker}", "inform_location")

    def broken() -> Any:
        raise RuntimeError(f"failed while reading 'im in {marker}'")

    monkeypatch.setattr(finder, "get_index", broken)
    turn = await chat.say(FIND, f"im in nakuru {marker}", "inform_location")
    assert turn.responses == ["utter_services_unavailable"]
    assert "service finder step find_service failed: RuntimeError" in caplog.text
    assert marker not in caplog.text
