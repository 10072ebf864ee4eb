"""Fixtures for the service finder: one gazetteer per session, the demo directory per database."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest

from bot.directory.demo import DEMO_COUNTRIES, DEMO_FILE

# A fixed instant: Friday 20 November 2026, 12:00 UTC (15:00 in Nairobi, 07:00 in Lima).
NOON_UTC = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def demo_localities() -> list[Any]:
    """The localities the demo directory itself names (what get_gazetteer would add from the DB)."""
    from bot.directory.gazetteer import Locality

    groups: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for svc in json.loads(DEMO_FILE.read_text(encoding="utf-8"))["services"]:
        for sal in svc["service_at_locations"]:
            loc = sal["location"]
            if loc.get("confidential"):
                continue
            city = loc["addresses"][0]["city"]
            for name in {loc.get("locality"), city} - {None, ""}:
                groups.setdefault((name, city, loc["addresses"][0]["country"]), []).append((loc["latitude"], loc["longitude"]))
    return [
        Locality(name, city if city != name else "", cc, sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts))
        for (name, city, cc), pts in sorted(groups.items())
    ]


@pytest.fixture(scope="session")
def gazetteer() -> Any:
    """The gazetteer as `haven run` builds it over the demo directory (built once, a few seconds)."""
    from bot import countries
    from bot.directory.gazetteer import Gazetteer

    detail = sorted(set(DEMO_COUNTRIES) | {"KE"})
    other = [c for c in countries.codes() if c not in detail]
    return Gazetteer(detail, other, demo_localities())


@pytest.fixture
def demo_db(db_url: str, gazetteer: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A migrated database (SQLite and PostgreSQL) holding the demo directory; the finder uses the
    session gazetteer instead of building its own."""
    from bot.directory import finder, search
    from bot.directory.demo import load_demo

    search.invalidate()
    load_demo()
    monkeypatch.setattr(finder, "_gazetteer", lambda: gazetteer)
    yield db_url
    search.invalidate()
