"""Export the directory (JSON, one-sheet CSV, HSDS CSV datapackage) and list stale services.

Exports are full operator copies: confidential addresses included (never sent to survivors; keep the
file as safe as the database). A JSON or HSDS export re-imports to the same directory.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import select

from bot.directory import hours as hours_mod
from bot.directory.models import (
    Accessibility,
    Language,
    Location,
    Organization,
    Phone,
    Schedule,
    Service,
    ServiceAtLocation,
)
from bot.directory.readers import TEMPLATE_COLUMNS

STALE_MONTHS = 12


def _group(rows: Any, key: str) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for row in rows:
        out.setdefault(getattr(row, key), []).append(row)
    return out


def directory_records(session: Any, include_demo: bool = False) -> list[dict[str, Any]]:
    """Every service as an HSDS-style compiled dict (the JSON export format)."""
    query = select(Service).order_by(Service.external_id)
    if not include_demo:
        query = query.where(Service.is_demo.is_(False))
    services = list(session.execute(query).scalars())
    orgs = {o.id: o for o in session.execute(select(Organization)).scalars()}
    locations = {loc.id: loc for loc in session.execute(select(Location)).scalars()}
    sal = _group(session.execute(select(ServiceAtLocation).order_by(ServiceAtLocation.id)).scalars(), "service_id")
    phones = list(session.execute(select(Phone).order_by(Phone.position, Phone.id)).scalars())
    svc_phones = _group([p for p in phones if p.service_id is not None], "service_id")
    loc_phones = _group([p for p in phones if p.service_id is None], "location_id")
    schedules = _group(session.execute(select(Schedule).order_by(Schedule.id)).scalars(), "service_id")
    languages = _group(session.execute(select(Language).where(Language.service_id.is_not(None))).scalars(), "service_id")
    access = _group(session.execute(select(Accessibility).order_by(Accessibility.id)).scalars(), "location_id")

    def phone(p: Phone) -> dict[str, Any]:
        return {k: v for k, v in {"number": p.number, "type": p.type, "extension": p.extension, "description": p.description}.items() if v}

    def location(loc: Location) -> dict[str, Any]:
        return {
            "id": loc.external_id, "name": loc.name, "description": loc.description, "transportation": loc.transportation,
            "latitude": loc.latitude, "longitude": loc.longitude, "time_zone": loc.time_zone,
            "confidential": bool(loc.confidential), "locality": loc.locality,
            "addresses": [{"address_1": loc.address_1, "city": loc.city, "region": loc.region,
                           "postal_code": loc.postal_code, "country": loc.country}],
            "accessibility": [{"description": a.description, "details": a.details, "url": a.url} for a in access.get(loc.id, [])],
            "phones": [phone(p) for p in loc_phones.get(loc.id, [])],
        }  # fmt: skip

    out = []
    for svc in services:
        org = orgs[svc.organization_id]
        intervals = hours_mod.from_schedule_rows((s.byday, s.opens_at, s.closes_at) for s in schedules.get(svc.id, []))
        out.append({
            "id": svc.external_id, "name": svc.name, "service_type": svc.service_type, "description": svc.description,
            "url": svc.url, "email": svc.email, "status": svc.status, "desk": bool(svc.desk),
            "assured_date": svc.assured_date.isoformat() if svc.assured_date else None,
            "demo": bool(svc.is_demo),
            "organization": {"id": org.external_id, "name": org.name, "description": org.description,
                             "website": org.website, "email": org.email},
            "phones": [phone(p) for p in svc_phones.get(svc.id, [])],
            "hours": hours_mod.format_hours(intervals),
            "languages": sorted(lang.code for lang in languages.get(svc.id, [])),
            "service_at_locations": [{"location": location(locations[s.location_id])} for s in sal.get(svc.id, [])],
        })  # fmt: skip
    return out


def _template_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rec in records:
        loc = rec["service_at_locations"][0]["location"] if rec["service_at_locations"] else {}
        addr = (loc.get("addresses") or [{}])[0]
        numbers = [p["number"] for p in rec["phones"]]
        rows.append({
            "id": rec["id"], "organization": rec["organization"]["name"], "name": rec["name"],
            "service_type": rec["service_type"], "phone": numbers[0] if numbers else "",
            "phone_2": numbers[1] if len(numbers) > 1 else "", "hours": rec["hours"], "languages": ";".join(rec["languages"]),
            "address": addr.get("address_1") or "", "locality": loc.get("locality") or "", "city": addr.get("city") or "",
            "region": addr.get("region") or "", "postal_code": addr.get("postal_code") or "", "country": addr.get("country") or "",
            "latitude": loc.get("latitude") if loc.get("latitude") is not None else "",
            "longitude": loc.get("longitude") if loc.get("longitude") is not None else "",
            "time_zone": loc.get("time_zone") or "", "confidential": "yes" if loc.get("confidential") else "no",
            "directions": loc.get("transportation") or "",
            "accessibility": ";".join(a["description"] for a in loc.get("accessibility") or [] if a.get("description")),
            "website": rec.get("url") or "", "email": rec.get("email") or "", "last_verified": rec.get("assured_date") or "",
            "description": rec.get("description") or "", "desk": "yes" if rec.get("desk") else "no",
        })  # fmt: skip
    return rows


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def hsds_tables(records: list[dict[str, Any]]) -> dict[str, str]:
    """HSDS 3 CSV tables (with Haven's extension columns) for these records."""
    tables: dict[str, list[dict[str, Any]]] = {k: [] for k in ("organization", "service", "location", "address", "service_at_location", "phone", "schedule", "language", "accessibility")}
    seen_orgs: set[str] = set()
    seen_locs: set[str] = set()
    for rec in records:
        org = rec["organization"]
        if org["id"] not in seen_orgs:
            seen_orgs.add(org["id"])
            tables["organization"].append(org)
        tables["service"].append({"id": rec["id"], "organization_id": org["id"], "name": rec["name"], "service_type": rec["service_type"],
                                  "description": rec["description"], "url": rec["url"], "email": rec["email"], "status": rec["status"],
                                  "assured_date": rec["assured_date"], "desk": rec.get("desk", False)})  # fmt: skip
        for i, p in enumerate(rec["phones"]):
            tables["phone"].append({"id": f"{rec['id']}:phone:{i}", "service_id": rec["id"], **p})
        for i, (byday, opens, closes) in enumerate(hours_mod.to_schedule_rows(hours_mod.parse_hours(rec["hours"]))):
            tables["schedule"].append({"id": f"{rec['id']}:schedule:{i}", "service_id": rec["id"], "freq": "WEEKLY", "byday": byday, "opens_at": opens, "closes_at": closes})
        for code in rec["languages"]:
            tables["language"].append({"id": f"{rec['id']}:language:{code}", "service_id": rec["id"], "code": code})
        for sal in rec["service_at_locations"]:
            loc = sal["location"]
            tables["service_at_location"].append({"id": f"{rec['id']}@{loc['id']}", "service_id": rec["id"], "location_id": loc["id"]})
            if loc["id"] in seen_locs:
                continue
            seen_locs.add(loc["id"])
            tables["location"].append({k: loc[k] for k in ("id", "name", "description", "transportation", "latitude", "longitude", "time_zone", "confidential", "locality")})
            tables["address"].append({"id": f"{loc['id']}:address", "location_id": loc["id"], **loc["addresses"][0]})
            for i, a in enumerate(loc["accessibility"]):
                tables["accessibility"].append({"id": f"{loc['id']}:access:{i}", "location_id": loc["id"], **a})
            for i, p in enumerate(loc["phones"]):
                tables["phone"].append({"id": f"{loc['id']}:phone:{i}", "location_id": loc["id"], **p})
    out = {}
    for name, rows in tables.items():
        columns = tuple(dict.fromkeys(k for row in rows for k in row)) or ("id",)
        out[f"{name}.csv"] = _csv(rows, columns)
    resources = [{"name": name[:-4], "path": name, "format": "csv"} for name in out]
    out["datapackage.json"] = json.dumps({"name": "haven-directory", "profile": "tabular-data-package", "hsds_version": "3.0", "resources": resources}, indent=1)
    return out


def export(path: Path, fmt: Optional[str] = None, include_demo: bool = False) -> int:
    """Write the directory to `path`; returns the number of services."""
    from bot.directory.readers import detect_format
    from bot.store.db import session_scope

    fmt = fmt or (detect_format(path) if path.suffix else "hsds")
    with session_scope() as session:
        records = directory_records(session, include_demo)
    if fmt == "json":
        doc = {"hsds_version": "3.0", "generator": "haven", "services": records}
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8")
    elif fmt == "template":
        path.write_text(_csv(_template_rows(records), TEMPLATE_COLUMNS), encoding="utf-8")
    else:
        files = hsds_tables(records)
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
                for name, text in files.items():
                    archive.writestr(name, text)
        else:
            path.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (path / name).write_text(text, encoding="utf-8")
    return len(records)


def stale_services(months: int = STALE_MONTHS, today: Optional[date] = None) -> list[dict[str, Any]]:
    """Active services never verified, or verified more than `months` months ago (oldest first)."""
    from sqlalchemy import or_

    from bot.store.db import session_scope

    cutoff = (today or date.today()) - timedelta(days=round(months * 365.25 / 12))
    with session_scope() as session:
        rows = session.execute(
            select(Service.external_id, Service.name, Service.assured_date, Location.country)
            .join(ServiceAtLocation, ServiceAtLocation.service_id == Service.id, isouter=True)
            .join(Location, Location.id == ServiceAtLocation.location_id, isouter=True)
            .where(Service.status == "active", or_(Service.assured_date.is_(None), Service.assured_date < cutoff))
            .order_by(Service.assured_date.is_not(None), Service.assured_date, Service.external_id)
        ).all()
    seen: dict[str, dict[str, Any]] = {}
    for ext, name, assured, country in rows:
        seen.setdefault(ext, {"id": ext, "name": name, "last_verified": assured.isoformat() if assured else None, "country": country or ""})
    return list(seen.values())
