"""Typed reporting errors; messages are safe to show and never carry survivor content."""

from __future__ import annotations


class ReportingError(Exception):
    """Base of every reporting error."""


class ConsentRequired(ReportingError):
    """Her explicit consent is missing: nothing was stored."""


class InvalidDraft(ReportingError):
    """A draft answer is not one of the allowed values (names the field, never the value)."""

    def __init__(self, field: str, reason: str = "not an allowed value") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


class InvalidRequest(ReportingError):
    """A desk request is malformed (unknown service, empty note, bad status word...)."""


class NotFound(ReportingError):
    """No such case for this caller (also: not allowed to see it). Deliberately vague."""


class InvalidTransition(ReportingError):
    """The case cannot move to that status from where it is."""


class StaleCase(ReportingError):
    """The case changed since it was read (another officer acted first): reload."""


class ContactNotAllowed(ReportingError):
    """Her contact choice does not allow this contact."""
