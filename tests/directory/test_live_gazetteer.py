"""The process-wide gazetteer follows the directory: its countries and its localities."""

from __future__ import annotations

from pathlib import Path

from bot.directory.placefinder import find_place

from .test_import import GOOD, write_csv


def test_live_gazetteer_follows_imports(demo_db: str, tmp_path: Path) -> None:
    from bot.directory import gazetteer
    from bot.directory.importer import import_file

    gazetteer._state.update(gazetteer=None, version=None)
    gaz = gazetteer.get_gazetteer()
    assert set(gaz.detail_countries) >= {"KE", "RW", "SN", "PE", "ES", "BR", "MZ"}
    assert find_place(gaz, "niko kibera", "KE", "sw").place.kind == "locality"
    assert find_place(gaz, "niko mukuru kwa njenga", "KE", "sw").status == "unknown"
    # A new listing names a new locality: the next lookup knows it, without a restart.
    row = dict(GOOD[0], id="ke-mukuru-1", locality="Mukuru kwa Njenga", city="Nairobi", latitude="-1.3170", longitude="36.8870")
    assert import_file(write_csv(tmp_path / "new.csv", [row])).ok
    gaz = gazetteer.get_gazetteer()
    match = find_place(gaz, "niko mukuru kwa njenga", "KE", "sw")
    assert match.status == "found" and match.place.name == "Mukuru kwa Njenga" and match.place.parent == "Nairobi"
    gazetteer._state.update(gazetteer=None, version=None)
