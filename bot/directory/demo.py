"""The synthetic demo directory (data/directory/demo.json): clearly labelled, fictional services.

Every service is called "DEMO ...", marked `is_demo`, and answers say so. Coordinates are real town
centres (GeoNames; a few neighbourhood centres approximate), except the confidential shelters, put at a
fictional point a few km away (a secret position must never equal a public one); phone numbers come from Ofcom's range
reserved for drama (+44 7700 900xxx), which reaches no one; addresses are "Fictional demo address".
It covers Kenya, Rwanda, Senegal, Peru, Spain, Brazil and Mozambique, so every supported language
has a country to try. `haven run` calls `ensure_demo_loaded()`: it loads only into an empty directory.
"""

from __future__ import annotations

import logging

from bot.directory.importer import ImportResult, import_file
from bot.settings import ROOT

log = logging.getLogger("haven.directory.demo")

DEMO_FILE = ROOT / "data" / "directory" / "demo.json"
DEMO_COUNTRIES = ("KE", "RW", "SN", "PE", "ES", "BR", "MZ")
DEMO_SOURCE = "demo"


def directory_is_empty() -> bool:
    from sqlalchemy import func, select

    from bot.directory.models import Service
    from bot.store.db import session_scope

    with session_scope() as session:
        return not session.execute(select(func.count(Service.id))).scalar()


def load_demo() -> ImportResult:
    """Import (or refresh) the demo directory; idempotent."""
    result = import_file(DEMO_FILE, fmt="json", demo=True, source=DEMO_SOURCE)
    if not result.ok:
        raise RuntimeError("demo directory is invalid: " + "; ".join(str(p) for p in result.problems[:5]))
    return result


def ensure_demo_loaded() -> int:
    """Load the demo directory if the directory is empty; how many services it loaded (0: none)."""
    if not directory_is_empty():
        return 0
    result = load_demo()
    log.info("directory was empty: loaded the synthetic demo directory (%d services)", result.created)
    return result.created
