"""Directory tables, shaped after Open Referral HSDS 3.

organization -> service (typed: gender desk, one-stop centre, ...) -> service_at_location -> location,
with phones, schedules, languages and accessibility hanging off them. Every imported row keeps its
stable `external_id` (the HSDS `id` of the source file), so re-importing a file updates in place.

HSDS keeps addresses in their own table; Haven keeps one physical address per location and folds it
into `directory_locations` (exported back as HSDS `address.csv`). Haven extensions to HSDS:
`services.service_type`, `services.desk`, `locations.confidential`, `locations.time_zone`, `locations.locality`.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from bot.store.models import Base, UTCDateTime, utcnow

SERVICE_TYPES = (
    "gender_desk",
    "one_stop_centre",
    "shelter",
    "police",
    "hospital",
    "legal_aid",
    "counselling",
    "hotline",
)


class Organization(Base):
    """An HSDS organization: who runs one or more services."""

    __tablename__ = "directory_organizations"
    id = Column(Integer, primary_key=True, autoincrement=True)
    external_id = Column(String(200), nullable=False, unique=True)
    name = Column(String(300), nullable=False)
    alternate_name = Column(String(300), nullable=True)
    description = Column(Text, nullable=True)
    email = Column(String(200), nullable=True)
    website = Column(String(500), nullable=True)
    is_demo = Column(Boolean, nullable=False, default=False)
    source = Column(String(200), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Service(Base):
    """An HSDS service; `assured_date` is when someone last checked it (last verified)."""

    __tablename__ = "directory_services"
    id = Column(Integer, primary_key=True, autoincrement=True)
    external_id = Column(String(200), nullable=False, unique=True)
    organization_id = Column(
        Integer, ForeignKey("directory_organizations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name = Column(String(300), nullable=False)
    alternate_name = Column(String(300), nullable=True)
    description = Column(Text, nullable=True)
    service_type = Column(String(32), nullable=False, index=True)
    status = Column(String(32), nullable=False, default="active")
    desk = Column(Boolean, nullable=False, default=False)  # receives safe reports (bot.reporting)
    url = Column(String(500), nullable=True)
    email = Column(String(200), nullable=True)
    assured_date = Column(Date, nullable=True)
    is_demo = Column(Boolean, nullable=False, default=False)
    source = Column(String(200), nullable=True)
    record_hash = Column(String(64), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Location(Base):
    """An HSDS location with its (single) physical address folded in.

    A confidential location (a shelter) never has its address or coordinates sent to anyone;
    the coordinates are still stored so distance can be told as "within about N km".
    """

    __tablename__ = "directory_locations"
    id = Column(Integer, primary_key=True, autoincrement=True)
    external_id = Column(String(200), nullable=False, unique=True)
    organization_id = Column(
        Integer, ForeignKey("directory_organizations.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name = Column(String(300), nullable=True)
    description = Column(Text, nullable=True)
    transportation = Column(Text, nullable=True)
    address_1 = Column(String(300), nullable=True)
    locality = Column(String(120), nullable=True)
    city = Column(String(120), nullable=True)
    region = Column(String(120), nullable=True)
    postal_code = Column(String(20), nullable=True)
    country = Column(String(2), nullable=False, index=True)
    latitude = Column(Float, nullable=True)
    longitude = Column(Float, nullable=True)
    time_zone = Column(String(64), nullable=False)
    confidential = Column(Boolean, nullable=False, default=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, onupdate=utcnow)


class ServiceAtLocation(Base):
    """HSDS service_at_location: a service delivered at a location."""

    __tablename__ = "directory_service_at_location"
    __table_args__ = (UniqueConstraint("service_id", "location_id", name="uq_directory_sal_service_location"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    external_id = Column(String(200), nullable=True)
    service_id = Column(Integer, ForeignKey("directory_services.id", ondelete="CASCADE"), nullable=False)
    location_id = Column(
        Integer, ForeignKey("directory_locations.id", ondelete="CASCADE"), nullable=False, index=True
    )


class Phone(Base):
    """An HSDS phone. Service/organization phones are public contacts; location phones are not
    sent for confidential locations."""

    __tablename__ = "directory_phones"
    id = Column(Integer, primary_key=True, autoincrement=True)
    external_id = Column(String(200), nullable=True)
    service_id = Column(Integer, ForeignKey("directory_services.id", ondelete="CASCADE"), nullable=True, index=True)
    location_id = Column(
        Integer, ForeignKey("directory_locations.id", ondelete="CASCADE"), nullable=True, index=True
    )
    number = Column(String(40), nullable=False)
    extension = Column(String(20), nullable=True)
    type = Column(String(20), nullable=False, default="voice")
    description = Column(Text, nullable=True)
    position = Column(Integer, nullable=False, default=0)


class Schedule(Base):
    """HSDS schedule, weekly: `byday` (RFC 5545 days, e.g. "MO,TU"), `opens_at`/`closes_at` "HH:MM"
    in the location's time zone. `closes_at` <= `opens_at` crosses midnight; "24:00" ends the day."""

    __tablename__ = "directory_schedules"
    id = Column(Integer, primary_key=True, autoincrement=True)
    external_id = Column(String(200), nullable=True)
    service_id = Column(Integer, ForeignKey("directory_services.id", ondelete="CASCADE"), nullable=False, index=True)
    location_id = Column(Integer, ForeignKey("directory_locations.id", ondelete="CASCADE"), nullable=True)
    freq = Column(String(10), nullable=False, default="WEEKLY")
    byday = Column(String(40), nullable=False)
    opens_at = Column(String(5), nullable=False)
    closes_at = Column(String(5), nullable=False)
    valid_from = Column(Date, nullable=True)
    valid_to = Column(Date, nullable=True)
    description = Column(Text, nullable=True)


class Language(Base):
    """HSDS language: a language a service (or location) works in (ISO 639-1 code)."""

    __tablename__ = "directory_languages"
    id = Column(Integer, primary_key=True, autoincrement=True)
    external_id = Column(String(200), nullable=True)
    service_id = Column(Integer, ForeignKey("directory_services.id", ondelete="CASCADE"), nullable=True, index=True)
    location_id = Column(Integer, ForeignKey("directory_locations.id", ondelete="CASCADE"), nullable=True)
    code = Column(String(10), nullable=False)
    name = Column(String(100), nullable=True)
    note = Column(Text, nullable=True)


class Accessibility(Base):
    """HSDS accessibility: what a location offers (ramp, sign language, ...)."""

    __tablename__ = "directory_accessibility"
    id = Column(Integer, primary_key=True, autoincrement=True)
    external_id = Column(String(200), nullable=True)
    location_id = Column(
        Integer, ForeignKey("directory_locations.id", ondelete="CASCADE"), nullable=False, index=True
    )
    description = Column(Text, nullable=True)
    details = Column(Text, nullable=True)
    url = Column(String(500), nullable=True)


Index("ix_directory_services_assured", Service.assured_date)
