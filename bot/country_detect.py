"""Her country from what she says or shares: a place or country she names, or a location pin.

Both use the directory's gazetteer (bot/directory/): a typed name is accepted only when it names
one place (or namesakes all in one country) that countries.yml knows; a pin maps to the country of
the nearest known town within 300 km. Neither ever guesses between countries.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from bot import countries

log = logging.getLogger("haven.countries")
PIN_MAX_KM = 300.0


def named_country(text: str, language: Optional[str] = None) -> Optional[str]:
    """The country of the place (or country) she names in `text`, when it is unambiguous."""
    if not text or text.startswith("/"):
        return None
    try:
        from bot.directory.gazetteer import get_gazetteer
        from bot.directory.placefinder import find_place

        match: Any = find_place(get_gazetteer(), text, None, language)
    except Exception as exc:  # noqa: BLE001 - no gazetteer: the country stays as it was
        log.warning("place lookup for the country failed: %s", type(exc).__name__)
        return None
    if match.status == "found" and match.place is not None and not match.fuzzy:
        found = {match.place.country}
    elif match.status == "ambiguous":
        found = {p.country for p in match.choices}
    else:
        return None
    return next(iter(found)) if len(found) == 1 and countries.get(next(iter(found))) else None


def pin_country(lat: float, lon: float) -> Optional[str]:
    """The country of a location pin: the nearest known town's, within PIN_MAX_KM."""
    try:
        from bot.directory.geo import towns

        town, km = towns().nearest(lat, lon)
    except Exception as exc:  # noqa: BLE001 - no town index: the country stays as it was
        log.warning("pin lookup for the country failed: %s", type(exc).__name__)
        return None
    code = str(town.country) if km < PIN_MAX_KM else None
    return code if countries.get(code) else None
