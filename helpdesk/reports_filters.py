"""What a report covers: a period of Jakarta days and the filters a supervisor picks.

A period is a run of whole local days, ``today``, the last 7 or 30 days
(today included) or a custom first and last day; it becomes the half-open UTC
interval ``[start, end)`` that every query compares stored times with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel

from helpdesk.models import Ticket

PERIODS = ("today", "7d", "30d", "custom")
PERIOD_DAYS = {"today": 1, "7d": 7, "30d": 30}
# A custom period longer than this is refused: the daily charts stop being readable.
MAX_DAYS = 366
CHANNELS = ("email", "telegram", "webchat", "phone", "api")


class FilterError(ValueError):
    """A period or filter the reports cannot use; the message says why."""


def table(name: str) -> sa.Table:
    """A model's table for Core queries (the ticket table includes its SQL-only
    summary columns, see models.Ticket)."""
    return SQLModel.metadata.tables[name]


T = table(str(Ticket.__tablename__))


@dataclass(frozen=True)
class ReportFilter:
    """One report's scope. ``first_day``/``last_day`` are Jakarta dates, inclusive."""

    first_day: date
    last_day: date
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    period: str = "custom"
    channel: str | None = None
    queue_id: int | None = None
    assignee_id: int | None = None
    category: str | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(0), self.zone).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last_day + timedelta(days=1), time(0),
                                self.zone).astimezone(UTC)

    @property
    def days(self) -> list[date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + timedelta(days=i) for i in range(count)]

    @property
    def offset(self) -> timedelta:
        shift = self.zone.utcoffset(datetime.combine(self.first_day, time(12)))
        return shift or timedelta(0)

    def scope(self) -> list[ColumnElement[bool]]:
        """The filters, without the period. A merged ticket lives on in the ticket
        it was merged into, so it is never counted itself."""
        conditions: list[ColumnElement[bool]] = [T.c.merged_into_id.is_(None)]
        if self.channel:
            conditions.append(T.c.channel == self.channel)
        if self.queue_id is not None:
            conditions.append(T.c.queue_id == self.queue_id)
        if self.assignee_id is not None:
            conditions.append(T.c.assignee_id == self.assignee_id)
        if self.category:
            conditions.append(T.c.category == self.category)
        return conditions

    def created(self) -> list[ColumnElement[bool]]:
        """Tickets opened in the period."""
        return [T.c.created_at >= self.start, T.c.created_at < self.end, *self.scope()]

    def resolved(self) -> list[ColumnElement[bool]]:
        """Tickets resolved in the period (their latest resolution)."""
        return [T.c.resolved_at >= self.start, T.c.resolved_at < self.end, *self.scope()]

    def query(self) -> dict[str, str]:
        """The filter as URL parameters (links, CSV and drill-down keep it)."""
        out = {"period": self.period}
        if self.period == "custom":
            out["from"] = self.first_day.isoformat()
            out["to"] = self.last_day.isoformat()
        for key, value in (("channel", self.channel), ("queue", self.queue_id),
                           ("consultant", self.assignee_id), ("category", self.category)):
            if value not in (None, ""):
                out[key] = str(value)
        return out

    def with_day(self, day: date) -> ReportFilter:
        return replace(self, first_day=day, last_day=day, period="custom")


def parse_filter(params: Mapping[str, str], now: datetime,
                 zone: ZoneInfo | None = None) -> ReportFilter:
    """Read the period and filters from URL parameters; :class:`FilterError` names
    the parameter at fault."""
    zone = zone or ZoneInfo("Asia/Jakarta")
    today = now.astimezone(zone).date()
    period = params.get("period") or "7d"
    if period not in PERIODS:
        raise FilterError(f"period must be one of {', '.join(PERIODS)}")
    if period == "custom":
        first = _date(params, "from")
        last = _date(params, "to")
        if last < first:
            raise FilterError("to: the last day comes before the first")
        if (last - first).days + 1 > MAX_DAYS:
            raise FilterError(f"a custom period covers at most {MAX_DAYS} days")
    else:
        last = today
        first = today - timedelta(days=PERIOD_DAYS[period] - 1)
    channel = params.get("channel") or None
    if channel is not None and channel not in CHANNELS:
        raise FilterError(f"channel must be one of {', '.join(CHANNELS)}")
    category = (params.get("category") or "").strip() or None
    if category is not None and len(category) > 64:
        raise FilterError("category: at most 64 characters")
    return ReportFilter(first_day=first, last_day=last, zone=zone, period=period,
                        channel=channel, queue_id=_id(params, "queue"),
                        assignee_id=_id(params, "consultant"), category=category)


def _date(params: Mapping[str, str], key: str) -> date:
    text = params.get(key) or ""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FilterError(f"{key}: expected a date as YYYY-MM-DD, got {text!r}") from None


def _id(params: Mapping[str, str], key: str) -> int | None:
    text = params.get(key) or ""
    if not text:
        return None
    if not text.isdigit():
        raise FilterError(f"{key}: expected a number, got {text!r}")
    return int(text)


def as_dict(value: Any) -> Any:
    """Report results as JSON-ready data (dates ISO, dataclasses as dicts)."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return {k: as_dict(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): as_dict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [as_dict(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
