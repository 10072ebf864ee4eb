"""The service finder's conversation logic, free of Rasa: a Turn in, a Reply (responses + slots) out.

actions/services.py reads the tracker into a Turn, runs these functions in a worker thread (they
touch the database and the gazetteer) and sends the Reply. Slots remember the last search so
"more", "the second one" and "show it on a map" can follow.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional

from bot import countries, i18n
from bot.directory import followup, present
from bot.directory.placefinder import PlaceMatch, find_place
from bot.directory.fields import normalise_type
from bot.directory.search import DEFAULT_K, DEFAULT_RADIUS_KM, DirectoryIndex, Hit, get_index, search

log = logging.getLogger("haven.directory.finder")
PIN_DECIMALS = 3  # about 100 m: enough to find the nearest place, no more precise than needed
WIDE_RADIUS_KM = 300.0  # the distance a search widens to before saying "nothing near"


@dataclass
class Turn:
    """What the finder needs from the conversation."""

    text: str = ""
    intent: str = ""
    language: str = "en"
    channel: Optional[str] = None
    country: Optional[str] = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    pin: Optional[tuple[float, float]] = None
    location: Optional[dict[str, Any]] = None
    query: Optional[dict[str, Any]] = None
    results: Optional[dict[str, Any]] = None
    choices: Optional[list[dict[str, Any]]] = None
    now: Optional[datetime] = None

    def entity_values(self, name: str) -> list[str]:
        return [str(e.get("value")) for e in self.entities if e.get("entity") == name and e.get("value") is not None]

    @property
    def typed_text(self) -> str:
        """Her words, or '' for a button payload ("/intent{...}")."""
        return "" if self.text.startswith("/") else self.text


@dataclass
class Reply:
    """Responses to send (name + arguments, optional buttons) and slots to set."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)

    def say(self, response: str, buttons: Optional[list[dict[str, str]]] = None, /, **args: Any) -> None:
        message: dict[str, Any] = {"response": response, **args}
        if buttons:
            message["buttons"] = buttons
        self.messages.append(message)

    @property
    def responses(self) -> list[str]:
        return [m["response"] for m in self.messages]


def _gazetteer() -> Any:
    from bot.directory.gazetteer import get_gazetteer

    return get_gazetteer()


def _numbers(country: Optional[str], language: str) -> dict[str, str]:
    return countries.numbers(country, language)


def guarded(step: Callable[[Turn], Reply]) -> Callable[[Turn], Reply]:
    """Never fail silently: on any error, say so and give her country's free line."""

    def run(turn: Turn) -> Reply:
        try:
            return step(turn)
        except Exception as exc:  # noqa: BLE001 - she must always get an answer
            # The type and code location only: an exception's message may quote her words.
            where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
            log.error(
                "service finder step %s failed: %s at %s:%s",
                step.__name__, type(exc).__name__, where.filename if where else "?", where.lineno if where else "?",
            )  # fmt: skip
            reply = Reply()
            reply.say("utter_services_unavailable", **_numbers(turn.country, turn.language))
            return reply

    run.__name__ = step.__name__
    return run


# ------------------------------------------------------------------ pieces


def query_from_turn(turn: Turn) -> dict[str, Any]:
    """Types (entities first, then words), open-now and language wishes; a bare location keeps the
    previous search's types."""
    types = [t for t in (normalise_type(v) for v in turn.entity_values("service_type")) if t]
    if not types:
        types = followup.types_in_text(turn.typed_text)
    if not types and turn.intent == "inform_location" and turn.query:
        types = list(turn.query.get("types") or [])
    return {
        "types": sorted(set(types)) or None,
        "open_now": followup.wants_open_now(turn.typed_text),
        "languages": followup.languages_asked(turn.typed_text) or None,
    }


def pin_location(lat: float, lon: float, language: str) -> dict[str, Any]:
    from bot.directory.geo import towns

    town, km = towns().nearest(lat, lon)
    return {
        "lat": round(lat, PIN_DECIMALS),
        "lon": round(lon, PIN_DECIMALS),
        "label": i18n.text("services_your_location", language),
        "country": town.country if km < 300 else None,
        "pin": True,
    }


def place_location(place: Any, turn: Turn) -> dict[str, Any]:
    label = present.place_label(place.name, place.parent, place.country, turn.language, with_country=place.country != turn.country)
    return {"lat": place.lat, "lon": place.lon, "label": label, "country": place.country, "pin": False}


SERVED_KM = 30.0  # a namesake "has services near it" when one is listed within this distance


def services_near_predicate() -> Callable[[Any], bool]:
    """Whether the directory lists any place that helps within SERVED_KM of a place."""
    index = get_index()

    def served(place: Any) -> bool:
        return bool(len(index)) and bool(index.within(place.lat, place.lon, SERVED_KM))

    return served


def match_place(turn: Turn) -> PlaceMatch:
    """The place in her words; else in the NLU `place` entity (read leniently, as a short reply)."""
    gaz = _gazetteer()
    served = services_near_predicate()
    match = find_place(gaz, turn.typed_text, turn.country, turn.language, served) if turn.typed_text else PlaceMatch("none")
    if match.status in ("found", "ambiguous"):
        return match
    for value in turn.entity_values("place"):
        from_entity = find_place(gaz, value, turn.country, turn.language, served)
        if from_entity.status in ("found", "ambiguous"):
            return from_entity
        if from_entity.status == "unknown":
            match = from_entity
    return match


def _items(turn: Turn, fresh: bool) -> list[list[int]]:
    if fresh or not turn.results:
        return []
    return [list(item) for item in turn.results.get("items") or []]


def _present(turn: Turn, reply: Reply, location: dict[str, Any], query: dict[str, Any], offset: int, index: Optional[DirectoryIndex] = None) -> Reply:
    """Search around `location` and say the results (page at `offset`)."""
    index = index or get_index()
    lang = turn.language
    result, widened = widening_search(index, location, query, offset, turn.now)
    numbers = _numbers(location.get("country") or turn.country, lang)
    reply.slots.update(services_location=location, services_query=query, services_choices=None)
    if result.status == "empty":
        reply.say("utter_services_empty", **numbers)
        return reply
    if result.status == "nothing_near":
        reply.say("utter_services_nothing_near", place=location["label"], radius=int(WIDE_RADIUS_KM), **numbers)
        return reply
    if widened and offset == 0:
        say_widened(reply, widened, location["label"])
    precise = bool(location.get("pin"))  # a pin is where she is; a town name only says roughly
    items = _items(turn, fresh=offset == 0)
    first = len(items) + 1
    items += [[h.entry.service_id, h.entry.location_id] for h in result.hits]
    more = result.total > offset + len(result.hits)
    reply.say(
        "utter_services_results" if offset == 0 else "utter_services_more_results",
        present.result_buttons(result.hits, first, lang, turn.channel, more),
        place=location["label"],
        results=present.results_text(result.hits, first, lang, turn.channel, turn.now, precise),
    )
    shown: list[Hit] = list(result.hits)
    if result.language_relaxed and query.get("languages"):
        reply.say("utter_services_language_relaxed", language_name=present.language_name(query["languages"][0], lang))
    if result.status == "none_open":
        if result.open_alternatives:
            alt_first = len(items) + 1
            items += [[h.entry.service_id, h.entry.location_id] for h in result.open_alternatives]
            shown += result.open_alternatives
            alternatives = present.results_text(result.open_alternatives, alt_first, lang, turn.channel, turn.now, precise)
            reply.say("utter_services_open_alternatives", results=alternatives)
        hotline = result.hotline.phones[0] if result.hotline and result.hotline.phones else numbers["hotline_number"]
        reply.say("utter_services_hotline_247", **dict(numbers, hotline_number=hotline))
    if any(h.entry.is_demo for h in shown):
        reply.say("utter_services_demo_notice")
    reply.slots["services_results"] = {"items": items, "offset": offset, "total": result.total}
    return reply


def widening_search(index: DirectoryIndex, location: dict[str, Any], query: dict[str, Any], offset: int,
                    now: Optional[datetime]) -> tuple[Any, Optional[str]]:
    """Search as asked; when nothing is near, widen the service types first (any place that helps),
    then the distance (WIDE_RADIUS_KM). Returns the result and what was widened: None, "types",
    "distance" or "both"."""

    def run(types: Optional[list[str]], radius: float) -> Any:
        return search(
            index, location["lat"], location["lon"], types=types, k=DEFAULT_K, offset=offset,
            open_now_only=bool(query.get("open_now")), languages=query.get("languages"), now=now,
            country=location.get("country"), radius_km=radius,
        )  # fmt: skip

    types = query.get("types")
    result = run(types, DEFAULT_RADIUS_KM)
    if result.status != "nothing_near":
        return result, None
    steps: list[tuple[Optional[list[str]], float, str]] = []
    if types:
        steps.append((None, DEFAULT_RADIUS_KM, "types"))
    steps.append((types, WIDE_RADIUS_KM, "distance"))
    if types:
        steps.append((None, WIDE_RADIUS_KM, "both"))
    for step_types, radius, kind in steps:
        widened = run(step_types, radius)
        if widened.status != "nothing_near":
            return widened, kind
    return result, None


def say_widened(reply: Reply, widened: str, place: str) -> None:
    """Say what was widened before the results (the kind of place she asked for, the distance);
    the type is not named, so the first words stay neutral on a lock screen."""
    reply.say(f"utter_services_widened_{widened}", place=place, radius=int(DEFAULT_RADIUS_KM), wide_radius=int(WIDE_RADIUS_KM))


def say_meanwhile(reply: Reply, country: Optional[str], language: str) -> None:
    """Her country's numbers while we work out where she is (never a wait with no number)."""
    numbers = _numbers(country, language)
    same = not numbers["hotline_number"] or numbers["hotline_number"] == numbers["emergency_number"]
    reply.say("utter_services_meanwhile_emergency" if same else "utter_services_meanwhile", None, **numbers)


def _hotlines(turn: Turn, reply: Reply, country: Optional[str], query: dict[str, Any]) -> Reply:
    """She asked for a number to call: her country's lines (no location needed)."""
    numbers = _numbers(country, turn.language)
    reply.say("utter_hotlines", **numbers)
    index = get_index()
    lines = [e for e in index.hotlines if e.country == country and e.phones and not e.is_demo]
    if lines:
        text = "\n".join(f"{i}. {e.name}: {e.phones[0]}" for i, e in enumerate(lines[:5], 1))
        reply.say("utter_services_hotline_list", results=text, country_name=numbers["country_name"])
    reply.slots["services_query"] = query
    return reply


def _ask_choice(turn: Turn, reply: Reply, match: PlaceMatch, query: dict[str, Any]) -> Reply:
    choices = []
    for place in match.choices:  # in a choice list, always say the country
        location = place_location(place, turn)
        location["label"] = present.place_label(place.name, place.parent, place.country, turn.language)
        choices.append(location)
    reply.slots.update(services_choices=choices, services_query=query)
    reply.say("utter_services_choose_place", present.place_choice_buttons([c["label"] for c in choices]))
    return reply


# ------------------------------------------------------------------ the four behaviours


@guarded
def find_service(turn: Turn) -> Reply:
    """'Where can I go?': find where she is, then the nearest services."""
    reply = Reply()
    query = query_from_turn(turn)
    if query["types"] == ["hotline"]:
        country = (turn.location or {}).get("country") or turn.country
        return _hotlines(turn, reply, country, query)
    if turn.pin is not None:
        return _present(turn, reply, pin_location(turn.pin[0], turn.pin[1], turn.language), query, 0)
    match = match_place(turn)
    if match.status == "found":
        return _present(turn, reply, place_location(match.place, turn), query, 0)
    if match.status == "ambiguous":
        return _ask_choice(turn, reply, match, query)
    if turn.choices and _choice(turn, len(turn.choices)) is not None:
        return pick(turn)  # "2" answering the place question, read as a location by NLU
    said_a_place = turn.intent == "inform_location" or bool(turn.entity_values("place"))
    if match.status == "unknown" and said_a_place:
        reply.slots["services_query"] = query
        reply.say("utter_services_place_unknown", place=match.text)
        say_meanwhile(reply, (turn.location or {}).get("country") or turn.country, turn.language)
        return reply
    if turn.location and turn.intent != "inform_location":
        return _present(turn, reply, turn.location, query, 0)
    reply.slots["services_query"] = query
    reply.say("utter_services_ask_location")
    return reply


@guarded
def more(turn: Turn) -> Reply:
    """'More': the next page of the last search."""
    reply = Reply()
    if not turn.location or not turn.results:
        reply.say("utter_services_ask_location")
        return reply
    offset = int(turn.results.get("offset") or 0) + DEFAULT_K
    if offset >= int(turn.results.get("total") or 0):
        reply.say("utter_services_no_more", place=turn.location.get("label", ""), **_numbers(turn.location.get("country") or turn.country, turn.language))
        return reply
    return _present(turn, reply, turn.location, turn.query or {}, offset)


def _choice(turn: Turn, limit: int) -> Optional[int]:
    for value in turn.entity_values("choice"):
        if value.isdigit() and 1 <= int(value) <= limit:
            return int(value)
    return followup.choice_number(turn.typed_text, limit) if turn.typed_text else None


@guarded
def pick(turn: Turn) -> Reply:
    """'The second one': a place from the choice list, or directions to a listed service."""
    reply = Reply()
    if turn.choices:
        n = _choice(turn, len(turn.choices))
        if n is None:
            reply.say("utter_services_pick_unclear", present.place_choice_buttons([c["label"] for c in turn.choices]))
            return reply
        return _present(turn, reply, turn.choices[n - 1], turn.query or {}, 0)
    items = (turn.results or {}).get("items") or []
    if not items:
        reply.say("utter_services_ask_location")
        return reply
    n = _choice(turn, len(items))
    entry = get_index().by_key.get(tuple(items[n - 1])) if n else None
    if entry is None:
        reply.say("utter_services_pick_unclear")
        return reply
    if entry.confidential:
        reply.say("utter_services_confidential", choice=n, phone=entry.phones[0] if entry.phones else "")
        return reply
    origin = (turn.location["lat"], turn.location["lon"]) if turn.location else None
    precise = bool(turn.location and turn.location.get("pin"))
    reply.say("utter_services_directions", choice=n, details=present.directions_text(entry, origin, turn.language, turn.channel, precise))
    return reply


@guarded
def show_map(turn: Turn) -> Reply:
    """'Show it on a map': a map link for a listed service (never for a confidential one)."""
    reply = Reply()
    items = (turn.results or {}).get("items") or []
    if not items:
        reply.say("utter_services_ask_location")
        return reply
    n = _choice(turn, len(items)) or (1 if len(items) == 1 else None)
    entry = get_index().by_key.get(tuple(items[n - 1])) if n else None
    if entry is None:
        reply.say("utter_services_pick_unclear")
        return reply
    url = present.map_url(entry)
    if url is None:
        reply.say("utter_services_confidential", choice=n, phone=entry.phones[0] if entry.phones else "")
        return reply
    reply.say("utter_services_map", choice=n, map_url=url)
    return reply
