"""Read a directory file into raw service dicts for bot.directory.records.validate_services.

Formats (chosen by `detect_format`):
- template: the one-sheet CSV (data/directory/template.csv; columns documented in the README),
  one row per service at one location;
- hsds: an Open Referral HSDS 3 CSV datapackage (a folder or .zip with datapackage.json and
  service.csv, organization.csv, location.csv, service_at_location.csv, optional address.csv,
  phone.csv, schedule.csv, language.csv, accessibility.csv); Haven extension columns:
  service.service_type, location.confidential, location.time_zone, location.locality;
- json: Haven's HSDS-style compiled JSON ({"services": [...]}; what `haven directory export` writes).
Every raw dict carries `_ref` (where it came from) so problems name a file and line.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional

from bot.directory.records import Problem

TEMPLATE_COLUMNS = (
    "id", "organization", "name", "service_type", "phone", "phone_2", "hours", "languages",
    "address", "locality", "city", "region", "postal_code", "country", "latitude", "longitude",
    "time_zone", "confidential", "directions", "accessibility", "website", "email",
    "last_verified", "description", "desk",
)  # fmt: skip
TEMPLATE_REQUIRED = ("id", "name", "service_type", "phone", "country", "latitude", "longitude")
HSDS_REQUIRED = {
    "service": ("id", "organization_id", "name", "service_type"),
    "organization": ("id", "name"),
    "location": ("id", "latitude", "longitude"),
    "service_at_location": ("service_id", "location_id"),
}
HSDS_OPTIONAL = ("address", "phone", "schedule", "language", "accessibility")


class ReadError(Exception):
    """The file cannot be read at all (encoding, missing columns, not JSON, ...)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), or a ReadError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReadError(
            [Problem(f"{name} line {line}", f"not UTF-8 (byte 0x{data[exc.start]:02X}); save the file as UTF-8")]
        ) from None


def _csv_rows(text: str, name: str, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; header checked for required columns."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ReadError([Problem(f"{name} line 1", "missing column(s): " + ", ".join(missing))])
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:
            raise ReadError([Problem(f"{name} line {reader.line_num}", "more cells than header columns")])
        if not any((v or "").strip() for v in row.values()):
            continue
        rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    return rows


def _split(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"[;,|]", value or "") if p.strip()]


def read_template(data: bytes, name: str = "template.csv") -> list[dict[str, Any]]:
    """The one-sheet CSV: one row per service at one location."""
    text = decode(data, name)
    out = []
    for line, row in _csv_rows(text, name, TEMPLATE_REQUIRED):
        ref = f"line {line}"
        ext = row.get("id", "")
        org = row.get("organization") or row.get("name", "")
        access = row.get("accessibility", "")
        out.append(
            {
                "_ref": ref,
                "id": ext,
                "name": row.get("name"),
                "service_type": row.get("service_type"),
                "desk": row.get("desk"),
                "description": row.get("description"),
                "url": row.get("website"),
                "email": row.get("email"),
                "last_verified": row.get("last_verified"),
                "hours": row.get("hours"),
                "languages": _split(row.get("languages", "")),
                "organization": {"name": org},
                "phones": [{"number": n} for n in (row.get("phone"), row.get("phone_2")) if n],
                "locations": [
                    {
                        "_ref": ref,
                        "id": f"{ext}:location",
                        "address_1": row.get("address"),
                        "locality": row.get("locality"),
                        "city": row.get("city"),
                        "region": row.get("region"),
                        "postal_code": row.get("postal_code"),
                        "country": row.get("country"),
                        "latitude": row.get("latitude"),
                        "longitude": row.get("longitude"),
                        "time_zone": row.get("time_zone"),
                        "confidential": row.get("confidential"),
                        "transportation": row.get("directions"),
                        "accessibility": [{"description": a} for a in _split(access)],
                    }
                ],
            }
        )
    return out


def _location_from_json(loc: dict[str, Any], ref: str) -> dict[str, Any]:
    address = loc.get("address") or next(iter(loc.get("addresses") or []), None) or {}
    out = dict(loc)
    out["_ref"] = ref
    for key in ("address_1", "city", "region", "postal_code", "country"):
        out.setdefault(key, address.get(key) or (address.get("state_province") if key == "region" else None))
    return out


def read_json(data: bytes, name: str = "directory.json") -> list[dict[str, Any]]:
    """Haven's compiled JSON; `_ref` is the service's index and the line where it starts."""
    text = decode(data, name)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReadError([Problem(f"{name} line {exc.lineno}", f"not valid JSON ({exc.msg})")]) from None
    services = doc.get("services") if isinstance(doc, dict) else doc
    if not isinstance(services, list):
        raise ReadError([Problem(f"{name} line 1", 'expected {"services": [...]}')])
    demo = bool(doc.get("demo")) if isinstance(doc, dict) else False
    out: list[dict[str, Any]] = []
    cursor = 0
    for i, svc in enumerate(services):
        if not isinstance(svc, dict):
            out.append({"_ref": f"services[{i}]", "id": None})
            continue
        line = "?"
        needle = json.dumps(str(svc.get("id")), ensure_ascii=False)
        found = text.find(needle, cursor)
        if found >= 0:
            line = str(text.count("\n", 0, found) + 1)
            cursor = found + len(needle)
        ref = f"services[{i}] (line {line})"
        raw = dict(svc)
        raw["_ref"] = ref
        if demo:
            raw.setdefault("demo", True)
        raw["last_verified"] = svc.get("assured_date") or svc.get("last_verified")
        raw["languages"] = [lang.get("code") if isinstance(lang, dict) else lang for lang in svc.get("languages") or []]
        sals = svc.get("service_at_locations") or [{"location": loc} for loc in svc.get("locations") or []]
        raw["locations"] = [_location_from_json(s.get("location") or {}, ref) for s in sals if isinstance(s, dict)]
        out.append(raw)
    return out


# ------------------------------------------------------------------ HSDS CSV datapackage


def _package_reader(path: Path) -> Callable[[str], Optional[bytes]]:
    if path.is_dir():
        return lambda name: (path / name).read_bytes() if (path / name).is_file() else None
    archive = zipfile.ZipFile(path)
    names = {Path(n).name: n for n in archive.namelist()}
    return lambda name: archive.read(names[name]) if name in names else None


def read_hsds(path: Path) -> list[dict[str, Any]]:
    """An HSDS 3 CSV datapackage (folder or zip)."""
    read = _package_reader(path)
    if read("datapackage.json") is None:
        raise ReadError([Problem(str(path), "no datapackage.json (not an HSDS datapackage)")])
    tables: dict[str, list[tuple[int, dict[str, str]]]] = {}
    problems: list[Problem] = []
    for table in (*HSDS_REQUIRED, *HSDS_OPTIONAL):
        data = read(f"{table}.csv")
        if data is None:
            if table in HSDS_REQUIRED:
                problems.append(Problem(f"{table}.csv", "file missing from the datapackage"))
            tables[table] = []
            continue
        try:
            tables[table] = _csv_rows(decode(data, f"{table}.csv"), f"{table}.csv", HSDS_REQUIRED.get(table, ("id",)))
        except ReadError as exc:
            problems += exc.problems
    if problems:
        raise ReadError(problems)

    def by(table: str, key: str) -> dict[str, list[tuple[int, dict[str, str]]]]:
        index: dict[str, list[tuple[int, dict[str, str]]]] = {}
        for line, row in tables[table]:
            if row.get(key):
                index.setdefault(row[key], []).append((line, row))
        return index

    orgs = {row["id"]: row for _, row in tables["organization"]}
    addresses = by("address", "location_id")
    locations: dict[str, dict[str, Any]] = {}
    for line, row in tables["location"]:
        addr = (addresses.get(row["id"]) or [(0, {})])[0][1]
        loc: dict[str, Any] = dict(row)
        loc["_ref"] = f"location.csv line {line}"
        for key in ("address_1", "city", "postal_code", "country"):
            loc[key] = row.get(key) or addr.get(key)
        loc["region"] = row.get("region") or addr.get("region") or addr.get("state_province")
        loc["accessibility"] = [r for _, r in by("accessibility", "location_id").get(row["id"], [])]
        loc["phones"] = [r for _, r in by("phone", "location_id").get(row["id"], []) if not r.get("service_id")]
        locations[row["id"]] = loc
    sal_by_service = by("service_at_location", "service_id")
    phones = by("phone", "service_id")
    schedules = by("schedule", "service_id")
    languages = by("language", "service_id")
    out = []
    for line, row in tables["service"]:
        ref = f"service.csv line {line}"
        raw: dict[str, Any] = dict(row)
        raw["_ref"] = ref
        raw["last_verified"] = row.get("assured_date") or row.get("last_verified")
        raw["organization"] = dict(orgs.get(row["organization_id"]) or {"id": row["organization_id"]})
        if row["organization_id"] not in orgs:
            raw["organization"]["name"] = None
            raw["_missing"] = f"organization_id {row['organization_id']!r} is not in organization.csv"
        raw["phones"] = [r for _, r in phones.get(row["id"], [])]
        raw["schedules"] = [r for _, r in schedules.get(row["id"], [])]
        raw["languages"] = [r.get("code") or r.get("name") for _, r in languages.get(row["id"], [])]
        raw["locations"] = []
        for sal_line, sal in sal_by_service.get(row["id"], []):
            sal_loc = locations.get(sal["location_id"])
            if sal_loc is None:
                raw["_missing"] = f"service_at_location.csv line {sal_line}: location_id {sal['location_id']!r} is not in location.csv"
            else:
                raw["locations"].append(sal_loc)
        out.append(raw)
    return out


def detect_format(path: Path) -> str:
    if path.is_dir() or path.suffix.lower() == ".zip":
        return "hsds"
    if path.suffix.lower() == ".json":
        return "json"
    return "template"


def read_any(path: Path, fmt: Optional[str] = None) -> list[dict[str, Any]]:
    """Read `path` in `fmt` (default: by extension) into raw service dicts."""
    fmt = fmt or detect_format(path)
    if not path.exists():
        raise ReadError([Problem(str(path), "file not found")])
    if fmt == "hsds":
        return read_hsds(path)
    data = path.read_bytes()
    if fmt == "json":
        return read_json(data, path.name)
    return read_template(data, path.name)
