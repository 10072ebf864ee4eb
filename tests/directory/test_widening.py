"""Before saying "nothing near": widen the service types, then the distance, and say what was
widened (issue 15: "nothing within 100 km of Kisumu" while Kisumu had two services)."""

from __future__ import annotations

from typing import Any

import pytest

from actions.services import ActionFindService

from .conftest import NOON_UTC
from .helpers import Conversation, lock_screen_problems

FIND = ActionFindService()


def stype(value: str) -> list[dict[str, Any]]:
    return [{"entity": "service_type", "value": value}]


@pytest.mark.parametrize(
    "lang,text",
    [("en", "i need a safe house in kisumu"), ("fr", "je cherche un foyer à kisumu"),
     ("sw", "natafuta nyumba salama kisumu")],
)
async def test_type_widened_before_nothing_near(demo_db: str, lang: str, text: str) -> None:
    """No shelter within 100 km of Kisumu, but a one-stop centre and legal aid in town."""
    chat = Conversation(now=NOON_UTC)
    chat.slots["language"] = lang
    turn = await chat.say(FIND, text, "find_service", stype("shelter"))
    assert turn.responses[:2] == ["utter_services_widened_types", "utter_services_results"], turn.responses
    results = turn.texts()[1]
    assert "Kisumu" in results and "DEMO" in results
    assert "Kisumu" in turn.texts()[0]
    assert lock_screen_problems(turn.texts()) == []


async def test_distance_widened_and_said(demo_db: str) -> None:
    """Lodwar: nothing within 100 km of any type; Eldoret's centre is about 290 km away."""
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "", "inform_location", metadata={"location": {"lat": 3.12, "lon": 35.6}})
    assert turn.responses[:2] == ["utter_services_widened_distance", "utter_services_results"], turn.responses
    assert "300 km" in turn.texts()[0]
    assert "Eldoret" in turn.texts()[1]


async def test_types_then_distance(demo_db: str) -> None:
    """A safe house near Lodwar: neither the type nor 100 km has anything; both widened."""
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "a safe house please", "find_service", stype("shelter"),
                          metadata={"location": {"lat": 3.12, "lon": 35.6}})
    assert turn.responses[0] == "utter_services_widened_both", turn.responses
    assert "kind you asked for" in turn.texts()[0] and "300 km" in turn.texts()[0]


async def test_nothing_even_after_widening(demo_db: str) -> None:
    """Mandera, far from every demo service: only then "nothing near", with her country's line."""
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "", "inform_location", metadata={"location": {"lat": 3.94, "lon": 41.86}})
    assert turn.responses == ["utter_services_nothing_near"]
    assert "300 km" in turn.texts()[0] and "1195" in turn.texts()[0]


async def test_asked_type_found_is_not_widened(demo_db: str) -> None:
    chat = Conversation(now=NOON_UTC)
    turn = await chat.say(FIND, "legal aid in kisumu", "find_service", stype("legal_aid"))
    assert turn.responses[0] == "utter_services_results"
    assert not any(r.startswith("utter_services_widened") for r in turn.responses)
