"""Import a directory file: read, validate every row, then write all of it in one transaction.

All-or-nothing: if any row is bad nothing is written, unless `skip_invalid` (then the good rows are
written and the bad ones listed). Re-importing the same file changes nothing: rows are matched on
their stable external ids and a content hash skips services that did not change.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

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
from bot.directory.readers import ReadError, read_any
from bot.directory.records import LocRec, Problem, ServiceRec, validate_services

PROGRESS_MIN_ROWS = 500
T = TypeVar("T")


@dataclass
class ImportResult:
    """What an import did (or, with problems and no skip, refused to do)."""

    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def _progress(total: int, desc: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="row", file=sys.stderr, disable=None if total >= PROGRESS_MIN_ROWS else True, leave=False)


def _chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _by_external_id(session: Session, model: Any, ids: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    unique = sorted(set(ids))
    for chunk in _chunks(unique):
        for row in session.execute(select(model).where(model.external_id.in_(chunk))).scalars():
            found[row.external_id] = row
    return found


def _set(row: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if getattr(row, key) != value:
            setattr(row, key, value)


def _upsert(session: Session, cache: dict[str, Any], model: Any, external_id: str, values: dict[str, Any]) -> Any:
    row = cache.get(external_id)
    if row is None:
        row = model(external_id=external_id, **values)
        session.add(row)
        cache[external_id] = row
    else:
        _set(row, values)
    return row


def _location_values(loc: LocRec, org_id: Optional[int]) -> dict[str, Any]:
    return dict(
        organization_id=org_id, name=loc.name, description=loc.description, transportation=loc.transportation,
        address_1=loc.address_1, locality=loc.locality, city=loc.city, region=loc.region,
        postal_code=loc.postal_code, country=loc.country, latitude=loc.latitude, longitude=loc.longitude,
        time_zone=loc.time_zone, confidential=loc.confidential,
    )  # fmt: skip


def write_records(session: Session, records: Sequence[ServiceRec], source: str, progress: Any = None) -> tuple[int, int, int]:
    """Upsert records by external id; returns (created, updated, unchanged)."""
    orgs = _by_external_id(session, Organization, (r.organization.external_id for r in records))
    locs = _by_external_id(session, Location, (loc.external_id for r in records for loc in r.locations))
    services = _by_external_id(session, Service, (r.external_id for r in records))
    created = updated = unchanged = 0
    done_locations: set[str] = set()
    for rec in records:
        digest = rec.content_hash()
        existing = services.get(rec.external_id)
        if progress is not None:
            progress.update(1)
        if existing is not None and existing.record_hash == digest:
            unchanged += 1
            continue
        org = _upsert(session, orgs, Organization, rec.organization.external_id, dict(
            name=rec.organization.name, description=rec.organization.description,
            website=rec.organization.website, email=rec.organization.email, is_demo=rec.is_demo, source=source,
        ))  # fmt: skip
        session.flush()
        svc = _upsert(session, services, Service, rec.external_id, dict(
            organization_id=org.id, name=rec.name, service_type=rec.service_type, description=rec.description,
            status=rec.status, desk=rec.desk, url=rec.url, email=rec.email, assured_date=rec.assured_date,
            is_demo=rec.is_demo, source=source, record_hash=digest,
        ))  # fmt: skip
        location_rows = [_upsert(session, locs, Location, loc.external_id, _location_values(loc, org.id)) for loc in rec.locations]
        session.flush()
        if existing is None:
            created += 1
        else:
            updated += 1
            for model in (Phone, Schedule, Language):
                session.execute(delete(model).where(model.service_id == svc.id))
        wanted = {row.id for row in location_rows}
        have = set(session.execute(select(ServiceAtLocation.location_id).where(ServiceAtLocation.service_id == svc.id)).scalars())
        if have - wanted:
            session.execute(
                delete(ServiceAtLocation).where(
                    ServiceAtLocation.service_id == svc.id, ServiceAtLocation.location_id.in_(sorted(have - wanted))
                )
            )
        for loc, row in zip(rec.locations, location_rows):
            if row.id not in have:
                session.add(ServiceAtLocation(external_id=f"{rec.external_id}@{loc.external_id}", service_id=svc.id, location_id=row.id))
            if loc.external_id in done_locations:
                continue
            done_locations.add(loc.external_id)
            session.execute(delete(Accessibility).where(Accessibility.location_id == row.id))
            session.execute(delete(Phone).where(Phone.location_id == row.id, Phone.service_id.is_(None)))
            for acc in loc.accessibility:
                session.add(Accessibility(location_id=row.id, description=acc.description, details=acc.details, url=acc.url))
            for pos, phone in enumerate(loc.phones):
                session.add(Phone(location_id=row.id, number=phone.number, type=phone.type, extension=phone.extension, description=phone.description, position=pos))
        for pos, phone in enumerate(rec.phones):
            session.add(Phone(service_id=svc.id, number=phone.number, type=phone.type, extension=phone.extension, description=phone.description, position=pos))
        for byday, opens_at, closes_at in hours_mod.to_schedule_rows(rec.hours):
            session.add(Schedule(service_id=svc.id, byday=byday, opens_at=opens_at, closes_at=closes_at))
        for code in rec.languages:
            session.add(Language(service_id=svc.id, code=code))
    session.flush()
    return created, updated, unchanged


def validate_file(path: Path, fmt: Optional[str] = None, demo: bool = False) -> tuple[list[ServiceRec], list[Problem]]:
    """Read and validate the whole file; never writes."""
    try:
        raws = read_any(path, fmt)
    except ReadError as exc:
        return [], exc.problems
    with _progress(len(raws), "validating") as bar:
        return validate_services(raws, demo=demo, progress=bar)


def import_file(
    path: Path,
    fmt: Optional[str] = None,
    skip_invalid: bool = False,
    demo: bool = False,
    source: Optional[str] = None,
) -> ImportResult:
    """Validate the whole file, then write it in one transaction (see the module docstring)."""
    records, problems = validate_file(path, fmt, demo)
    result = ImportResult(records=len(records), problems=problems)
    if problems and not skip_invalid:
        return result
    return _write(records, source or path.name, result)


def _write(records: Sequence[ServiceRec], source: str, result: ImportResult) -> ImportResult:
    from bot.store.db import session_scope

    if not records:
        return result
    with _progress(len(records), "importing") as bar, session_scope(immediate=True) as session:
        result.created, result.updated, result.unchanged = write_records(session, records, source, bar)
    result.written = True
    from bot.directory import search

    search.invalidate()
    return result
