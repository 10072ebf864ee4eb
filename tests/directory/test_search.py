"""Nearest-service search: the BallTree against a brute-force scan, filters and fall-backs."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pytest

from bot.directory.geo import haversine_km, haversine_km_many
from bot.directory.hours import parse_hours
from bot.directory.models import SERVICE_TYPES
from bot.directory.search import DirectoryIndex, Entry, search

from .conftest import NOON_UTC


def entry(i: int, lat: float, lon: float, stype: str = "one_stop_centre", hours: str = "24/7", **kw: Any) -> Entry:
    values: dict[str, Any] = dict(
        service_id=i, location_id=i, external_id=f"s{i}", name=f"Service {i}", service_type=stype, organization="Org",
        country=kw.pop("country", "KE"), time_zone=kw.pop("time_zone", "Africa/Nairobi"), lat=lat, lon=lon,
        phones=("+254 20 000000",), hours=parse_hours(hours),
    )  # fmt: skip
    values.update(kw)
    return Entry(**values)


def random_entries(n: int, seed: int = 7) -> list[Entry]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if i % 3 == 0:  # a third clustered around Nairobi, the rest anywhere (poles and the date line too)
            lat, lon = -1.28 + rng.gauss(0, 0.3), 36.82 + rng.gauss(0, 0.3)
        else:
            lat, lon = rng.uniform(-89.9, 89.9), rng.uniform(-180, 180)
        out.append(entry(i, lat, lon, SERVICE_TYPES[i % (len(SERVICE_TYPES) - 1)]))
    return out


def brute_nearest(entries: list[Entry], lat: float, lon: float, k: int, types: Any = None) -> list[tuple[int, float]]:
    pool = [e for e in entries if (types is None and e.service_type != "hotline") or (types and e.service_type in types)]
    scored = sorted((haversine_km(lat, lon, e.lat, e.lon), e.service_id) for e in pool)  # type: ignore[arg-type]
    return [(sid, d) for d, sid in scored[:k]]


@pytest.fixture(scope="module")
def world() -> tuple[list[Entry], DirectoryIndex]:
    entries = random_entries(3000)
    return entries, DirectoryIndex(entries)


def test_nearest_matches_brute_force_on_random_points(world: Any) -> None:
    entries, index = world
    rng = random.Random(11)
    for _ in range(300):
        lat, lon = rng.uniform(-89, 89), rng.uniform(-180, 180)
        if rng.random() < 0.4:
            lat, lon = -1.28 + rng.gauss(0, 0.5), 36.82 + rng.gauss(0, 0.5)
        types = None if rng.random() < 0.5 else rng.sample(SERVICE_TYPES[:-1], rng.randint(1, 3))
        got = [(e.service_id, d) for e, d in index.nearest(lat, lon, k=5, types=types)]
        want = brute_nearest(entries, lat, lon, 5, types)
        assert [d for _, d in got] == pytest.approx([d for _, d in want], abs=1e-6)
        assert {sid for sid, _ in got} == {sid for sid, _ in want} or len({round(d, 9) for _, d in want}) < len(want)


def test_within_radius_matches_brute_force(world: Any) -> None:
    entries, index = world
    rng = random.Random(5)
    for _ in range(100):
        lat, lon = -1.28 + rng.gauss(0, 1), 36.82 + rng.gauss(0, 1)
        radius = rng.choice([5, 25, 100, 400])
        got = sorted(e.service_id for e, _ in index.within(lat, lon, radius))
        want = sorted(e.service_id for e in entries if e.service_type != "hotline" and haversine_km(lat, lon, e.lat, e.lon) <= radius)  # type: ignore[arg-type]
        assert got == want


def test_vectorised_haversine_agrees_with_the_scalar_one() -> None:
    lats, lons = np.array([0.0, 10.0, -45.0, 89.0]), np.array([179.9, -179.9, 0.0, 45.0])
    many = haversine_km_many(-1.0, -179.5, lats, lons)
    assert list(many) == pytest.approx([haversine_km(-1.0, -179.5, a, b) for a, b in zip(lats, lons)])


def test_across_the_date_line() -> None:
    index = DirectoryIndex([entry(1, 0.0, 179.95), entry(2, 0.0, 170.0)])
    (nearest, km), *_ = index.nearest(0.0, -179.95, k=1)
    assert nearest.service_id == 1 and km < 12


def nairobi_index() -> DirectoryIndex:
    return DirectoryIndex(
        [
            entry(1, -1.30, 36.80, "gender_desk", "Mo-Fr 08:00-17:00", languages=frozenset({"en"})),
            entry(2, -1.32, 36.81, "gender_desk", "Sa 09:00-12:00", languages=frozenset({"sw"})),
            entry(3, -1.20, 36.90, "gender_desk", "24/7"),
            entry(4, -1.28, 36.82, "legal_aid", "Mo-Fr 08:00-17:00"),
            entry(5, -0.30, 36.07, "gender_desk", "Fr-Sa 22:00-06:00"),  # Nakuru, ~140 km
            entry(6, None, None, "hotline", "24/7"),  # type: ignore[arg-type]
        ]
    )


def test_type_filter_and_order() -> None:
    result = search(nairobi_index(), -1.30, 36.80, types=["gender_desk"], k=3, now=NOON_UTC)
    assert result.status == "ok"
    assert [h.entry.service_id for h in result.hits] == [1, 2, 3]
    assert result.total == 3  # Nakuru is outside the 100 km radius
    assert [h.distance_km for h in result.hits] == sorted(h.distance_km for h in result.hits)


def test_open_now_and_hours_today_in_local_time() -> None:
    friday_3pm_nairobi = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    hits = search(nairobi_index(), -1.30, 36.80, types=["gender_desk"], now=friday_3pm_nairobi).hits
    assert [(h.entry.service_id, h.open_now, h.hours_today) for h in hits] == [(1, True, "08:00-17:00"), (2, False, ""), (3, True, "24h")]


def test_none_open_gives_the_nearest_open_and_the_hotline() -> None:
    index = nairobi_index()
    sunday_3am = datetime(2026, 11, 22, 0, 0, tzinfo=timezone.utc)  # 03:00 Sunday in Nairobi
    result = search(index, -1.30, 36.80, types=["gender_desk"], k=2, now=sunday_3am, radius_km=200)
    assert result.status == "none_open"
    assert [h.entry.service_id for h in result.hits] == [1, 2]
    # Open at 03:00 on Sunday: the 24/7 desk, and Nakuru's Saturday night crossing midnight.
    assert [h.entry.service_id for h in result.open_alternatives] == [3, 5]


def test_open_now_only_filters_when_something_is_open() -> None:
    friday_8pm = datetime(2026, 11, 20, 17, 0, tzinfo=timezone.utc)
    result = search(nairobi_index(), -1.30, 36.80, types=["gender_desk"], open_now_only=True, now=friday_8pm)
    assert [h.entry.service_id for h in result.hits] == [3]


def test_nothing_within_the_radius() -> None:
    result = search(nairobi_index(), 4.0, 34.0, types=["gender_desk"], now=NOON_UTC)
    assert result.status == "nothing_near" and result.hits == []


def test_language_filter_and_relaxing_it() -> None:
    index = nairobi_index()
    swahili = search(index, -1.30, 36.80, types=["gender_desk"], languages=["sw"], now=NOON_UTC)
    assert [h.entry.service_id for h in swahili.hits] == [2] and not swahili.language_relaxed
    french = search(index, -1.30, 36.80, types=["gender_desk"], languages=["fr"], now=NOON_UTC)
    assert french.language_relaxed and [h.entry.service_id for h in french.hits] == [1, 2, 3]


def test_paging_with_offset() -> None:
    index = nairobi_index()
    page2 = search(index, -1.30, 36.80, types=["gender_desk"], k=2, offset=2, now=NOON_UTC)
    assert [h.entry.service_id for h in page2.hits] == [3] and page2.total == 3


def test_empty_directory() -> None:
    assert search(DirectoryIndex([]), 0.0, 0.0).status == "empty"


def test_demo_hotlines_are_never_offered() -> None:
    index = DirectoryIndex([entry(1, None, None, "hotline", is_demo=True), entry(2, None, None, "hotline", is_demo=False, name="Real line")])  # type: ignore[arg-type]
    line = index.hotline_for("KE")
    assert line is not None and line.service_id == 2


def test_live_index_over_the_demo_directory(demo_db: str) -> None:
    from bot.directory.search import get_index, invalidate

    index = get_index()
    assert len(index) == 81
    result = search(index, -0.3031, 36.08, types=["one_stop_centre"], now=NOON_UTC)  # Nakuru
    assert result.hits[0].entry.name == "DEMO Nakuru One-Stop Centre"
    assert result.hits[0].entry.is_demo
    # Every demo country can be searched.
    for lat, lon in [(-1.95, 30.06), (14.69, -17.44), (-12.05, -77.04), (40.42, -3.70), (-23.55, -46.63), (-25.97, 32.57)]:
        assert search(index, lat, lon, now=NOON_UTC).status in ("ok", "none_open")
    invalidate()
    assert get_index() is not index
