"""Opening hours: the template syntax, time zones, 24/7, closed days and hours past midnight."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.directory import hours
from bot.directory.hours import HoursError, Interval, format_hours, is_open, open_now, parse_hours


def local(y: int, mo: int, d: int, h: int, mi: int, tz: str) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz))


@pytest.mark.parametrize(
    "text",
    ["24/7", "Mo-Fr 08:00-17:00", "Mo-Fr 08:00-17:00; Sa 09:00-13:00", "Mo,We,Fr 08:00-12:00,14:00-17:00", "Fr-Sa 22:00-06:00", "Sa-Mo 10:00-14:00"],
)
def test_syntax_round_trips(text: str) -> None:
    parsed = parse_hours(text)
    assert parse_hours(format_hours(parsed)) == parsed
    assert parse_hours(format_hours(parsed).lower()) == parsed


@pytest.mark.parametrize("bad", ["Mo-Fr 8-17", "Xx 08:00-10:00", "Mo-Fr 08:00-25:00", "Mo 10:00-10:00", "open sometimes", "Mo 24:00-02:00"])
def test_bad_hours_are_refused_with_a_reason(bad: str) -> None:
    with pytest.raises(HoursError):
        parse_hours(bad)


def test_schedule_rows_round_trip() -> None:
    parsed = parse_hours("Mo-Fr 08:00-17:00; Su 22:00-06:00")
    rows = hours.to_schedule_rows(parsed)
    assert rows == [("MO,TU,WE,TH,FR", "08:00", "17:00"), ("SU", "22:00", "06:00")]
    assert hours.from_schedule_rows(rows) == parsed


def test_empty_hours_are_unknown_not_closed() -> None:
    assert parse_hours("") == ()
    assert open_now((), "Africa/Nairobi") is None
    assert hours.hours_today_text((), "Africa/Nairobi") == "?"


def test_always_open() -> None:
    always = parse_hours("24/7")
    assert hours.is_always_open(always)
    for h in range(24):
        assert is_open(always, local(2026, 11, 22, h, 30, "America/Lima"))
    assert hours.hours_today_text(always, "America/Lima") == "24h"


def test_closed_days() -> None:
    office = parse_hours("Mo-Fr 08:00-17:00; Sa 09:00-13:00")
    assert is_open(office, local(2026, 11, 20, 10, 0, "Africa/Nairobi"))  # Friday
    assert is_open(office, local(2026, 11, 21, 12, 59, "Africa/Nairobi"))  # Saturday
    assert not is_open(office, local(2026, 11, 21, 13, 0, "Africa/Nairobi"))  # closes at 13:00
    assert not is_open(office, local(2026, 11, 22, 10, 0, "Africa/Nairobi"))  # Sunday: not listed = closed
    assert not is_open(office, local(2026, 11, 20, 7, 59, "Africa/Nairobi"))
    now = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
    assert hours.hours_today_text(office, "Africa/Nairobi", now) == ""
    assert hours.next_opening(office, "Africa/Nairobi", now) == local(2026, 11, 23, 8, 0, "Africa/Nairobi")


def test_hours_past_midnight() -> None:
    nights = parse_hours("Fr-Sa 22:00-06:00")
    tz = "Africa/Nairobi"
    assert not is_open(nights, local(2026, 11, 20, 21, 59, tz))  # Friday before opening
    assert is_open(nights, local(2026, 11, 20, 23, 0, tz))  # Friday night
    assert is_open(nights, local(2026, 11, 21, 5, 59, tz))  # Saturday early: Friday's night
    assert not is_open(nights, local(2026, 11, 21, 6, 0, tz))
    assert is_open(nights, local(2026, 11, 22, 2, 0, tz))  # Sunday early: Saturday's night
    assert not is_open(nights, local(2026, 11, 22, 23, 0, tz))  # Sunday night: not listed
    assert not is_open(nights, local(2026, 11, 20, 2, 0, tz))  # Friday early: Thursday had no night
    saturday = datetime(2026, 11, 21, 9, 0, tzinfo=timezone.utc)
    assert hours.hours_today_text(nights, tz, saturday) == "00:00-06:00, 22:00-06:00"


def test_sunday_night_into_monday_wraps_the_week() -> None:
    sunday_night = (Interval(frozenset({6}), 20 * 60, 4 * 60),)
    assert is_open(sunday_night, local(2026, 11, 23, 3, 0, "Europe/Madrid"))  # Monday 03:00


def test_same_instant_open_in_lima_closed_in_nairobi() -> None:
    office = parse_hours("Mo-Fr 08:00-17:00")
    instant = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # Friday
    assert open_now(office, "America/Lima", instant) is True  # 10:00 in Lima
    assert open_now(office, "Africa/Nairobi", instant) is False  # 18:00 in Nairobi
    assert open_now(office, "Asia/Tokyo", instant) is False  # Saturday 00:00 in Tokyo


def test_daylight_saving_time_in_madrid() -> None:
    office = parse_hours("Mo-Fr 09:00-14:00")
    summer = datetime(2026, 7, 3, 7, 30, tzinfo=timezone.utc)  # Friday, UTC+2: 09:30 local
    winter = datetime(2026, 12, 4, 7, 30, tzinfo=timezone.utc)  # Friday, UTC+1: 08:30 local
    assert open_now(office, "Europe/Madrid", summer) is True
    assert open_now(office, "Europe/Madrid", winter) is False


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        hours.local_time("Africa/Nairobi", datetime(2026, 1, 1, 12, 0))
