"""The one place reporting names the audit log and the officer model (moving to bot/audit.py
and bot/staff/ on another branch: repoint these two imports and nothing else)."""

from __future__ import annotations

from bot.console import audit  # noqa: F401  (re-exported: audit.append)
from bot.console.models import AuditEntry, Officer  # noqa: F401

__all__ = ["audit", "AuditEntry", "Officer"]
