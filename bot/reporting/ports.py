"""The one place reporting names the audit log and the officer model (bot/audit.py, bot/staff/)."""

from __future__ import annotations

from bot import audit  # noqa: F401  (re-exported: audit.append)
from bot.staff.models import AuditEntry, Officer  # noqa: F401

__all__ = ["audit", "AuditEntry", "Officer"]
