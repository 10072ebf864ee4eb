"""Case tables: cases, their own data keys, notes and contact log, referrals, desk teams.

A case's report and statement live under the case's own data key (`report_case_keys`), never
the conversation's, so a conversation's erase does not reach a submitted case and withdrawing
(or retention) shreds exactly one key. Only category answers stay in clear, for routing and
statistics: incident types, when, region (admin level 1), age band, relationship, channel.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, LargeBinary, String

from bot.store.models import Base, UTCDateTime, utcnow

# GBVIMS core incident types, in plain-word codes.
INCIDENT_TYPES = (
    "rape", "sexual_assault", "physical_assault", "forced_marriage", "denial_of_resources", "psychological_abuse",
)
WHEN_BANDS = ("today", "this_week", "this_month", "longer_ago")
RELATIONSHIPS = ("partner", "former_partner", "family", "acquaintance", "stranger", "other")
AGE_BANDS = ("0-17", "18-24", "25-39", "40-59", "60+")
CONTACT_MODES = ("chat", "safe_time", "other_number", "none")

NEW, ACKNOWLEDGED, CONTACTED, REFERRED, CLOSED = "new", "acknowledged", "contacted", "referred", "closed"
STATUSES = (NEW, ACKNOWLEDGED, CONTACTED, REFERRED, CLOSED)
OPEN_STATUSES = (NEW, ACKNOWLEDGED, CONTACTED, REFERRED)
TRANSITIONS = {
    NEW: (ACKNOWLEDGED, CLOSED),
    ACKNOWLEDGED: (CONTACTED, REFERRED, CLOSED),
    CONTACTED: (REFERRED, CLOSED),
    REFERRED: (CLOSED,),
    CLOSED: (),
}
CASE_OUTCOMES = ("referred", "support_given", "no_contact_possible", "declined", "duplicate", "other")

REFERRAL_STATUSES = ("proposed", "sent", "accepted", "declined", "completed")
REFERRAL_NEXT = {
    "proposed": ("sent", "declined"),
    "sent": ("accepted", "declined"),
    "accepted": ("completed",),
    "declined": (),
    "completed": (),
}
SHARE_FIELDS = ("incident_types", "when", "region", "statement", "contact", "name")
CONSENT_HOW = ("chat", "in_person", "phone")

NOTE, CONTACT = "note", "contact"


class ReportCase(Base):
    """A submitted report: the case the desk works on. `version` is its optimistic lock."""

    __tablename__ = "report_cases"
    __table_args__ = (Index("ix_report_cases_team_status", "team_id", "status", "submitted_at"),)
    id = Column(Integer, primary_key=True, autoincrement=True)
    reference = Column(String(8), nullable=False, unique=True)
    conversation_id = Column(String(64), nullable=False, index=True)
    submit_key = Column(String(64), nullable=True, unique=True)  # keyed hash; a second confirm is a no-op
    code_word_hash = Column(String(64), nullable=True)  # copy of her code word's keyed hash at submit
    channel = Column(String(16), nullable=False)
    language = Column(String(8), nullable=False)
    country = Column(String(2), nullable=True)
    region = Column(String(120), nullable=True)
    incident_types = Column(String(160), nullable=False, default="")  # comma-separated codes
    when_band = Column(String(16), nullable=True)
    age_band = Column(String(8), nullable=True)
    relationship = Column(String(16), nullable=True)
    safe_now = Column(Boolean, nullable=True)
    needs_doctor = Column(Boolean, nullable=True)
    anonymous = Column(Boolean, nullable=False, default=True)
    contact_mode = Column(String(16), nullable=False, default="chat")
    answers_ct = Column(LargeBinary, nullable=False)  # JSON: place, name, contact details (case key)
    statement_ct = Column(LargeBinary, nullable=True)  # her own words (case key)
    consent_version = Column(String(16), nullable=False)
    consent_at = Column(UTCDateTime, nullable=False)
    desk_service_id = Column(Integer, ForeignKey("directory_services.id", ondelete="SET NULL"), nullable=True)
    team_id = Column(Integer, ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    status = Column(String(16), nullable=False, default=NEW)
    outcome = Column(String(24), nullable=True)
    version = Column(Integer, nullable=False, default=0)
    entry_seq = Column(Integer, nullable=False, default=0)
    submitted_at = Column(UTCDateTime, nullable=False, default=utcnow)
    acknowledged_at = Column(UTCDateTime, nullable=True)
    first_contact_at = Column(UTCDateTime, nullable=True)
    referred_at = Column(UTCDateTime, nullable=True)
    closed_at = Column(UTCDateTime, nullable=True)
    acknowledged_by = Column(Integer, nullable=True)
    closed_by = Column(Integer, nullable=True)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class CaseKey(Base):
    """A case's own data key, wrapped by the master key; deleting it shreds the case's content."""

    __tablename__ = "report_case_keys"
    case_id = Column(Integer, primary_key=True, autoincrement=False)
    key_id = Column(String(32), nullable=False)
    wrapped_key = Column(LargeBinary, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class CaseEntry(Base):
    """An officer's note or a contact message to her; `body_ct` under the case key."""

    __tablename__ = "report_case_entries"
    id = Column(Integer, primary_key=True, autoincrement=True)
    case_id = Column(Integer, ForeignKey("report_cases.id", ondelete="CASCADE"), nullable=False, index=True)
    seq = Column(Integer, nullable=False)
    kind = Column(String(8), nullable=False)  # note | contact
    officer_id = Column(Integer, nullable=True)
    body_ct = Column(LargeBinary, nullable=False)
    delivery = Column(String(16), nullable=True)  # contact: pending | sent | held | failed
    error = Column(String(64), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Referral(Base):
    """A referral to a directory service, with her consent: who, what was shared, when."""

    __tablename__ = "report_referrals"
    id = Column(Integer, primary_key=True, autoincrement=True)
    case_id = Column(Integer, ForeignKey("report_cases.id", ondelete="CASCADE"), nullable=False, index=True)
    service_id = Column(Integer, ForeignKey("directory_services.id", ondelete="SET NULL"), nullable=True)
    service_type = Column(String(32), nullable=False)
    shared = Column(String(120), nullable=False)  # comma-separated SHARE_FIELDS
    consent_by = Column(String(16), nullable=False, default="survivor")
    consent_how = Column(String(16), nullable=False)
    consent_at = Column(UTCDateTime, nullable=False)
    recorded_by = Column(Integer, nullable=False)  # officer id
    status = Column(String(16), nullable=False, default="proposed")
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = Column(UTCDateTime, nullable=False, default=utcnow)


class DeskTeam(Base):
    """Which roster team works the cases routed to a desk (a directory service flagged `desk`)."""

    __tablename__ = "report_desk_teams"
    service_id = Column(Integer, ForeignKey("directory_services.id", ondelete="CASCADE"), primary_key=True)
    team_id = Column(Integer, ForeignKey("teams.id", ondelete="CASCADE"), nullable=False, index=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


def entry_context(case_id: int, seq: int) -> str:
    return f"report_case_entries|{case_id}|{seq}"


ANSWERS_CONTEXT = "report_cases|answers"
STATEMENT_CONTEXT = "report_cases|statement"
