"""Business time on Jakarta hours: breaks, weekends, public holidays and cuti
bersama, extra dates from the configuration, and pauses."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from helpdesk.business_calendar import BusinessCalendar, CalendarError
from helpdesk.config import BusinessHoursConfig
from tests.helpdesk.desk import JAKARTA, wib

CALENDAR = BusinessCalendar(BusinessHoursConfig())


def local(instant: datetime) -> str:
    return instant.astimezone(JAKARTA).strftime("%a %Y-%m-%d %H:%M")


def test_friday_afternoon_before_a_monday_holiday_is_due_on_tuesday() -> None:
    # Friday 14 August 2026 15:50; Monday 17 August is Independence Day.
    # Friday's last period ends 16:30: 40 minutes there, 20 on Tuesday.
    assert CALENDAR.holiday_name(wib(2026, 8, 17, 9).date()) == "Independence Day"
    due = CALENDAR.add_minutes(wib(2026, 8, 14, 15, 50), 60)
    assert local(due) == "Tue 2026-08-18 08:20"
    assert CALENDAR.minutes_between(wib(2026, 8, 14, 15, 50), due) == 60


def test_the_lunch_break_does_not_count() -> None:
    # Monday 11:30 + 60: 30 minutes before the break, 30 after it.
    assert local(CALENDAR.add_minutes(wib(2026, 8, 10, 11, 30), 60)) == "Mon 2026-08-10 13:30"
    # Friday's break is longer (11:30-13:00, Friday prayers).
    assert local(CALENDAR.add_minutes(wib(2026, 8, 14, 11, 0), 60)) == "Fri 2026-08-14 13:30"
    assert CALENDAR.minutes_between(wib(2026, 8, 10, 11, 0), wib(2026, 8, 10, 14, 0)) == 120


def test_pauses_stop_the_clock() -> None:
    start = wib(2026, 8, 11, 9, 0)
    pauses = [(wib(2026, 8, 11, 9, 10), wib(2026, 8, 11, 9, 40))]
    assert local(CALENDAR.add_minutes(start, 60, pauses)) == "Tue 2026-08-11 10:30"
    assert CALENDAR.minutes_between(start, wib(2026, 8, 11, 10, 30), pauses) == 60
    # A pause over the night and the next morning.
    overnight = [(wib(2026, 8, 11, 15, 0), wib(2026, 8, 12, 9, 0))]
    assert local(CALENDAR.add_minutes(wib(2026, 8, 11, 14, 0), 90, overnight)) == \
        "Wed 2026-08-12 09:30"


def test_outside_hours_the_clock_waits_for_the_next_opening() -> None:
    # Saturday, Sunday, then the Monday holiday.
    assert local(CALENDAR.add_minutes(wib(2026, 8, 15, 10), 0)) == "Tue 2026-08-18 08:00"
    assert local(CALENDAR.add_minutes(wib(2026, 8, 11, 6, 30), 15)) == "Tue 2026-08-11 08:15"
    assert local(CALENDAR.add_minutes(wib(2026, 8, 11, 20, 0), 15)) == "Wed 2026-08-12 08:15"
    assert not CALENDAR.is_open(wib(2026, 8, 11, 12, 30))
    assert CALENDAR.is_open(wib(2026, 8, 11, 13, 0))


def test_cuti_bersama_closes_the_office_unless_switched_off() -> None:
    # Friday 20 March 2026 is joint leave before Idul Fitri; 23-24 March too.
    start = wib(2026, 3, 17, 15, 30)  # Tuesday; Wednesday 18 is joint leave for Nyepi
    assert local(CALENDAR.add_minutes(start, 60)) == "Wed 2026-03-25 08:30"
    public_only = BusinessCalendar(replace(BusinessHoursConfig(), include_cuti_bersama=False))
    assert local(public_only.add_minutes(start, 60)) == "Wed 2026-03-18 08:30"


def test_extra_holidays_and_working_days_from_the_configuration() -> None:
    config = replace(BusinessHoursConfig(), extra_holidays=("2026-08-11",),
                     extra_working_days=("2026-08-15", "2026-08-17"))
    calendar = BusinessCalendar(config)
    # Tuesday closed by the city; the Saturday after is a working day with
    # Monday's hours, and the holiday Monday is declared open.
    assert calendar.holiday_name(wib(2026, 8, 11, 9).date()) == "Libur tambahan"
    assert local(calendar.add_minutes(wib(2026, 8, 10, 15, 30), 60)) == "Wed 2026-08-12 08:30"
    assert local(calendar.add_minutes(wib(2026, 8, 14, 16, 0), 60)) == "Sat 2026-08-15 08:30"
    assert calendar.minutes_between(wib(2026, 8, 17, 0), wib(2026, 8, 18, 0)) == 420


def test_a_week_without_opening_hours_is_refused() -> None:
    with pytest.raises(CalendarError):
        BusinessCalendar(replace(BusinessHoursConfig(), week={}))


def test_adding_and_measuring_agree_over_many_random_starts() -> None:
    rng = random.Random(7)
    base = wib(2026, 1, 1, 0)
    for _ in range(300):
        start = base + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        minutes = rng.randrange(0, 5000)
        due = CALENDAR.add_minutes(start, minutes)
        assert CALENDAR.minutes_between(start, due) == pytest.approx(minutes)
        if minutes:
            assert CALENDAR.is_open(due - timedelta(seconds=1))


def test_a_year_of_business_minutes_is_quick() -> None:
    import time

    started = time.perf_counter()
    total = CALENDAR.minutes_between(wib(2026, 1, 1, 0), wib(2027, 1, 1, 0))
    assert time.perf_counter() - started < 0.5
    # 2026 has 261 weekdays; 420 minutes each, less the weekday holidays.
    assert 0 < total < 261 * 420
