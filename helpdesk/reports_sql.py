"""SQL building blocks the reports share, written once for SQLite and PostgreSQL.

Times are stored as naive UTC. Asia/Jakarta has kept UTC+7 without daylight
saving since 1964, so a local day or hour is the stored time shifted by a fixed
offset; the offset is taken from the zone for the report's period, and a zone
with daylight saving would be an hour off around its transitions only.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

Groups = dict[Hashable, tuple[int, list[float | None]]]


class Dialect:
    """The few expressions that differ between the two databases."""

    def __init__(self, name: str, offset: timedelta) -> None:
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"reports support SQLite and PostgreSQL, not {name}")
        self.name = name
        self.offset = offset
        self._modifier = f"{int(offset.total_seconds()):+d} seconds"

    @property
    def is_sqlite(self) -> bool:
        return self.name == "sqlite"

    def _shifted(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return column + sa.literal(self.offset, sa.Interval())

    def local_day(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.is_sqlite:
            return sa.func.date(column, self._modifier)
        return sa.cast(self._shifted(column), sa.Date())

    def local_hour(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.is_sqlite:
            return sa.cast(sa.func.strftime("%H", column, self._modifier), sa.Integer())
        return sa.cast(sa.extract("hour", self._shifted(column)), sa.Integer())

    def local_weekday(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """0 = Sunday ... 6 = Saturday, as both databases count."""
        if self.is_sqlite:
            return sa.cast(sa.func.strftime("%w", column, self._modifier), sa.Integer())
        return sa.cast(sa.extract("dow", self._shifted(column)), sa.Integer())

    def seconds_between(self, start: ColumnElement[Any],
                        end: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.is_sqlite:
            return sa.cast(sa.func.round((sa.func.julianday(end) - sa.func.julianday(start))
                                         * 86400.0), sa.Integer())
        return sa.cast(sa.func.round(sa.extract("epoch", end - start)), sa.Integer())


def as_date(value: Any) -> date:
    """A day bucket as the database returned it (SQLite: text, PostgreSQL: date)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def percentiles(conn: Connection, dialect: Dialect, value: ColumnElement[Any],
                where: Sequence[ColumnElement[bool]], ps: Sequence[float], *,
                group: ColumnElement[Any] | None = None) -> Groups:
    """Continuous percentiles (``percentile_cont``: linear interpolation between
    the two nearest ranks) of ``value`` per ``group``, computed in the database.

    Returns ``{group key: (count, [value at each p])}``; the key is None without
    a group. PostgreSQL has ``percentile_cont``; on SQLite the rows are ranked
    with ROW_NUMBER() in one sort and only the two ranks around each percentile
    come back.
    """
    conditions = [value.is_not(None), *where]
    key = group if group is not None else sa.literal(None)
    if not dialect.is_sqlite:
        columns = [sa.func.percentile_cont(p).within_group(value) for p in ps]
        query = sa.select(key, sa.func.count(value), *columns).where(*conditions)
        if group is not None:
            query = query.group_by(group)
        out: Groups = {}
        for row in conn.execute(query):
            if row[1]:
                out[row[0]] = (int(row[1]), [_float(v) for v in row[2:]])
        return out
    partition = [group] if group is not None else []
    ranked = sa.select(
        key.label("g"), value.label("v"),
        sa.func.row_number().over(partition_by=partition, order_by=value).label("rn"),
        sa.func.count().over(partition_by=partition).label("n"),
    ).where(*conditions).subquery()
    picks: list[ColumnElement[Any]] = []
    for p in ps:
        low = sa.cast(p * (ranked.c.n - 1), sa.Integer()) + 1
        picks.append(sa.func.max(sa.case((ranked.c.rn == low, ranked.c.v))))
        picks.append(sa.func.max(sa.case((ranked.c.rn == low + 1, ranked.c.v))))
    rows = conn.execute(sa.select(ranked.c.g, sa.func.max(ranked.c.n), *picks)
                        .group_by(ranked.c.g))
    result: Groups = {}
    for row in rows:
        n = int(row[1])
        values: list[float | None] = []
        for i, p in enumerate(ps):
            low_v, high_v = row[2 + 2 * i], row[3 + 2 * i]
            position = p * (n - 1)
            fraction = position - math.floor(position)
            if low_v is None:
                values.append(None)
            elif high_v is None or fraction == 0:
                values.append(float(low_v))
            else:
                values.append(float(low_v) + (float(high_v) - float(low_v)) * fraction)
        result[row[0]] = (n, values)
    return result


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
