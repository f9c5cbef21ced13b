"""Numbers, shares, durations and dates as an Indonesian reader expects them:
``1.234``, ``25,0%``, ``3 jam 20 mnt``, ``Sen, 23 Nov``."""

from __future__ import annotations

from datetime import date

from babel.dates import format_date
from babel.numbers import format_decimal

LOCALE = "id_ID"


def number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if digits == 0:
        return format_decimal(round(value), format="#,##0", locale=LOCALE)
    return format_decimal(value, format="#,##0." + "0" * digits, locale=LOCALE)


def percent(share: float | None) -> str:
    if share is None:
        return "–"
    return number(100 * share, 1) + "%"


def duration(seconds: float | None) -> str:
    """A duration for a table cell: the two largest units, Indonesian short forms."""
    if seconds is None:
        return "–"
    total = round(seconds)
    if total < 60:
        return f"{total} dtk"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes} mnt"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} jam {minutes} mnt" if minutes else f"{hours} jam"
    days, hours = divmod(hours, 24)
    return f"{days} hari {hours} jam" if hours else f"{days} hari"


def short_day(day: date) -> str:
    return format_date(day, "EEE, d MMM", locale=LOCALE)


def tick_day(day: date) -> str:
    return format_date(day, "d MMM", locale=LOCALE)


def long_day(day: date) -> str:
    return format_date(day, "EEEE, d MMMM yyyy", locale=LOCALE)


def period_label(first: date, last: date) -> str:
    if first == last:
        return long_day(first)
    return f"{format_date(first, 'd MMMM yyyy', locale=LOCALE)} – " \
           f"{format_date(last, 'd MMMM yyyy', locale=LOCALE)}"
