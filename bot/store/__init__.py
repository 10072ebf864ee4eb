"""Persistence: SQLAlchemy engine/session factories, models, migrations, encrypted tracker store."""

from __future__ import annotations

import importlib
from typing import Any

# Feature model modules that declare tables on bot.store.models.Base (imported if present).
MODEL_MODULES = (
    "bot.store.models", "bot.directory.models", "bot.handoff.models", "bot.staff.models", "bot.reporting.models",
)


def all_models() -> Any:
    """Import every model module and return the shared MetaData (for Alembic and tests)."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    from bot.store.models import Base

    return Base.metadata
