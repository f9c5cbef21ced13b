"""Each figure against the hand-made history (tests/reports/history.py), on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Connection

from helpdesk import reports
from helpdesk.reports_filters import FilterError
from helpdesk.reports_tickets import ticket_page
from helpdesk.store import Store
from tests.reports.history import FIRST_DAY, History, build_history


@pytest.fixture
def history(store: Store) -> History:
    return build_history(store)


@pytest.fixture
def conn(store: Store, history: History) -> Iterator[Connection]:
    with store.engine.connect() as connection:
        yield connection


def test_summary_counts_and_rates(conn: Connection, history: History) -> None:
    s = reports.summary(conn, history.report())
    assert s.tickets == 5  # #7 merged and #6, #8 outside the period are not counted
    assert s.by_channel == {"email": 1, "telegram": 1, "webchat": 2, "phone": 1}
    assert (s.auto_answered, s.answered_by_faq) == (2, 1)
    assert s.faq_rate == pytest.approx(1 / 5)
    assert (s.responded, s.awaiting_response) == (3, 1)
    # Targets on #1, #2, #4, #5 (not the FAQ-answered #3); #2 breached.
    assert (s.with_target, s.first_response_breached, s.resolution_breached) == (4, 1, 0)
    assert s.breach_rate == pytest.approx(1 / 4)
    assert (s.rated, s.satisfaction_mean) == (2, pytest.approx(4.0))


def test_first_response_and_resolution_percentiles(conn: Connection, history: History) -> None:
    s = reports.summary(conn, history.report())
    # First responses by a person: 30 min, 60 min (#4, after the bot), 180 min.
    assert s.first_response_p50 == pytest.approx(3600)
    # p90 interpolates between the 2nd and 3rd of 3: 3600 + 0.8 * (10800 - 3600).
    assert s.first_response_p90 == pytest.approx(9360)
    # Business: 1800, 3600, 7200.
    assert s.first_response_business_p50 == pytest.approx(3600)
    assert s.first_response_business_p90 == pytest.approx(3600 + 0.8 * 3600)
    # Resolved in the period by a person: #1 2 h, #6 14 h, #2 24 h (the FAQ's #3 is not).
    assert s.resolved == 3
    assert s.resolution_p50 == pytest.approx(14 * 3600)
    assert s.resolution_p90 == pytest.approx(14 * 3600 + 0.8 * 10 * 3600)
    # Business: 120, 240, 420 minutes.
    assert s.resolution_business_p50 == pytest.approx(240 * 60)
    assert s.resolution_business_p90 == pytest.approx((240 + 0.8 * 180) * 60)


def test_daily_volume_resolutions_and_backlog(conn: Connection, history: History) -> None:
    days = reports.daily(conn, history.report())
    assert [d.day.isoformat() for d in days] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert [d.created for d in days] == [3, 2, 0]
    assert days[0].by_channel == {"email": 1, "telegram": 1, "webchat": 1}
    # Monday: #1, #3 (FAQ) and #6; Tuesday: #2.
    assert [d.resolved for d in days] == [3, 1, 0]
    # Open at the start: #6. Monday night: #2. Tuesday night: #4 and #5.
    assert [d.backlog for d in days] == [1, 2, 2]


def test_heatmap_by_jakarta_weekday_and_hour(conn: Connection, history: History) -> None:
    grid = reports.heatmap(conn, history.report())
    cells = {(w, h): n for w, row in enumerate(grid) for h, n in enumerate(row) if n}
    assert cells == {(0, 9): 1, (0, 10): 1, (0, 15): 1, (1, 8): 1, (1, 20): 1}


def test_faq_entries_count_yes_and_no(conn: Connection, history: History) -> None:
    (row,) = reports.faq_entries(conn, history.report())
    assert (row.entry, row.question) == ("nib-apa", "Apa itu NIB?")
    assert (row.auto_answered, row.helpful, row.not_helpful, row.no_answer) == (2, 1, 1, 0)
    assert row.answered_by_faq == 1
    assert row.helpful_rate == pytest.approx(0.5)


def test_satisfaction_distribution(conn: Connection, history: History) -> None:
    assert reports.satisfaction(conn, history.report()) == {1: 0, 2: 0, 3: 1, 4: 0, 5: 1}


def test_consultant_table(conn: Connection, history: History) -> None:
    rows = {r.name: r for r in reports.consultants(conn, history.report())}
    ani, budi = rows["Ani"], rows["Budi"]
    assert (ani.handled, ani.resolved, ani.breached, ani.rated) == (2, 2, 1, 2)
    assert ani.first_response_p50 == pytest.approx((1800 + 10800) / 2)
    assert ani.first_response_business_p50 == pytest.approx((1800 + 7200) / 2)
    assert ani.satisfaction_mean == pytest.approx(4.0)
    assert (budi.handled, budi.resolved, budi.breached, budi.rated) == (2, 0, 0, 0)
    assert budi.first_response_p50 == pytest.approx(3600)
    assert budi.satisfaction_mean is None


def test_filters_narrow_every_figure(conn: Connection, history: History) -> None:
    assert reports.summary(conn, history.report(channel="webchat")).tickets == 2
    assert reports.summary(conn, history.report(assignee_id=history.b)).tickets == 2
    assert reports.summary(conn, history.report(queue_id=history.queue_id)).tickets == 5
    assert reports.summary(conn, history.report(category="pbg")).tickets == 0
    one_day = reports.summary(conn, history.report().with_day(FIRST_DAY))
    assert one_day.tickets == 3
    assert one_day.first_response_p50 == pytest.approx((1800 + 10800) / 2)


@pytest.mark.parametrize(("drill", "expected"), [
    ("opened", [1, 2, 3, 4, 5]),
    ("breached", [2]),
    ("awaiting", [5]),
    ("resolved", [1, 2, 6]),
    ("faq", [3]),
    ("day:2026-11-23", [1, 2, 3]),
    ("backlog:2026-11-24", [4, 5]),
    ("hour:0-9", [1]),
    ("rating:5", [1]),
    ("faq_no:nib-apa", [4]),
    ("faq_yes:nib-apa", [3]),
])
def test_drill_down_lists_the_tickets_counted(conn: Connection, history: History, drill: str,
                                              expected: list[int]) -> None:
    page = ticket_page(conn, history.report(), drill)
    numbers = {v: k for k, v in history.ids.items()}
    assert sorted(numbers[r.id] for r in page.rows) == expected
    assert page.total == len(expected)


def test_unknown_drill_is_refused(conn: Connection, history: History) -> None:
    with pytest.raises(FilterError):
        ticket_page(conn, history.report(), "everything")
