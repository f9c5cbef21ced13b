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
    return percentiles_of(conn, dialect, [value], where, ps, group=group)[0]


def percentiles_of(conn: Connection, dialect: Dialect, values: Sequence[ColumnElement[Any]],
                   where: Sequence[ColumnElement[bool]], ps: Sequence[float], *,
                   group: ColumnElement[Any] | None = None) -> list[Groups]:
    """:func:`percentiles` of several values of the same rows in one statement,
    reading the rows once: one Groups per value."""
    some = sa.or_(*(value.is_not(None) for value in values))
    key = group if group is not None else sa.literal(None)
    results: list[Groups] = [{} for _ in values]
    if not dialect.is_sqlite:
        columns: list[ColumnElement[Any]] = []
        for value in values:
            columns += [sa.func.count(value),
                        *(sa.func.percentile_cont(p).within_group(value) for p in ps)]
        query = sa.select(key, *columns).where(some, *where)
        if group is not None:
            query = query.group_by(group)
        width = 1 + len(ps)
        for row in conn.execute(query):
            for i, out in enumerate(results):
                n, *picked = row[1 + i * width:1 + (i + 1) * width]
                if n:
                    out[row[0]] = (int(n), [_float(v) for v in picked])
        return results
    # The rows are read once into a CTE (materialised: every value's ranking
    # reads it), then each value is ranked on its own.
    rows = sa.select(key.label("g"), *(value.label(f"v{i}") for i, value in enumerate(values))
                     ).where(some, *where).cte("picked")
    arms = []
    for i in range(len(values)):
        value = rows.c[f"v{i}"]
        ranked = sa.select(
            rows.c.g, value.label("v"),
            sa.func.row_number().over(partition_by=rows.c.g, order_by=value).label("rn"),
            sa.func.count().over(partition_by=rows.c.g).label("n"),
        ).where(value.is_not(None)).subquery()
        picks: list[ColumnElement[Any]] = []
        for p in ps:
            low = sa.cast(p * (ranked.c.n - 1), sa.Integer()) + 1
            picks.append(sa.func.max(sa.case((ranked.c.rn == low, ranked.c.v))))
            picks.append(sa.func.max(sa.case((ranked.c.rn == low + 1, ranked.c.v))))
        arms.append(sa.select(sa.literal_column(str(i), sa.Integer()), ranked.c.g,
                              sa.func.max(ranked.c.n), *picks).group_by(ranked.c.g))
    for row in conn.execute(sa.union_all(*arms)):
        n = int(row[2])
        found: list[float | None] = []
        for j, p in enumerate(ps):
            low_v, high_v = row[3 + 2 * j], row[4 + 2 * j]
            position = p * (n - 1)
            fraction = position - math.floor(position)
            if low_v is None:
                found.append(None)
            elif high_v is None or fraction == 0:
                found.append(float(low_v))
            else:
                found.append(float(low_v) + (float(high_v) - float(low_v)) * fraction)
        results[int(row[0])][row[1]] = (n, found)
    return results


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
