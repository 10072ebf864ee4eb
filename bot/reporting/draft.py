"""What she answered in the report form, validated: categories, place, contact choice, statement."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional

from bot.reporting.errors import InvalidDraft
from bot.reporting.models import AGE_BANDS, CONTACT_MODES, INCIDENT_TYPES, RELATIONSHIPS, WHEN_BANDS

MAX_STATEMENT = 4000
MAX_SHORT = 200


@dataclass(frozen=True)
class Consent:
    """Her explicit yes, after hearing what a report is and that it survives quick exit."""

    given: bool
    told_kept_after_exit: bool
    version: str = "v1"


@dataclass(frozen=True)
class Place:
    name: Optional[str] = None
    lat: Optional[float] = None
    lon: Optional[float] = None
    region: Optional[str] = None  # admin level 1
    country: Optional[str] = None


@dataclass(frozen=True)
class ContactChoice:
    mode: str = "chat"
    safe_time: Optional[str] = None
    number: Optional[str] = None
    call_ok: bool = False


@dataclass(frozen=True)
class Draft:
    incident_types: tuple[str, ...] = ()
    when: Optional[str] = None
    place: Optional[Place] = None
    safe_now: Optional[bool] = None
    needs_doctor: Optional[bool] = None
    relationship: Optional[str] = None
    age_band: Optional[str] = None
    anonymous: bool = True
    name: Optional[str] = None
    contact: ContactChoice = field(default_factory=ContactChoice)
    statement: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Draft":
        """Validate a slot dictionary (unknown keys are refused, skipped answers are None)."""
        if not isinstance(data, Mapping):
            raise InvalidDraft("draft", "not a mapping")
        known = {f for f in cls.__dataclass_fields__}
        extra = sorted(set(data) - known)
        if extra:
            raise InvalidDraft(extra[0], "unknown field")
        types = data.get("incident_types") or ()
        if isinstance(types, str) or not isinstance(types, (list, tuple)):
            raise InvalidDraft("incident_types", "a list")
        place = data.get("place")
        contact = data.get("contact") or {}
        if place is not None and not isinstance(place, (Mapping, Place)):
            raise InvalidDraft("place", "a mapping")
        if not isinstance(contact, (Mapping, ContactChoice)):
            raise InvalidDraft("contact", "a mapping")
        try:
            place_obj = place if isinstance(place, Place) or place is None else Place(**dict(place))
            contact_obj = contact if isinstance(contact, ContactChoice) else ContactChoice(**dict(contact))
        except TypeError as exc:
            raise InvalidDraft("place" if "Place" in str(exc) else "contact", "unknown field") from None
        draft = cls(
            incident_types=tuple(types), when=data.get("when"), place=place_obj, safe_now=data.get("safe_now"),
            needs_doctor=data.get("needs_doctor"), relationship=data.get("relationship"),
            age_band=data.get("age_band"), anonymous=data.get("anonymous", True), name=data.get("name"),
            contact=contact_obj, statement=data.get("statement"),
        )
        draft.validate()
        return draft

    def validate(self) -> None:
        """Raise InvalidDraft for the first answer that is not allowed."""
        if len(set(self.incident_types)) != len(self.incident_types) or any(
            t not in INCIDENT_TYPES for t in self.incident_types
        ):
            raise InvalidDraft("incident_types")
        _choice("when", self.when, WHEN_BANDS)
        _choice("relationship", self.relationship, RELATIONSHIPS)
        _choice("age_band", self.age_band, AGE_BANDS)
        for name in ("safe_now", "needs_doctor"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise InvalidDraft(name, "yes, no or skipped")
        if not isinstance(self.anonymous, bool):
            raise InvalidDraft("anonymous", "yes or no")
        if self.anonymous and self.name:
            raise InvalidDraft("name", "given for an anonymous report")
        _text("name", self.name, MAX_SHORT)
        _text("statement", self.statement, MAX_STATEMENT)
        if self.place is not None:
            p = self.place
            for name in ("name", "region"):
                _text(f"place.{name}", getattr(p, name), MAX_SHORT)
            if (p.lat is None) != (p.lon is None):
                raise InvalidDraft("place", "latitude and longitude go together")
            if p.lat is not None:
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (p.lat, p.lon)):
                    raise InvalidDraft("place", "coordinates must be numbers")
                if not (-90 <= float(p.lat) <= 90 and -180 <= float(p.lon) <= 180):  # type: ignore[arg-type]
                    raise InvalidDraft("place", "coordinates out of range")
            if p.country is not None and (not isinstance(p.country, str) or len(p.country) != 2):
                raise InvalidDraft("place.country", "a two-letter country code")
        c = self.contact
        _choice("contact.mode", c.mode, CONTACT_MODES, allow_none=False)
        _text("contact.safe_time", c.safe_time, MAX_SHORT)
        _text("contact.number", c.number, 40)
        if not isinstance(c.call_ok, bool):
            raise InvalidDraft("contact.call_ok", "yes or no")
        if c.mode == "safe_time" and not c.safe_time:
            raise InvalidDraft("contact.safe_time", "missing for a safe-time contact")
        if c.mode == "other_number" and not c.number:
            raise InvalidDraft("contact.number", "missing for a different-number contact")

    def answers(self) -> dict[str, Any]:
        """What goes under the case key (everything but the statement)."""
        data = asdict(self)
        data.pop("statement")
        data["incident_types"] = list(self.incident_types)
        return data


def _choice(name: str, value: Any, allowed: tuple[str, ...], allow_none: bool = True) -> None:
    if value is None and allow_none:
        return
    if value not in allowed:
        raise InvalidDraft(name)


def _text(name: str, value: Any, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidDraft(name, "text")
    if len(value) > limit:
        raise InvalidDraft(name, f"longer than {limit} characters")
    if "\x00" in value:
        raise InvalidDraft(name, "control characters")
