"""Nearest-service search: a haversine BallTree per service type, filters, and the fall-backs.

The index is an in-memory snapshot of the directory (services x locations), rebuilt when the
directory changes. A search returns the nearest `k` services of the wanted types within a sensible
radius, each with its distance, hours today and whether it is open now in its own time zone.
If none of them is open, the nearest open ones and the country's 24/7 hotline come with them; if
nothing is within the radius, the result says so (the caller gives the national hotline).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import numpy.typing as npt

from bot.directory import hours as hours_mod
from bot.directory.geo import EARTH_RADIUS_KM
from bot.directory.models import SERVICE_TYPES

DEFAULT_RADIUS_KM = 100.0
DEFAULT_K = 3
PLACE_TYPES = tuple(t for t in SERVICE_TYPES if t != "hotline")  # what "help near me" means
VERSION_CHECK_SECONDS = 5.0
ANY_PLACE = "*"


@dataclass(frozen=True)
class Entry:
    """One service at one location, as search needs it. Confidential entries carry no address,
    no directions and only the service's public phones (the coordinates stay inside the index)."""

    service_id: int
    location_id: int
    external_id: str
    name: str
    service_type: str
    organization: str
    country: str
    time_zone: str
    lat: Optional[float]
    lon: Optional[float]
    confidential: bool = False
    address: str = ""
    area: str = ""
    directions: str = ""
    phones: tuple[str, ...] = ()
    hours: tuple[hours_mod.Interval, ...] = ()
    languages: frozenset[str] = frozenset()
    assured_date: Optional[date] = None
    is_demo: bool = False

    @property
    def always_open(self) -> bool:
        return hours_mod.is_always_open(self.hours)


@dataclass
class Hit:
    entry: Entry
    distance_km: float
    open_now: Optional[bool]
    hours_today: str


@dataclass
class SearchResult:
    """status: ok | none_open | nothing_near | empty (no directory at all)."""

    status: str
    hits: list[Hit] = field(default_factory=list)
    open_alternatives: list[Hit] = field(default_factory=list)
    hotline: Optional[Entry] = None
    total: int = 0
    offset: int = 0
    language_relaxed: bool = False


class DirectoryIndex:
    """BallTrees (haversine) over located entries, one per service type."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        from sklearn.neighbors import BallTree

        entries = list(entries)
        self.located = [e for e in entries if e.lat is not None and e.lon is not None]
        self.hotlines = [e for e in entries if e.service_type == "hotline"]
        self.by_key = {(e.service_id, e.location_id): e for e in entries}
        self.trees: dict[str, tuple[Any, npt.NDArray[np.intp]]] = {}
        types = np.array([e.service_type for e in self.located], dtype=object)
        coords = np.radians(np.array([[e.lat, e.lon] for e in self.located], dtype=float).reshape(-1, 2))
        groups = {stype: types == stype for stype in SERVICE_TYPES}
        groups[ANY_PLACE] = types != "hotline"  # one tree for "any help near me"
        for key, mask in groups.items():
            members = np.flatnonzero(mask) if len(types) else np.array([], dtype=int)
            if len(members):
                self.trees[key] = (BallTree(coords[members], metric="haversine", leaf_size=40), members)

    def __len__(self) -> int:
        return len(self.by_key)

    def _types(self, types: Optional[Iterable[str]]) -> list[str]:
        wanted = set(types or PLACE_TYPES)
        if wanted == set(PLACE_TYPES):
            return [ANY_PLACE] if ANY_PLACE in self.trees else []
        return [t for t in sorted(wanted) if t in self.trees]

    def nearest(self, lat: float, lon: float, k: int = 5, types: Optional[Iterable[str]] = None) -> list[tuple[Entry, float]]:
        """The k nearest entries of these types (default: every place type), nearest first."""
        point = np.radians([[lat, lon]])
        found: list[tuple[float, int]] = []
        for stype in self._types(types):
            tree, members = self.trees[stype]
            dist, idx = tree.query(point, k=min(k, len(members)))
            found += [(float(d), int(members[i])) for d, i in zip(dist[0], idx[0])]
        found.sort()
        return [(self.located[i], d * EARTH_RADIUS_KM) for d, i in found[:k]]

    def within(self, lat: float, lon: float, radius_km: float, types: Optional[Iterable[str]] = None) -> list[tuple[Entry, float]]:
        """Every entry of these types within the radius, nearest first."""
        point = np.radians([[lat, lon]])
        found: list[tuple[float, int]] = []
        for stype in self._types(types):
            tree, members = self.trees[stype]
            idx, dist = tree.query_radius(point, r=radius_km / EARTH_RADIUS_KM, return_distance=True, sort_results=True)
            found += [(float(d), int(members[i])) for d, i in zip(dist[0], idx[0])]
        found.sort()
        return [(self.located[i], d * EARTH_RADIUS_KM) for d, i in found]

    def hotline_for(self, country: Optional[str], now: Optional[datetime] = None) -> Optional[Entry]:
        """The country's hotline from the directory, a 24/7 one first."""
        # Never a demo line: its number is fictional, and a real national line exists (countries.yml).
        lines = [e for e in self.hotlines if e.country == country and e.phones and not e.is_demo]
        lines.sort(key=lambda e: (not e.always_open, e.name))
        return lines[0] if lines else None


def _hit(entry: Entry, km: float, now: Optional[datetime]) -> Hit:
    return Hit(entry, km, hours_mod.open_now(entry.hours, entry.time_zone, now), hours_mod.hours_today_text(entry.hours, entry.time_zone, now))


def search(
    index: DirectoryIndex,
    lat: float,
    lon: float,
    types: Optional[Sequence[str]] = None,
    k: int = DEFAULT_K,
    offset: int = 0,
    open_now_only: bool = False,
    languages: Optional[Sequence[str]] = None,
    radius_km: float = DEFAULT_RADIUS_KM,
    now: Optional[datetime] = None,
    country: Optional[str] = None,
) -> SearchResult:
    """Nearest services around (lat, lon); see the module docstring for the fall-backs."""
    if not len(index):
        return SearchResult("empty")
    candidates = index.within(lat, lon, radius_km, types)
    hotline = index.hotline_for(country or (candidates[0][0].country if candidates else None), now)
    relaxed = False
    if languages:
        wanted = set(languages)
        speaking = [(e, d) for e, d in candidates if e.languages & wanted]
        if speaking:
            candidates = speaking
        else:
            relaxed = bool(candidates)
    if not candidates:
        return SearchResult("nothing_near", hotline=hotline, offset=offset, language_relaxed=relaxed)
    if open_now_only:
        opened = [(e, d) for e, d in candidates if hours_mod.open_now(e.hours, e.time_zone, now)]
        candidates = opened or candidates
    # Hours are worked out only for what is shown (a dense city can have thousands within the radius).
    page = [_hit(e, d, now) for e, d in candidates[offset : offset + k]]
    result = SearchResult("ok", hits=page, total=len(candidates), offset=offset, hotline=hotline, language_relaxed=relaxed)
    if page and not any(h.open_now for h in page):
        result.status = "none_open"
        for e, d in candidates[offset + k :]:
            if len(result.open_alternatives) >= k:
                break
            hit = _hit(e, d, now)
            if hit.open_now:
                result.open_alternatives.append(hit)
    return result


# ------------------------------------------------------------------ the live index


def load_entries(session: Any) -> list[Entry]:
    """A snapshot of every active service at every location."""
    from sqlalchemy import select

    from bot.directory.models import Language, Location, Organization, Phone, Schedule, Service, ServiceAtLocation

    phones: dict[tuple[str, int], list[tuple[int, str]]] = {}
    for sid, lid, number, pos in session.execute(select(Phone.service_id, Phone.location_id, Phone.number, Phone.position)):
        key = ("s", sid) if sid is not None else ("l", lid)
        phones.setdefault(key, []).append((pos, number))
    schedules: dict[int, list[tuple[str, str, str]]] = {}
    for sid, byday, opens, closes in session.execute(select(Schedule.service_id, Schedule.byday, Schedule.opens_at, Schedule.closes_at)):
        schedules.setdefault(sid, []).append((byday, opens, closes))
    languages: dict[int, set[str]] = {}
    for sid, code in session.execute(select(Language.service_id, Language.code).where(Language.service_id.is_not(None))):
        languages.setdefault(sid, set()).add(code)
    rows = session.execute(
        select(Service, Location, Organization.name)
        .join(ServiceAtLocation, ServiceAtLocation.service_id == Service.id)
        .join(Location, Location.id == ServiceAtLocation.location_id)
        .join(Organization, Organization.id == Service.organization_id)
        .where(Service.status == "active")
    )
    entries = []
    for svc, loc, org_name in rows:
        public = [n for _, n in sorted(phones.get(("s", svc.id), []))]
        if not loc.confidential:
            public += [n for _, n in sorted(phones.get(("l", loc.id), [])) if n not in public]
        entries.append(
            Entry(
                service_id=svc.id,
                location_id=loc.id,
                external_id=svc.external_id,
                name=svc.name,
                service_type=svc.service_type,
                organization=org_name,
                country=loc.country,
                time_zone=loc.time_zone,
                lat=loc.latitude,
                lon=loc.longitude,
                confidential=bool(loc.confidential),
                address="" if loc.confidential else ", ".join(p for p in (loc.address_1, loc.locality, loc.city) if p),
                area=", ".join(p for p in (loc.locality, loc.city) if p),
                directions="" if loc.confidential else (loc.transportation or ""),
                phones=tuple(public),
                hours=hours_mod.from_schedule_rows(schedules.get(svc.id, [])),
                languages=frozenset(languages.get(svc.id, set())),
                assured_date=svc.assured_date,
                is_demo=bool(svc.is_demo),
            )
        )
    return entries


def directory_version(session: Any) -> tuple[Any, ...]:
    """A cheap fingerprint of the directory's contents (row counts and last update times)."""
    from sqlalchemy import func, select

    from bot.directory.models import Location, Service, ServiceAtLocation

    svc = session.execute(select(func.count(Service.id), func.max(Service.updated_at))).one()
    loc = session.execute(select(func.count(Location.id), func.max(Location.updated_at))).one()
    sal = session.execute(select(func.count(ServiceAtLocation.id), func.max(ServiceAtLocation.id))).one()
    return (*svc, *loc, *sal)


_lock = threading.Lock()
_state: dict[str, Any] = {"index": None, "version": None, "checked": 0.0, "url": None}


def invalidate() -> None:
    """Forget the cached index (after an import)."""
    with _lock:
        _state.update(index=None, version=None, checked=0.0)


def get_index() -> DirectoryIndex:
    """The live index, rebuilt when the directory changed (checked at most every few seconds).

    Blocking (database): call it from a thread in async code."""
    from bot.store.db import get_engine, session_scope

    engine = get_engine()
    with _lock:
        fresh = _state["index"] is not None and _state["url"] == str(engine.url)
        if fresh and time.monotonic() - _state["checked"] < VERSION_CHECK_SECONDS:
            return _state["index"]  # type: ignore[no-any-return]
        with session_scope(engine) as session:
            version = directory_version(session)
            if not (fresh and version == _state["version"]):
                _state["index"] = DirectoryIndex(load_entries(session))
                _state["version"] = version
                _state["url"] = str(engine.url)
        _state["checked"] = time.monotonic()
        return _state["index"]  # type: ignore[no-any-return]
