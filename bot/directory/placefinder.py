"""Find where she is from what she typed: "im in nakuru near the stage", "niko kibera".

`find_place(gazetteer, text, country, language)` returns a PlaceMatch:
  found      one place, confidently;
  ambiguous  several places share the name: `choices`, ranked by her country, then countries
             speaking her language, then size (the caller asks with numbered choices);
  unknown    she named a place we do not know (the caller asks for a nearby town; never a guess);
  none       no place in the message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable, Optional, Sequence

from bot.directory.gazetteer import Gazetteer, Place
from bot.directory.geo import haversine_km
from bot.text import normalise

SAME_PLACE_KM = 30.0  # namesakes this close are one place (a town and its county, duplicates)
CONTEXT_KM = 60.0  # "miraflores lima": two names this close confirm each other
DOMINANCE = 10  # a namesake this many times bigger than the next is meant unless she says otherwise
FUZZY_ACCEPT = 0.83  # and at least this similar (difflib ratio)
FUZZY_MARGIN = 0.04
SHORT_MESSAGE_TOKENS = 3
MAX_CHOICES = 4
SERVED_BOOST = 10  # a namesake with services near it counts as this many times bigger
Served = Optional[Callable[[Place], bool]]  # "does the directory have services near this place?"


@dataclass
class PlaceMatch:
    status: str  # found | ambiguous | unknown | none
    place: Optional[Place] = None
    choices: list[Place] = field(default_factory=list)
    text: str = ""  # the normalised words that named it
    fuzzy: bool = False


@lru_cache(maxsize=64)
def _official_languages(country: str) -> tuple[str, ...]:
    from babel.languages import get_official_languages

    try:
        return tuple(get_official_languages(country, de_facto=True))
    except Exception:  # noqa: BLE001 - unknown territory
        return ()


def score(place: Place, served: Served = None) -> int:
    """A namesake's size, boosted when the directory has services near it."""
    return place.weight * (SERVED_BOOST if served is not None and served(place) else 1)


def rank_key(place: Place, country: Optional[str], language: Optional[str], served: Served = None) -> tuple[int, int, int, int]:
    """Her country first, then countries speaking her language, then significant places, then
    bigger ones (with services near them counting extra)."""
    return (
        0 if country and place.country == country else 1,
        0 if language and language in _official_languages(place.country) else 1,
        0 if place.significant else 1,
        -score(place, served),
    )


def _dedupe(places: Sequence[Place]) -> list[Place]:
    """Merge namesakes within SAME_PLACE_KM in one country (a town, its county, a directory entry
    for the same town): keep the biggest town (else area, else locality), with the group's weight."""
    order = sorted(places, key=lambda p: ({"town": 0, "admin": 1, "locality": 2}[p.kind], -p.weight))
    groups: list[list[Place]] = []
    for place in order:
        for group in groups:
            head = group[0]
            if head.country == place.country and haversine_km(head.lat, head.lon, place.lat, place.lon) <= SAME_PLACE_KM:
                group.append(place)
                break
        else:
            groups.append([place])
    return [replace(g[0], population=max(p.population for p in g)) for g in groups]


def resolve(candidates: Sequence[Place], country: Optional[str], language: Optional[str], text: str = "", served: Served = None) -> PlaceMatch:
    """One place, or a ranked set of choices (asked when no namesake clearly outweighs the next)."""
    groups = _dedupe(candidates)
    if not groups:
        return PlaceMatch("unknown", text=text)
    ranked = sorted(groups, key=lambda p: rank_key(p, country, language, served))
    if len(ranked) == 1:
        return PlaceMatch("found", ranked[0], text=text)
    in_country = [p for p in ranked if country and p.country == country]
    pool = sorted(in_country or ranked, key=lambda p: -score(p, served))
    top = pool[0]
    if len(pool) == 1 and top.significant:
        return PlaceMatch("found", top, text=text)
    if len(pool) > 1 and top.significant and score(top, served) >= DOMINANCE * score(pool[1], served):
        return PlaceMatch("found", top, text=text)
    return PlaceMatch("ambiguous", choices=ranked[:MAX_CHOICES], text=text)


class _Message:
    def __init__(self, gaz: Gazetteer, text: str) -> None:
        self.norm = normalise(text)
        self.doc = gaz.nlp.make_doc(self.norm)
        self.tokens: list[str] = [t.text for t in self.doc]
        words = [w for w in text.replace("\n", " ").split(" ") if w]
        self.capitalised = {normalise(w) for w in words[1:] if w[:1].isupper()}
        self.short = len(self.tokens) <= SHORT_MESSAGE_TOKENS

    def cue_before(self, gaz: Gazetteer, start: int) -> bool:
        return start > 0 and self.tokens[start - 1] in gaz.config.cues


def _candidates(gaz: Gazetteer, phrase: str) -> list[Place]:
    """Places for a phrase; when some are named by their own name, namesakes by an alternate name
    (old or foreign names of other towns) are dropped."""
    found = gaz.lookup(phrase)
    primary = [p for p, own in found if own]
    return primary or [p for p, _ in found]


def _accepted(gaz: Gazetteer, msg: _Message, start: int, end: int, places: Sequence[Place], language: Optional[str], country: Optional[str]) -> bool:
    """Is this span really a place here, not an everyday word that happens to name a village?"""
    words = msg.tokens[start:end]
    phrase = " ".join(words)
    if len(phrase) < 3:
        return False
    cue = msg.cue_before(gaz, start)
    common = all(w in gaz.config.not_places for w in words)
    if common:
        if not cue:
            return False
        proper = words[0] in msg.capitalised
        big = [p for p in places if p.population >= 100000 and (not language or language in _official_languages(p.country))]
        return proper or bool(big)
    if country and all(p.country != country for p in places) and not (cue or msg.short):
        return False  # a namesake abroad ("villa el salvador" is not Salvador, Brazil) needs "in ..."
    strong = any(p.significant for p in places) and len(phrase) >= 4
    return strong or cue or msg.short


def _fuzzy_spans(gaz: Gazetteer, msg: _Message) -> list[tuple[int, int]]:
    """Word windows worth a fuzzy look: right after a cue, or the whole of a short message."""
    starts = [i for i in range(len(msg.tokens)) if msg.cue_before(gaz, i)]
    if msg.short:
        starts = sorted(set(starts) | {0})
    windows = []
    for i in starts:
        for n in (3, 2, 1):
            words = msg.tokens[i : i + n]
            if len(words) < n or any(w in gaz.config.not_places or w in gaz.config.cues for w in words):
                continue
            windows.append((i, i + n))
    return windows


def _fuzzy_threshold(phrase: str, name: str) -> float:
    """About one wrong letter: the longer the names, the closer they must be."""
    return max(1.0 - 1.0 / max(len(phrase), len(name)), FUZZY_ACCEPT) - 1e-9


def _fuzzy_match(gaz: Gazetteer, msg: _Message, country: Optional[str], language: Optional[str], served: Served = None) -> Optional[PlaceMatch]:
    for start, end in _fuzzy_spans(gaz, msg):
        phrase = " ".join(msg.tokens[start:end])
        if len(phrase) < 5:
            continue
        close = [(name, score) for name, score in gaz.fuzzy(phrase) if score >= _fuzzy_threshold(phrase, name)]
        if not close:
            continue
        best_name, best = close[0]
        rivals = [name for name, score in close[1:] if score > best - FUZZY_MARGIN]
        if rivals:
            places = [p for name in [best_name, *rivals] for p in _candidates(gaz, name)]
            match = resolve(places, country, language, phrase, served)
            if match.status == "found":
                match.status = "ambiguous"
                match.choices, match.place = [match.place], None  # type: ignore[list-item]
        else:
            match = resolve(_candidates(gaz, best_name), country, language, phrase, served)
        match.fuzzy = True
        return match
    return None


def _unknown_mention(gaz: Gazetteer, msg: _Message) -> Optional[str]:
    """Words after a location cue that are not everyday words: a place we do not know."""
    for i in range(1, len(msg.tokens)):
        if msg.cue_before(gaz, i):
            word = msg.tokens[i]
            if word not in gaz.config.not_places and word not in gaz.config.cues and len(word) >= 3 and word.isalpha():
                return word
    if msg.short and msg.tokens and all(t.isalpha() and t not in gaz.config.not_places for t in msg.tokens):
        return " ".join(msg.tokens)
    return None


def find_place(gaz: Gazetteer, text: str, country: Optional[str] = None, language: Optional[str] = None, served: Served = None) -> PlaceMatch:
    """The place named in `text` (see the module docstring); `served` tells which namesakes have
    services near them (they rank higher)."""
    msg = _Message(gaz, text or "")
    if not msg.tokens:
        return PlaceMatch("none")
    named_countries = gaz.country_mentions(msg.tokens)
    found_spans = gaz.match_spans(msg.doc)
    other_names = [(s, e) for s, e in found_spans if not any(cs <= s and e <= ce for cs, ce in named_countries)]
    if not other_names:
        named_countries = {}  # "estoy en mexico": the name is the place itself
    if len(set(named_countries.values())) == 1:
        country = next(iter(named_countries.values()))  # "lima peru": she said which country
    spans = []
    for start, end in found_spans:
        if any(s <= start and end <= e for s, e in named_countries):
            continue  # a country's name, not a town called "Peru"
        places = _candidates(gaz, " ".join(msg.tokens[start:end]))
        if named_countries:
            places = [p for p in places if p.country in named_countries.values()] or places
        if not places or not _accepted(gaz, msg, start, end, places, language, country):
            continue
        if end < len(msg.tokens) and msg.tokens[end] in gaz.config.diminutives:
            # "Kisumu Ndogo" is not Kisumu: if we do not know it, ask rather than guess.
            return PlaceMatch("unknown", text=" ".join(msg.tokens[start : end + 1]))
        spans.append((start, end, _dedupe(places)))
    if not spans:
        fuzzy = _fuzzy_match(gaz, msg, country, language, served)
        if fuzzy is not None:
            return fuzzy
        unknown = _unknown_mention(gaz, msg)
        return PlaceMatch("unknown", text=unknown) if unknown else PlaceMatch("none")
    start, end, places = _choose_span(gaz, msg, spans)
    return resolve(places, country, language, " ".join(msg.tokens[start:end]), served)


def _choose_span(gaz: Gazetteer, msg: _Message, spans: list[tuple[int, int, list[Place]]]) -> tuple[int, int, list[Place]]:
    """One name among several: when they point to the same area ("miraflores lima"), the most
    specific one, keeping only namesakes near the others; else the one after a location cue."""
    if len(spans) == 1:
        return spans[0]
    related = []
    for i, (start, end, places) in enumerate(spans):
        others = [p for j, (_, _, ps) in enumerate(spans) if j != i for p in ps]
        near = [p for p in places if any(haversine_km(p.lat, p.lon, o.lat, o.lon) <= CONTEXT_KM for o in others)]
        if near:
            related.append((start, end, near))
    if related:
        kinds = {"locality": 0, "town": 1, "admin": 2}
        return min(related, key=lambda s: (min(kinds[p.kind] for p in s[2]), min(p.weight for p in s[2])))
    cued = [s for s in spans if msg.cue_before(gaz, s[0])]
    return (cued or spans)[0]
