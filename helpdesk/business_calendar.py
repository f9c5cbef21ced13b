"""Business time in the service's time zone: opening periods, breaks, holidays.

The PTSP counts response targets in the minutes its counters are open: per
weekday periods ("08:00-12:00", "13:00-16:00"; the gap is the lunch break),
closed on Indonesian public holidays and on cuti bersama (the government's
joint leave days), plus the dates an administrator adds or declares working.

Everything here is pure: instants in, instants out, no clock and no I/O.
Instants are aware datetimes (any zone); results are in UTC.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from helpdesk.config import BusinessHoursConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A target that cannot be met within this many days means the calendar has
# (almost) no working time: stop rather than loop for ever.
_MAX_DAYS = 3_700

Interval = tuple[datetime, datetime]


class CalendarError(ValueError):
    """The business hours cannot be used (no working time at all)."""


@dataclass(frozen=True, slots=True)
class Period:
    """Minutes after local midnight: [start, end)."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Period:
        start, end = text.split("-")
        sh, sm = (int(x) for x in start.split(":"))
        eh, em = (int(x) for x in end.split(":"))
        return cls(sh * 60 + sm, eh * 60 + em)


def _parse_dates(values: Iterable[str], key: str) -> frozenset[date]:
    out: set[date] = set()
    for value in values:
        try:
            out.add(date.fromisoformat(value))
        except ValueError:
            raise CalendarError(
                f"business_hours.{key}: expected YYYY-MM-DD, got {value!r}") from None
    return frozenset(out)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals; empty ones dropped."""
    ordered = sorted((a, b) for a, b in intervals if b > a)
    merged: list[Interval] = []
    for start, end in ordered:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class BusinessCalendar:
    def __init__(self, config: BusinessHoursConfig, timezone: str = "Asia/Jakarta") -> None:
        self.zone = ZoneInfo(timezone)
        self.country = config.holidays_country
        self.categories: tuple[str, ...] = ("public",)
        if config.include_cuti_bersama:
            self.categories += ("government",)
        self.week: dict[int, tuple[Period, ...]] = {}
        for day, texts in config.week.items():
            periods = sorted((Period.parse(t) for t in texts), key=lambda p: p.start)
            self.week[WEEKDAYS.index(day)] = tuple(periods)
        if not any(self.week.values()):
            raise CalendarError("business_hours.week has no opening period on any day")
        # A declared working day on a closed weekday (a Saturday replacing a
        # bridge day) keeps the hours of the first open weekday.
        self._fallback = next(self.week[d] for d in sorted(self.week) if self.week[d])
        self.extra_holidays = _parse_dates(config.extra_holidays, "extra_holidays")
        self.extra_working_days = _parse_dates(config.extra_working_days,
                                               "extra_working_days")
        self._holiday_cache: dict[int, dict[date, str]] = {}
        self._day_cache: dict[date, tuple[Interval, ...]] = {}

    # -- days -------------------------------------------------------------

    def holidays_in(self, year: int) -> dict[date, str]:
        """The year's closed dates with their names (cached per year)."""
        found = self._holiday_cache.get(year)
        if found is None:
            table = holidays.country_holidays(self.country, years=year,
                                              categories=self.categories)
            found = {d: str(name) for d, name in table.items()}
            for extra in self.extra_holidays:
                if extra.year == year:
                    found.setdefault(extra, "Libur tambahan")
            self._holiday_cache[year] = found
        return found

    def holiday_name(self, day: date) -> str | None:
        if day in self.extra_working_days:
            return None
        return self.holidays_in(day.year).get(day)

    def periods_on(self, day: date) -> tuple[Period, ...]:
        if day in self.extra_working_days:
            return self.week.get(day.weekday()) or self._fallback
        if self.holiday_name(day) is not None:
            return ()
        return self.week.get(day.weekday(), ())

    def working_intervals(self, day: date) -> tuple[Interval, ...]:
        """The day's opening periods as UTC instants (cached per date)."""
        cached = self._day_cache.get(day)
        if cached is None:
            zone = self.zone
            cached = tuple((_local(day, p.start, zone).astimezone(UTC),
                            _local(day, p.end, zone).astimezone(UTC))
                           for p in self.periods_on(day))
            if len(self._day_cache) > 20_000:
                self._day_cache.clear()
            self._day_cache[day] = cached
        return cached

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def is_open(self, instant: datetime) -> bool:
        return any(a <= instant < b for a, b in self.working_intervals(self.local_date(instant)))

    # -- arithmetic ---------------------------------------------------------

    def add_minutes(self, start: datetime, minutes: float,
                    pauses: Sequence[Interval] = ()) -> datetime:
        """The instant when ``minutes`` business minutes have passed since ``start``,
        not counting time inside ``pauses``. Zero minutes outside opening hours
        gives the next opening moment."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        start = start.astimezone(UTC)
        remaining = timedelta(minutes=minutes)
        paused = _Pauses(pauses)
        day = self.local_date(start)
        for _ in range(_MAX_DAYS):
            for a, b in self.working_intervals(day):
                if b <= start:
                    continue
                a = max(a, start)
                for piece_start, piece_end in paused.subtract(a, b):
                    length = piece_end - piece_start
                    if remaining <= length:
                        return piece_start + remaining
                    remaining -= length
            day += timedelta(days=1)
        raise CalendarError(f"no {minutes} business minutes within {_MAX_DAYS} days of {start}")

    def minutes_between(self, start: datetime, end: datetime,
                        pauses: Sequence[Interval] = ()) -> float:
        """Business minutes from ``start`` to ``end`` outside ``pauses``; negative
        when ``end`` comes first."""
        if end < start:
            return -self.minutes_between(end, start, pauses)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        paused = _Pauses(pauses)
        total = timedelta(0)
        day, last = self.local_date(start), self.local_date(end)
        while day <= last:
            for a, b in self.working_intervals(day):
                a, b = max(a, start), min(b, end)
                if b > a:
                    total += sum((y - x for x, y in paused.subtract(a, b)), timedelta(0))
            day += timedelta(days=1)
        return total.total_seconds() / 60


class _Pauses:
    """Merged pause intervals with a fast "what is left of [a, b)" query."""

    def __init__(self, pauses: Sequence[Interval]) -> None:
        self.items = merge_intervals((a.astimezone(UTC), b.astimezone(UTC)) for a, b in pauses)
        self.starts = [a for a, _ in self.items]

    def subtract(self, a: datetime, b: datetime) -> list[Interval]:
        if not self.items:
            return [(a, b)]
        pieces: list[Interval] = []
        i = max(bisect_right(self.starts, a) - 1, 0)
        cursor = a
        while i < len(self.items) and self.items[i][0] < b:
            pa, pb = self.items[i]
            if pb > cursor:
                if pa > cursor:
                    pieces.append((cursor, pa))
                cursor = max(cursor, pb)
            i += 1
        if cursor < b:
            pieces.append((cursor, b))
        return pieces


def _local(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    # Wall-clock time on that date; "24:00" is the next midnight.
    if minutes >= 24 * 60:
        return datetime.combine(day + timedelta(days=1), time(0), zone)
    return datetime.combine(day, time(minutes // 60, minutes % 60), zone)
