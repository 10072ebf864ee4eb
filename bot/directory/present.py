"""Search results as text, shaped per channel, from the locale texts in locales/<lang>/services.yml.

SMS: one short line per place. WhatsApp (and the REST chat): a numbered block per place, with
numbered options for directions. Telegram: the same blocks, with a "show on map" button per place.
A confidential place never shows an address, coordinates or a map: its distance is "within about
N km" and only its public phone is given.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional, Sequence
from urllib.parse import urlencode

from bot import i18n
from bot.directory import hours as hours_mod
from bot.directory.geo import bearing_deg, coarse_km, compass_point, haversine_km
from bot.directory.search import Entry, Hit

SHORT_CHANNELS = ("sms",)
CENTRE_KM = 1.5  # closer than this to the centre of the town she named: "near the centre"
MAP_BUTTON_CHANNELS = ("telegram",)


def pick_payload(n: int) -> str:
    return '/services_pick{"choice": "%d"}' % n


def map_payload(n: int) -> str:
    return '/services_map{"choice": "%d"}' % n


MORE_PAYLOAD = "/services_more"


def _lang(language: Optional[str]) -> str:
    return language if i18n.supported(language) else i18n.DEFAULT_LANGUAGE


def number(value: float, language: str) -> str:
    from babel.numbers import format_decimal

    return str(format_decimal(value, format="#,##0.#", locale=language))


def distance_text(entry: Entry, km: float, language: str, precise: bool = True) -> str:
    """From her pin: '850 m', '2.3 km'. From a town she named (we only know the town): 'near the
    centre', 'about 5 km from the centre'. A confidential place: 'within about 5 km'."""
    if entry.confidential:
        return i18n.text("services_distance_about", language, km=coarse_km(km))
    if not precise:
        if km < CENTRE_KM:
            return i18n.text("services_distance_centre", language)
        return i18n.text("services_distance_from_centre", language, km=number(round(km) if km >= 10 else round(km, 1), language))
    if km < 1:
        return i18n.text("services_distance_m", language, m=int(round(km * 1000, -1)) or 10)
    return i18n.text("services_distance_km", language, km=number(round(km, 1) if km < 10 else round(km), language))


def checked_text(day: Optional[date], language: str) -> str:
    if day is None:
        return i18n.text("services_checked_unknown", language)
    from babel.dates import format_date

    return i18n.text("services_checked", language, date=format_date(day, "MMM y", locale=language))


def hours_text(hit: Hit, language: str, now: Optional[datetime] = None, short: bool = False) -> str:
    entry = hit.entry
    suffix = "_short" if short else ""
    if not entry.hours:
        return i18n.text("services_hours_unknown" + suffix, language)
    if entry.always_open:
        return i18n.text("services_open_247" + suffix, language)
    today = hit.hours_today
    if hit.open_now:
        return i18n.text("services_open_now" + suffix, language, hours=today)
    if today:
        return i18n.text("services_closed_now" + suffix, language, hours=today)
    nxt = hours_mod.next_opening(entry.hours, entry.time_zone, now)
    if nxt is not None and not short:
        from babel.dates import format_skeleton

        when = format_skeleton("EEEHm", nxt, locale=language)
        return i18n.text("services_closed_today_next", language, when=when)
    return i18n.text("services_closed_today" + suffix, language)


def item_text(n: int, hit: Hit, language: str, channel: Optional[str], now: Optional[datetime] = None, precise: bool = True) -> str:
    """One numbered place."""
    language = _lang(language)
    entry = hit.entry
    short = channel in SHORT_CHANNELS
    args = dict(
        n=n,
        service=entry.name,
        distance=distance_text(entry, hit.distance_km, language, precise),
        phone=entry.phones[0] if entry.phones else i18n.text("services_no_phone", language),
        hours=hours_text(hit, language, now, short=short),
        checked=checked_text(entry.assured_date, language),
        demo=i18n.text("services_demo_tag", language) if entry.is_demo else "",
    )
    return i18n.text("services_item", language, channel, **args)


def results_text(hits: Sequence[Hit], first_number: int, language: str, channel: Optional[str], now: Optional[datetime] = None, precise: bool = True) -> str:
    sep = "\n" if channel in SHORT_CHANNELS else "\n\n"
    return sep.join(item_text(first_number + i, hit, language, channel, now, precise) for i, hit in enumerate(hits))


def result_buttons(hits: Sequence[Hit], first_number: int, language: str, channel: Optional[str], more: bool) -> list[dict[str, str]]:
    """Telegram: a map button per (non-confidential) place; elsewhere numbered directions options."""
    language = _lang(language)
    buttons = []
    for i, hit in enumerate(hits):
        n = first_number + i
        if channel in MAP_BUTTON_CHANNELS:
            if not hit.entry.confidential:
                buttons.append({"title": i18n.text("services_button_map", language, n=n), "payload": map_payload(n)})
        else:
            buttons.append({"title": i18n.text("services_button_directions", language, n=n), "payload": pick_payload(n)})
    if more:
        buttons.append({"title": i18n.text("services_button_more", language), "payload": MORE_PAYLOAD})
    return buttons


def place_choice_buttons(labels: Sequence[str]) -> list[dict[str, str]]:
    return [{"title": label, "payload": pick_payload(i + 1)} for i, label in enumerate(labels)]


def place_label(name: str, parent: str, country: str, language: str, with_country: bool = True) -> str:
    """'Miraflores, Región Lima (Perú)'."""
    from babel import Locale

    from bot.text import normalise

    redundant = not parent or normalise(name) in normalise(parent) or normalise(parent) in normalise(name)
    parts = [name] + ([] if redundant else [parent])
    label = ", ".join(parts)
    if with_country:
        try:
            country_name = Locale.parse(_lang(language)).territories.get(country, country)
        except Exception:  # noqa: BLE001 - unknown locale
            country_name = country
        label += f" ({country_name})"
    return label


def directions_text(entry: Entry, origin: Optional[tuple[float, float]], language: str, channel: Optional[str], precise: bool = True) -> str:
    """Name, address, distance and compass direction (from her pin, or from the centre of the town
    she named), directions notes and phone. Never used for a confidential place."""
    language = _lang(language)
    lines = [entry.name]
    if entry.address:
        lines.append(entry.address)
    if origin is not None and entry.lat is not None and entry.lon is not None:
        km = haversine_km(origin[0], origin[1], entry.lat, entry.lon)
        distance = distance_text(entry, km, language, precise)
        side = i18n.text("services_compass_" + compass_point(bearing_deg(origin[0], origin[1], entry.lat, entry.lon)), language)
        if precise:
            lines.append(i18n.text("services_direction_from_you", language, distance=distance, side=side))
        elif km < CENTRE_KM:
            lines.append(distance)
        else:
            lines.append(i18n.text("services_direction_from_centre", language, distance=distance, side=side))
    if entry.directions:
        lines.append(entry.directions)
    if entry.phones:
        lines.append(i18n.text("services_call", language, phone=entry.phones[0]))
    return "\n".join(lines)


def map_url(entry: Entry) -> Optional[str]:
    """An OpenStreetMap link, never for a confidential place."""
    if entry.confidential or entry.lat is None or entry.lon is None:
        return None
    lat, lon = round(entry.lat, 5), round(entry.lon, 5)
    return f"https://www.openstreetmap.org/?{urlencode({'mlat': lat, 'mlon': lon})}#map=17/{lat}/{lon}"


def language_name(code: str, language: str) -> str:
    from babel import Locale

    try:
        return str(Locale.parse(_lang(language)).languages.get(code, code))
    except Exception:  # noqa: BLE001
        return code
