"""Service finder actions: find the nearest services, "more", "the second one", "show on map".

Each action reads the tracker into a bot.directory.finder.Turn, runs the finder in a worker thread
(database and gazetteer calls block) and sends its responses by name; /nlg renders them in her
language and shapes them for her channel.

Where she is comes from a location pin (message metadata {"location": {"lat", "lon"}}) or from her
words, read here with the gazetteer rather than by an NLU component: the gazetteer needs the
conversation's country and language to rank namesakes, it must follow directory imports without
retraining the model, an ambiguous or unknown place needs a dialogue turn (numbered choices, "which
town is near you?"), and it keeps the large place index in the action server only.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import countries, i18n
from bot.directory import finder

SLOTS = ("services_location", "services_query", "services_results", "services_choices")


def _pin(tracker: Tracker) -> Optional[tuple[float, float]]:
    """A location pin on the latest message: metadata {"location": {"lat": .., "lon": ..}}."""
    metadata = tracker.latest_message.get("metadata") or {}
    if not metadata:
        for event in reversed(tracker.events):
            if event.get("event") == "user":
                metadata = event.get("metadata") or {}
                break
    location = metadata.get("location") if isinstance(metadata, dict) else None
    if not isinstance(location, dict):
        return None
    # Channel metadata is untyped JSON: float() rejects None / junk (TypeError, ValueError) below.
    raw_lat: Any = location.get("lat", location.get("latitude"))
    raw_lon: Any = location.get("lon", location.get("longitude"))
    try:
        lat = float(raw_lat)
        lon = float(raw_lon)
    except (TypeError, ValueError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def turn_from_tracker(tracker: Tracker, now: Optional[datetime] = None) -> finder.Turn:
    """Everything the finder needs, read from the tracker."""
    language = tracker.get_slot("language")
    return finder.Turn(
        text=str(tracker.latest_message.get("text") or ""),
        intent=str((tracker.latest_message.get("intent") or {}).get("name") or ""),
        language=language if i18n.supported(language) else i18n.DEFAULT_LANGUAGE,
        channel=tracker.get_latest_input_channel(),
        country=(tracker.get_slot("country") or None),
        entities=list(tracker.latest_message.get("entities") or []),
        pin=_pin(tracker),
        location=tracker.get_slot("services_location"),
        query=tracker.get_slot("services_query"),
        results=tracker.get_slot("services_results"),
        choices=tracker.get_slot("services_choices"),
        now=now or datetime.now(timezone.utc),
    )


def send(reply: finder.Reply, dispatcher: CollectingDispatcher, tracker: Tracker) -> List[Dict[Text, Any]]:
    """Dispatch the responses; set only the slots whose value changed."""
    for message in reply.messages:
        args = dict(message)
        name = args.pop("response")
        buttons = args.pop("buttons", None)
        dispatcher.utter_message(response=name, buttons=buttons, **args)
    events = [SlotSet(name, value) for name, value in reply.slots.items() if tracker.get_slot(name) != value]
    return events + _country_from_location(reply.slots.get("services_location"), tracker)


def _country_from_location(location: Any, tracker: Tracker) -> List[Dict[Text, Any]]:
    """Where she is tells her country, unless a stronger source (her choice, her phone) set it."""
    code = location.get("country") if isinstance(location, dict) else None
    source = tracker.get_slot("country_source")
    if not code or not countries.get(code) or not countries.stronger("place", source):
        return []
    if code == tracker.get_slot("country") and source == "place":
        return []
    return [SlotSet("country", code), SlotSet("country_source", "place")]


class _FinderStep:
    """Shared run(): not an Action itself (rasa-sdk registers every Action subclass by name)."""

    step: Callable[[finder.Turn], finder.Reply]

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        turn = turn_from_tracker(tracker)
        reply = await asyncio.to_thread(type(self).step, turn)
        return send(reply, dispatcher, tracker)


class ActionFindService(_FinderStep, Action):
    """Where she is (pin, typed place, or a question), then the nearest services of the type asked."""

    step = staticmethod(finder.find_service)

    def name(self) -> Text:
        return "action_find_service"


class ActionServicesMore(_FinderStep, Action):
    """'More': the next places of the last search."""

    step = staticmethod(finder.more)

    def name(self) -> Text:
        return "action_services_more"


class ActionServicesPick(_FinderStep, Action):
    """'The second one' / '2': a place from the choice list, or directions to a listed service."""

    step = staticmethod(finder.pick)

    def name(self) -> Text:
        return "action_services_pick"


class ActionServicesMap(_FinderStep, Action):
    """'Show it on a map': a map link, only on request, never for a confidential place."""

    step = staticmethod(finder.show_map)

    def name(self) -> Text:
        return "action_services_map"
