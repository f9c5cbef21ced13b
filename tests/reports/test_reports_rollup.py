"""The maintained summary rows: duration buckets and their error bound, and
rows kept current by writes (an incremental refresh equals a full rebuild)."""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from helpdesk import reports, reports_rollup
from helpdesk.models import Event, Ticket
from helpdesk.reports_filters import ReportFilter
from helpdesk.reports_rollup import (
    SUB_BUCKETS,
    bucket_of,
    bucket_sql,
    bucket_width,
    histogram_percentiles,
    is_dirty,
    rebuild,
    refresh_store,
)
from helpdesk.store import Store
from tests.reports.history import History, build_history, wib

BOUND = 1 / SUB_BUCKETS  # the largest relative width of a bucket


def _exact(values: list[int], p: float) -> float:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = int(position)
    if low + 1 >= len(ordered):
        return float(ordered[low])
    return ordered[low] + (ordered[low + 1] - ordered[low]) * (position - low)


def test_buckets_are_at_most_one_64th_wide() -> None:
    for value in [*range(0, 300), 1000, 4095, 4096, 86399, 10**6, 2**30 + 5]:
        lower = bucket_of(value)
        assert lower <= value < lower + bucket_width(lower)
        assert bucket_width(lower) == 1 or bucket_width(lower) / lower <= BOUND


def test_buckets_the_same_in_sql_and_python(store: Store) -> None:
    values = [0, 1, 127, 128, 129, 255, 256, 1000, 3599, 3600, 86400, 10**6, 2**31 - 1]
    with store.engine.connect() as conn:
        found = [conn.execute(sa.select(bucket_sql(sa.literal(v, sa.Integer())))).scalar_one()
                 for v in values]
    assert found == [bucket_of(v) for v in values]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_histogram_percentiles_within_the_bound(seed: int) -> None:
    rng = random.Random(seed)
    values = [int(rng.lognormvariate(8, 1.5)) for _ in range(20000)]
    counts: dict[int, int] = {}
    for v in values:
        counts[bucket_of(v)] = counts.get(bucket_of(v), 0) + 1
    n, (p50, p90) = histogram_percentiles(list(counts.items()), (0.5, 0.9))
    assert n == len(values)
    for p, got in ((0.5, p50), (0.9, p90)):
        exact = _exact(values, p)
        assert got is not None and abs(got - exact) <= BOUND * exact + 1


def test_small_values_are_exact() -> None:
    assert histogram_percentiles([(60, 1), (90, 1), (120, 1)], (0.5, 0.9)) == (
        3, [90.0, 90 + 0.8 * 30])


def _figures(store: Store, report: ReportFilter) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return {"summary": asdict(reports.summary(conn, report)),
                "daily": [asdict(d) for d in reports.daily(conn, report)],
                "heatmap": reports.heatmap(conn, report),
                "faq": [asdict(r) for r in reports.faq_entries(conn, report)],
                "satisfaction": reports.satisfaction(conn, report),
                "consultants": [asdict(r) for r in reports.consultants(conn, report)]}


def test_histograms_give_the_hand_computed_figures_within_the_bound(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    history = build_history(store)
    monkeypatch.setattr(reports, "EXACT_LIMIT", 0)
    with store.engine.connect() as conn:
        s = reports.summary(conn, history.report())
        ani = {r.name: r for r in reports.consultants(conn, history.report())}["Ani"]
        telegram = reports.summary(conn, history.report(channel="telegram"))
        (ani_email,) = reports.consultants(conn, history.report(channel="email"))
        queue = reports.summary(conn, history.report(queue_id=history.queue_id))
        # A queue with a channel: histograms grouped from the tickets.
        both = reports.summary(conn, history.report(queue_id=history.queue_id,
                                                     channel="telegram"))
        (ani_q, _) = reports.consultants(conn, history.report(queue_id=history.queue_id))
        # A category: #1 (30 min, resolved after 2 h) and #4 (60 min).
        nib = reports.summary(conn, history.report(category="nib"))
        nib_people = {r.name: r for r in reports.consultants(
            conn, history.report(category="nib"))}
        # A category with a channel: grouped from the tickets.
        (nib_webchat,) = reports.consultants(conn, history.report(category="nib",
                                                                   channel="webchat"))
    for got, exact in ((s.first_response_p50, 3600), (s.first_response_p90, 9360),
                       (s.resolution_p50, 14 * 3600), (s.resolution_business_p90, 23040),
                       (ani.first_response_p50, (1800 + 10800) / 2),
                       (telegram.first_response_p50, 10800),
                       (telegram.resolution_business_p50, 420 * 60),
                       (ani_email.first_response_p50, 1800),
                       (queue.first_response_p90, 9360), (queue.resolution_p50, 14 * 3600),
                       (both.first_response_p90, 10800), (ani_q.first_response_p50, 6300),
                       (nib.first_response_p50, 2700), (nib.first_response_p90, 3420),
                       (nib.resolution_p50, 7200), (nib.resolution_business_p50, 7200),
                       (nib_people["Ani"].first_response_p50, 1800),
                       (nib_people["Budi"].first_response_business_p50, 3600),
                       (nib_webchat.first_response_p50, 3600)):
        assert got == pytest.approx(exact, rel=BOUND)


def _every_filter(history: History) -> list[ReportFilter]:
    return [history.report(channel=channel, queue_id=queue, assignee_id=assignee,
                           category=category)
            for channel in (None, "email", "webchat")
            for queue in (None, history.queue_id)
            for assignee in (None, history.a, history.b)
            for category in (None, "nib")]


def test_kept_histograms_equal_the_buckets_counted_from_the_tickets(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every filter a kept histogram serves gives exactly the figures of the
    same buckets counted from the tickets, and the others fall back to those."""
    history = build_history(store)
    monkeypatch.setattr(reports, "EXACT_LIMIT", 0)
    served = 0
    for report in _every_filter(history):
        with store.engine.connect() as conn:
            kept = (reports.summary(conn, report), reports.consultants(conn, report))
            served += reports_rollup.kept_slot(report) is not None
            with monkeypatch.context() as patch:
                patch.setattr(reports, "kept_slot", lambda *_a, **_k: None)
                counted = (reports.summary(conn, report), reports.consultants(conn, report))
        assert kept == counted, report
    # None, each single filter (2 channels, 2 consultants), and a consultant with
    # a channel, the queue or the category: 1 + 2 + 1 + 1 + 2 + 4 + 2 + 2.
    assert served == 15


def _change_everything(session: Session, history: History) -> None:
    five = session.get_one(Ticket, history.ids[5])
    five.status, five.resolved_at = "resolved", wib(25, 10)
    five.first_response_at, five.satisfaction = wib(25, 9), 2
    two = session.get_one(Ticket, history.ids[2])
    two.status, two.resolved_at = "open", None  # reopened: leaves Tuesday's resolutions
    one = session.get_one(Ticket, history.ids[1])
    one.assignee_id, one.channel, one.category = history.b, "api", "nib"
    session.add(Event(ticket_id=history.ids[4], kind="faq.feedback", actor="resident",
                      data={"helpful": True}, created_at=wib(24, 9)))
    session.add(Ticket(subject="Baru", channel="email", contact_id=five.contact_id,
                       created_at=wib(25, 11), updated_at=wib(25, 11), status="new"))


def test_writes_mark_days_and_a_refresh_equals_a_full_rebuild(store: Store) -> None:
    history = build_history(store)
    report = history.report()
    with store.engine.connect() as conn:
        assert not is_dirty(conn)
    with store.write() as session:
        _change_everything(session, history)
    with store.engine.connect() as conn:
        assert is_dirty(conn)
    assert refresh_store(store) > 0
    refreshed = _figures(store, report)
    assert refreshed["summary"]["tickets"] == 6
    assert refreshed["summary"]["by_channel"]["api"] == 1
    assert refreshed["satisfaction"][2] == 1
    with store.write() as session:
        rebuild(session.connection())
    assert _figures(store, report) == refreshed


def test_bulk_writes_are_marked_by_ticket(store: Store) -> None:
    history = build_history(store)
    with store.write() as session:
        session.execute(sa.update(Ticket).where(Ticket.id == history.ids[5])  # type: ignore[arg-type]
                        .values(assignee_id=history.a))
        reports_rollup.mark_tickets(session, [history.ids[5]])
    refresh_store(store)
    with store.engine.connect() as conn:
        rows = {r.name: r for r in reports.consultants(conn, history.report())}
    assert (rows["Ani"].handled, rows["Budi"].handled) == (3, 1)
