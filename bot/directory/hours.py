"""Opening hours: weekly intervals in a location's time zone, "open now", and a compact syntax.

The one-sheet template writes hours in a small subset of OpenStreetMap's `opening_hours`:
    24/7
    Mo-Fr 08:00-17:00; Sa 09:00-13:00
    Mo,We,Fr 08:00-12:00,14:00-17:00
    Fr-Sa 22:00-06:00          (crosses midnight: Friday 22:00 to Saturday 06:00)
Days not listed are closed. An empty value means "hours not known" (never shown as open).
The HSDS form is one schedule row per interval: byday "MO,TU", opens_at "08:00", closes_at "17:00"
("24:00" ends the day; closes_at <= opens_at crosses midnight).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional, Sequence
from zoneinfo import ZoneInfo

DAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_OSM_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
DAY_MINUTES = 24 * 60


class HoursError(ValueError):
    """Opening hours that cannot be read; the message says what is wrong."""


@dataclass(frozen=True)
class Interval:
    """Open on `days` (0 = Monday) from `opens` to `closes` (minutes after local midnight).

    `closes` <= `opens` means the interval runs past midnight into the next day.
    """

    days: frozenset[int]
    opens: int
    closes: int

    @property
    def crosses_midnight(self) -> bool:
        return self.closes <= self.opens

    @property
    def all_day(self) -> bool:
        return self.opens == 0 and self.closes == DAY_MINUTES


ALWAYS = (Interval(frozenset(range(7)), 0, DAY_MINUTES),)


def parse_time(value: str, allow_24: bool = True) -> int:
    """'08:30' -> 510 minutes; '24:00' allowed as the end of the day."""
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::00)?\s*", value or "")
    if not match:
        raise HoursError(f"time {value!r} is not HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise HoursError(f"time {value!r} is out of range")
    return hours * 60 + minutes


def format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        bounds = part.split("-")
        try:
            idx = [_OSM_DAYS.index(b.strip().capitalize()[:2]) for b in bounds]
        except ValueError:
            raise HoursError(f"unknown day {part!r} (use Mo Tu We Th Fr Sa Su)") from None
        if len(idx) == 1:
            days.add(idx[0])
        elif len(idx) == 2:
            start, end = idx
            days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
        else:
            raise HoursError(f"day range {part!r} is not valid")
    return frozenset(days)


def parse_hours(text: Optional[str]) -> tuple[Interval, ...]:
    """Parse the template syntax; '' -> () (unknown), '24/7' -> always open."""
    text = (text or "").strip()
    if not text:
        return ()
    if text.replace(" ", "").lower() in ("24/7", "mo-su00:00-24:00"):
        return ALWAYS
    intervals: list[Interval] = []
    for rule in filter(None, (r.strip() for r in text.split(";"))):
        match = re.fullmatch(r"([A-Za-z,\- ]+?)\s+([\d:,\- ]+)", rule)
        if not match:
            raise HoursError(f"cannot read {rule!r}; write e.g. 'Mo-Fr 08:00-17:00'")
        days = _parse_days(match.group(1))
        for span in match.group(2).split(","):
            pieces = span.strip().split("-")
            if len(pieces) != 2:
                raise HoursError(f"time range {span.strip()!r} is not HH:MM-HH:MM")
            opens, closes = parse_time(pieces[0], allow_24=False), parse_time(pieces[1])
            if opens == closes:
                raise HoursError(f"time range {span.strip()!r} is empty")
            intervals.append(Interval(days, opens, closes))
    return tuple(intervals)


def from_schedule_rows(rows: Iterable[tuple[str, str, str]]) -> tuple[Interval, ...]:
    """HSDS rows (byday, opens_at, closes_at) -> intervals."""
    out = []
    for byday, opens_at, closes_at in rows:
        days = frozenset(DAY_CODES.index(d.strip().upper()) for d in byday.split(",") if d.strip())
        out.append(Interval(days, parse_time(opens_at, allow_24=False), parse_time(closes_at)))
    return tuple(out)


def to_schedule_rows(intervals: Sequence[Interval]) -> list[tuple[str, str, str]]:
    """Intervals -> HSDS rows (byday, opens_at, closes_at)."""
    return [
        (",".join(DAY_CODES[d] for d in sorted(iv.days)), format_time(iv.opens), format_time(iv.closes))
        for iv in intervals
    ]


def _days_text(days: frozenset[int]) -> str:
    ordered = sorted(days)
    runs: list[list[int]] = []
    for d in ordered:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    return ",".join(
        _OSM_DAYS[r[0]] if len(r) == 1 else f"{_OSM_DAYS[r[0]]}-{_OSM_DAYS[r[-1]]}" for r in runs
    )


def format_hours(intervals: Sequence[Interval]) -> str:
    """Intervals -> the template syntax (round-trips through parse_hours)."""
    if not intervals:
        return ""
    if is_always_open(intervals):
        return "24/7"
    groups: dict[frozenset[int], list[str]] = {}
    for iv in intervals:
        groups.setdefault(iv.days, []).append(f"{format_time(iv.opens)}-{format_time(iv.closes)}")
    return "; ".join(f"{_days_text(days)} {','.join(spans)}" for days, spans in groups.items())


def is_always_open(intervals: Sequence[Interval]) -> bool:
    covered: set[int] = set()
    for iv in intervals:
        if iv.all_day:
            covered |= iv.days
    return covered == set(range(7))


def is_open(intervals: Sequence[Interval], local: datetime) -> bool:
    """Open at this local (zone-aware) time, counting yesterday's intervals that cross midnight."""
    weekday = local.weekday()
    minute = local.hour * 60 + local.minute
    yesterday = (weekday - 1) % 7
    for iv in intervals:
        if iv.crosses_midnight:
            if (weekday in iv.days and minute >= iv.opens) or (yesterday in iv.days and minute < iv.closes):
                return True
        elif weekday in iv.days and iv.opens <= minute < iv.closes:
            return True
    return False


def local_time(time_zone: str, now: Optional[datetime] = None) -> datetime:
    """`now` (aware; default: the current time) in the IANA zone."""
    now = now or datetime.now(ZoneInfo("UTC"))
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    return now.astimezone(ZoneInfo(time_zone))


def open_now(intervals: Sequence[Interval], time_zone: str, now: Optional[datetime] = None) -> Optional[bool]:
    """True/False, or None when the hours are not known."""
    if not intervals:
        return None
    return is_open(intervals, local_time(time_zone, now))


def spans_on(intervals: Sequence[Interval], weekday: int) -> list[tuple[int, int]]:
    """(opens, closes) spans that start on this weekday, plus a carry-over from last night."""
    spans: list[tuple[int, int]] = []
    yesterday = (weekday - 1) % 7
    for iv in intervals:
        if iv.crosses_midnight and yesterday in iv.days and iv.closes > 0:
            spans.append((0, iv.closes))
        if weekday in iv.days:
            spans.append((iv.opens, iv.closes))
    return sorted(set(spans))


def hours_today_text(intervals: Sequence[Interval], time_zone: str, now: Optional[datetime] = None) -> str:
    """'08:00-17:00', '00:00-06:00, 22:00-06:00', '24h', '' (closed today) or '?' (unknown)."""
    if not intervals:
        return "?"
    if is_always_open(intervals):
        return "24h"
    local = local_time(time_zone, now)
    spans = spans_on(intervals, local.weekday())
    return ", ".join(f"{format_time(a)}-{format_time(b)}" for a, b in spans)


def next_opening(intervals: Sequence[Interval], time_zone: str, now: Optional[datetime] = None) -> Optional[datetime]:
    """The next local time it opens (within a week), or None."""
    if not intervals:
        return None
    local = local_time(time_zone, now).replace(second=0, microsecond=0)
    for offset in range(8):
        day = local + timedelta(days=offset)
        for iv in sorted(intervals, key=lambda i: i.opens):
            if day.weekday() in iv.days:
                start = day.replace(hour=iv.opens // 60, minute=iv.opens % 60)
                if start > local:
                    return start
    return None
