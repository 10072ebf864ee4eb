"""In the report form, when she wants a doctor: the nearest health services first, from where
she said it happened (a pin or a place found in the gazetteer), through the service finder."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Mapping, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import i18n
from bot.directory import finder

HEALTH = "hospital"


def health_turn(place: Mapping[str, Any], tracker: Tracker, language: str) -> Optional[finder.Turn]:
    """A finder turn for the nearest health services around her place; None without coordinates."""
    if place.get("lat") is None or place.get("lon") is None:
        return None
    return finder.Turn(
        text="", intent="find_service", language=language, channel=tracker.get_latest_input_channel(),
        country=tracker.get_slot("country") or place.get("country"),
        entities=[{"entity": "service_type", "value": HEALTH}], pin=(float(place["lat"]), float(place["lon"])),
        now=datetime.now(timezone.utc),
    )


def _find(turn: finder.Turn) -> finder.Reply:
    return finder.find_service(turn)


async def offer_health_service(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """The nearest health services now if her place is known, else how to find one after the form."""
    language = tracker.get_slot("language")
    language = language if i18n.supported(language) else i18n.DEFAULT_LANGUAGE
    place = tracker.get_slot("report_place")
    turn = health_turn(place, tracker, language) if isinstance(place, Mapping) else None
    if turn is None:
        dispatcher.utter_message(response="utter_report_doctor_later")
        return
    reply = await asyncio.to_thread(_find, turn)
    for message in reply.messages:
        args = dict(message)
        name = args.pop("response")
        dispatcher.utter_message(response=name, buttons=args.pop("buttons", None), **args)
    dispatcher.utter_message(response="utter_report_resume")
