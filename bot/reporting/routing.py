"""Route a new case to the desk for her area: the nearest directory service flagged `desk`
(gender desk, one-stop centre) in her country that a roster team works."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.directory.models import Location, Service, ServiceAtLocation
from bot.reporting.models import DeskTeam

EARTH_KM = 6371.0088


@dataclass(frozen=True)
class Route:
    service_id: Optional[int]
    team_id: Optional[int]
    desk_name: Optional[str]
    region: Optional[str]  # a known admin-1 name: hers if the directory knows it, else the desk's


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a)))


def route(
    session: Session, country: Optional[str], lat: Optional[float] = None, lon: Optional[float] = None,
    region: Optional[str] = None,
) -> Route:
    """The desk (and its team) for a case; Route(None, None, ...) when no desk is set up."""
    if not country:
        return Route(None, None, None, None)
    rows = session.execute(
        select(Service.id, Service.name, DeskTeam.team_id, Location.latitude, Location.longitude, Location.region)
        .join(DeskTeam, DeskTeam.service_id == Service.id)
        .join(ServiceAtLocation, ServiceAtLocation.service_id == Service.id)
        .join(Location, Location.id == ServiceAtLocation.location_id)
        .where(Service.desk.is_(True), Service.status == "active", Location.country == country.upper())
        .order_by(Service.id)
    ).all()
    if not rows:
        return Route(None, None, None, known_region(session, country, region))

    def rank(row: tuple[Any, ...]) -> tuple[int, float, int]:
        same_region = 0 if region and row[5] and row[5].strip().lower() == region.strip().lower() else 1
        if lat is not None and lon is not None and row[3] is not None and row[4] is not None:
            return (0, _km(lat, lon, row[3], row[4]), row[0])
        return (1 + same_region, 0.0, row[0])

    best = min(rows, key=rank)
    return Route(int(best[0]), int(best[2]), best[1], known_region(session, country, region) or best[5])


def known_region(session: Session, country: Optional[str], region: Optional[str]) -> Optional[str]:
    """Her region only if it is an admin-1 name the directory knows for her country (it is kept
    in clear for statistics, so free text never is)."""
    if not region or not country:
        return None
    wanted = region.strip().casefold()
    names = session.execute(
        select(Location.region).where(Location.country == country.upper(), Location.region.is_not(None)).distinct()
    ).scalars()
    return next((name for name in names if name.strip().casefold() == wanted), None)
