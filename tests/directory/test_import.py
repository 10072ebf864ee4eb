"""Import: whole-file validation with line numbers, all-or-nothing, idempotent re-import, formats."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.directory import models
from bot.directory.importer import import_file, validate_file
from bot.directory.readers import TEMPLATE_COLUMNS

GOOD = [
    dict(id="ke-nkr-1", organization="Nakuru County", name="Nakuru Test Centre", service_type="one_stop_centre",
         phone="+254 20 2000000", hours="24/7", languages="en;sw", address="Hospital Road", city="Nakuru",
         country="KE", latitude="-0.2833", longitude="36.0667", confidential="no", last_verified="2026-01-10"),
    dict(id="ke-nkr-2", organization="Nakuru County", name="Nakuru Test Refuge", service_type="shelter",
         phone="0712 345678", hours="24/7", address="Secret Street 9", city="Nakuru", country="KE",
         latitude="-0.29", longitude="36.07", confidential="yes", last_verified="2024-05-01"),
    dict(id="pe-lim-1", name="Lima Test Desk", service_type="gender desk", phone="+51 1 4567890",
         hours="Mo-Fr 08:00-17:00; Sa 09:00-13:00", languages="es;qu", city="Lima", country="PE",
         latitude="-12.0464", longitude="-77.0428", time_zone="America/Lima"),
]  # fmt: skip
TABLES = (models.Organization, models.Service, models.Location, models.ServiceAtLocation, models.Phone, models.Schedule, models.Language, models.Accessibility)


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = TEMPLATE_COLUMNS) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every directory row, for 'the database did not change'."""
    from bot.store.db import session_scope

    out = {}
    with session_scope() as session:
        for model in TABLES:
            cols = [c for c in model.__table__.columns if c.name not in ("created_at", "updated_at")]
            out[model.__tablename__] = sorted(tuple(r) for r in session.execute(select(*cols)).all())
    return out


def count(model: Any) -> int:
    return sum(len(rows) for name, rows in snapshot().items() if name == model.__tablename__)


def test_template_import_then_idempotent_reimport(db_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "dir.csv", GOOD)
    first = import_file(path)
    assert first.ok and (first.created, first.updated, first.unchanged) == (3, 0, 0)
    before = snapshot()
    again = import_file(path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert snapshot() == before
    changed = [dict(GOOD[0], hours="Mo-Fr 08:00-17:00"), *GOOD[1:]]
    third = import_file(write_csv(tmp_path / "dir2.csv", changed))
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert count(models.Service) == 3 and count(models.Location) == 3
    from bot.store.db import session_scope

    with session_scope() as session:
        rows = session.execute(select(models.Schedule.byday, models.Schedule.opens_at).join(models.Service).where(models.Service.external_id == "ke-nkr-1")).all()
        lima = session.execute(select(models.Location).where(models.Location.external_id == "pe-lim-1:location")).scalar_one()
        nakuru = session.execute(select(models.Location).where(models.Location.external_id == "ke-nkr-1:location")).scalar_one()
    assert rows == [("MO,TU,WE,TH,FR", "08:00")]
    assert lima.time_zone == "America/Lima" and nakuru.time_zone == "Africa/Nairobi"  # derived from coordinates


BAD_CASES = [
    ("latitude not a number", {"latitude": "south"}, "line 3", "bad coordinates"),
    ("latitude out of range", {"latitude": "95.1"}, "line 3", "bad coordinates"),
    ("null island", {"latitude": "0", "longitude": "0"}, "line 3", "bad coordinates"),
    ("swapped latitude and longitude", {"latitude": "36.07", "longitude": "-0.29"}, "line 3", "swapped"),
    ("point in another country", {"latitude": "-12.05", "longitude": "-77.04"}, "line 3", "from any town in KE"),
    ("unknown type", {"service_type": "spa"}, "line 3", "unknown service_type"),
    ("bad hours", {"hours": "Mon to Fri 8 to 5"}, "line 3", "opening hours"),
    ("bad phone", {"phone": "12345678901234"}, "line 3", "not a valid number"),
    ("fictional phone", {"phone": "+44 7700 900123"}, "line 3", "reserved for fiction"),
    ("bad country", {"country": "XX"}, "line 3", "ISO 3166"),
    ("bad date", {"last_verified": "last week"}, "line 3", "not a date"),
    ("future date", {"last_verified": "2999-01-01"}, "line 3", "in the future"),
    ("bad time zone", {"time_zone": "Mars/Olympus"}, "line 3", "IANA"),
    ("confidential without a public phone", {"phone": "", "confidential": "yes"}, "line 3", "public phone"),
    ("bad confidential flag", {"confidential": "maybe"}, "line 3", "yes/no"),
    ("bad id", {"id": "has space"}, "line 3", "id"),
]


@pytest.mark.parametrize("label,change,ref,reason", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_a_bad_row_is_reported_and_nothing_is_imported(db_url: str, tmp_path: Path, label: str, change: dict[str, str], ref: str, reason: str) -> None:
    import_file(write_csv(tmp_path / "base.csv", GOOD[:1]))
    before = snapshot()
    rows = [dict(GOOD[2], id="new-1"), dict(GOOD[1], **change), dict(GOOD[0], name="Renamed")]
    result = import_file(write_csv(tmp_path / "bad.csv", rows))
    assert not result.ok and not result.written
    assert any(p.ref == ref and reason in p.reason for p in result.problems), result.problems
    assert snapshot() == before


def test_every_bad_row_is_listed_with_its_line(tmp_path: Path) -> None:
    rows = [dict(GOOD[0], latitude="x"), GOOD[1], dict(GOOD[2], service_type="nope"), dict(GOOD[2], id="p2", phone="")]
    _, problems = validate_file(write_csv(tmp_path / "f.csv", rows))
    refs = {p.ref for p in problems}
    assert refs == {"line 2", "line 4"}  # the hotline-less row without phone is fine: phone is only required for confidential places


def test_duplicate_ids_are_refused(db_url: str, tmp_path: Path) -> None:
    before = snapshot()
    result = import_file(write_csv(tmp_path / "dup.csv", [GOOD[0], GOOD[1], dict(GOOD[2], id="ke-nkr-1")]))
    assert {(p.ref, "duplicate id" in p.reason) for p in result.problems} >= {("line 4", True), ("line 2", True)}
    assert snapshot() == before


def test_missing_columns(db_url: str, tmp_path: Path) -> None:
    before = snapshot()
    columns = tuple(c for c in TEMPLATE_COLUMNS if c not in ("latitude", "service_type"))
    result = import_file(write_csv(tmp_path / "cols.csv", GOOD, columns))
    assert [(p.ref, p.reason) for p in result.problems] == [("cols.csv line 1", "missing column(s): service_type, latitude")]
    assert snapshot() == before


def test_wrong_encoding(db_url: str, tmp_path: Path) -> None:
    before = snapshot()
    path = write_csv(tmp_path / "latin.csv", [GOOD[0], dict(GOOD[2], name="Centro de Atención Peñalolén")])
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))
    result = import_file(path)
    assert len(result.problems) == 1
    assert result.problems[0].ref == "latin.csv line 3" and "not UTF-8" in result.problems[0].reason
    assert snapshot() == before


def test_skip_invalid_imports_the_rest(db_url: str, tmp_path: Path) -> None:
    rows = [GOOD[0], dict(GOOD[1], latitude="999"), GOOD[2]]
    result = import_file(write_csv(tmp_path / "mixed.csv", rows), skip_invalid=True)
    assert result.written and result.created == 2
    assert [p.ref for p in result.problems] == ["line 3"]
    assert count(models.Service) == 2


def test_json_round_trip_and_hsds_datapackage(db_url: str, tmp_path: Path) -> None:
    from bot.directory.export import export

    import_file(write_csv(tmp_path / "dir.csv", GOOD))
    before = snapshot()
    assert export(tmp_path / "out.json") == 3
    assert export(tmp_path / "hsds") == 3
    assert export(tmp_path / "hsds.zip") == 3
    assert export(tmp_path / "out.csv") == 3
    for name in ("out.json", "hsds", "hsds.zip", "out.csv"):
        records, problems = validate_file(tmp_path / name)
        assert problems == [] and len(records) == 3, name
    doc = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert {s["service_type"] for s in doc["services"]} == {"one_stop_centre", "shelter", "gender_desk"}
    # Re-importing our own JSON export changes nothing.
    assert import_file(tmp_path / "out.json").unchanged == 3
    assert snapshot() == before
    manifest = json.loads((tmp_path / "hsds" / "datapackage.json").read_text())
    assert {r["name"] for r in manifest["resources"]} >= {"service", "organization", "location", "service_at_location", "phone", "schedule"}


def test_hsds_package_with_a_broken_reference(tmp_path: Path) -> None:
    from bot.directory.export import hsds_tables

    folder = tmp_path / "pkg"
    folder.mkdir()
    record = {
        "id": "svc-1", "name": "Desk", "service_type": "gender_desk", "description": None, "url": None, "email": None,
        "status": "active", "assured_date": "2026-01-01", "organization": {"id": "org-1", "name": "Org"},
        "phones": [{"number": "+254 20 2000000"}], "hours": "24/7", "languages": ["sw"],
        "service_at_locations": [{"location": {"id": "loc-1", "name": None, "description": None, "transportation": None,
                                               "latitude": -1.28, "longitude": 36.82, "time_zone": "Africa/Nairobi",
                                               "confidential": False, "locality": None, "accessibility": [], "phones": [],
                                               "addresses": [{"city": "Nairobi", "country": "KE"}]}}],
    }  # fmt: skip
    for name, text in hsds_tables([record]).items():
        (folder / name).write_text(text, encoding="utf-8")
    records, problems = validate_file(folder)
    assert problems == [] and records[0].locations[0].country == "KE"
    sal = folder / "service_at_location.csv"
    sal.write_text(sal.read_text().replace("loc-1\n", "loc-404\n"), encoding="utf-8")
    _, problems = validate_file(folder)
    assert {p.ref for p in problems} == {"service.csv line 2"}
    assert any("service_at_location.csv line 2" in p.reason and "loc-404" in p.reason for p in problems)
    (folder / "location.csv").unlink()
    _, problems = validate_file(folder)
    assert problems[0].ref == "location.csv" and "missing" in problems[0].reason


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"services": [\n  {"id": "a",\n  "name": }\n]}', encoding="utf-8")
    _, problems = validate_file(path)
    assert problems[0].ref == "broken.json line 3" and "not valid JSON" in problems[0].reason


def test_large_file_with_progress(db_url: str, tmp_path: Path) -> None:
    rows = [dict(GOOD[0], id=f"bulk-{i}", latitude=f"{-0.28 - i * 0.0005:.4f}") for i in range(600)]
    result = import_file(write_csv(tmp_path / "big.csv", rows))
    assert result.ok and result.created == 600
    assert import_file(tmp_path / "big.csv").unchanged == 600


def test_stale_lists_services_unverified_for_a_year(db_url: str, tmp_path: Path) -> None:
    from datetime import date

    from bot.directory.export import stale_services

    import_file(write_csv(tmp_path / "dir.csv", GOOD))
    stale = stale_services(today=date(2026, 11, 20))
    assert [s["id"] for s in stale] == ["pe-lim-1", "ke-nkr-2"]  # never verified first, then oldest
    assert stale[1]["last_verified"] == "2024-05-01"


def test_cli_reports_bad_rows_and_exit_code(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    bad = write_csv(tmp_path / "bad.csv", [GOOD[0], dict(GOOD[1], service_type="spa")])
    assert main(["directory", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "line 3: unknown service_type 'spa'" in err and "nothing was imported" in err
    assert main(["directory", "validate", str(write_csv(tmp_path / "ok.csv", GOOD))]) == 0
    assert main(["directory", "import", str(tmp_path / "ok.csv")]) == 0
    assert "3 new" in capsys.readouterr().out
    assert main(["directory", "stale"]) == 0
    assert main(["directory", "load-demo"]) == 1  # not empty
    assert main(["directory", "load-demo", "--force"]) == 0
    assert main(["directory", "export", str(tmp_path / "all.json"), "--include-demo"]) == 0
    assert len(json.loads((tmp_path / "all.json").read_text())["services"]) == 84


def test_demo_file_is_valid_and_clearly_fictional() -> None:
    from bot.directory.demo import DEMO_COUNTRIES, DEMO_FILE
    from bot.directory.fields import is_fictional

    records, problems = validate_file(DEMO_FILE, demo=True)
    assert problems == []
    assert {loc.country for r in records for loc in r.locations} >= set(DEMO_COUNTRIES)
    for rec in records:
        assert rec.is_demo and rec.name.startswith("DEMO ")
        assert rec.phones and all(is_fictional(p.number) for p in rec.phones)
        assert all(loc.address_1 in ("Fictional demo address", "Confidential demo address") for loc in rec.locations)
    assert json.loads(DEMO_FILE.read_text(encoding="utf-8"))["demo"] is True
    assert any(r.service_type == "shelter" and r.locations[0].confidential for r in records)


def test_the_demo_directory_loads_once_and_says_how_many_services(db_url: str) -> None:
    from sqlalchemy import func

    from bot.directory.demo import ensure_demo_loaded
    from bot.store.db import session_scope

    loaded = ensure_demo_loaded()
    with session_scope() as session:
        count = session.execute(select(func.count(models.Service.id))).scalar()
    assert loaded == count and count > 1  # a count, not True
    assert ensure_demo_loaded() == 0  # not empty any more: nothing loaded
