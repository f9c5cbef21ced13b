"""Supervisor pages: the report dashboard, the tickets behind each figure, CSV.

Supervisors and administrators only. Every page reads its period and filters
from the URL, so a view can be bookmarked, shared, exported and drilled into.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from helpdesk.models import Role
from helpdesk.reports_filters import CHANNELS, FilterError, ReportFilter, parse_filter
from helpdesk.reports_rollup import refresh_store
from helpdesk.reports_tickets import PAGE_SIZE, TicketPage, all_tickets, ticket_page
from helpdesk.web.auth import require_role, services_of
from helpdesk.web.supervisors_charts import (
    CHANNEL_COLOURS,
    CHANNEL_LABELS,
    Bar,
    heatmap,
    horizontal_bars,
    line,
    stacked_bars,
)
from helpdesk.web.supervisors_format import (
    duration,
    number,
    percent,
    period_label,
    short_day,
    tick_day,
)
from helpdesk.web.supervisors_tables import TABLES, Dashboard, Table, load_dashboard, ticket_table
from helpdesk.web.templating import render

STATIC = Path(__file__).parent / "static" / "reports"
RATING_COLOURS = {1: "#b3261e", 2: "#e07a3a", 3: "#e0b030", 4: "#7cb86a", 5: "#1e7b45"}
PERIOD_LABELS = {"today": "Hari ini", "7d": "7 hari", "30d": "30 hari", "custom": "Pilih tanggal"}


def report_of(request: Request) -> ReportFilter | Response:
    services = services_of(request)
    try:
        return parse_filter(request.query_params, services.clock())
    except FilterError as exc:
        return render(request, "error.html", {"status": 400, "message": str(exc)},
                      status_code=400)


def qs(report: ReportFilter, **extra: Any) -> str:
    """The report's filters (plus ``extra``) as a URL query string."""
    params = {**report.query(), **{k: str(v) for k, v in extra.items() if v is not None}}
    return urlencode(params)


def link(report: ReportFilter, path: str = "/reports/tickets", **extra: Any) -> str:
    return f"{path}?{qs(report, **extra)}"


def charts(d: Dashboard) -> dict[str, Markup]:
    r = d.report
    bars = [Bar(label=tick_day(day.day), parts=day.by_channel, title=short_day(day.day),
                href=link(r, drill=f"day:{day.day.isoformat()}")) for day in d.days]
    backlog = [(tick_day(day.day), day.backlog, link(r, drill=f"backlog:{day.day.isoformat()}"))
               for day in d.days]
    ratings = [(f"{n} ★", d.ratings.get(n, 0), RATING_COLOURS[n], link(r, drill=f"rating:{n}"))
               for n in range(5, 0, -1)]
    channels = [(CHANNEL_LABELS.get(c, c), n, CHANNEL_COLOURS.get(c, "#999"),
                 link(r, channel=c, drill="opened")) for c, n in d.summary.by_channel.items()]
    return {
        "volume": stacked_bars(bars, "Tiket masuk per hari, per kanal"),
        "backlog": line(backlog, "Tiket terbuka pada akhir hari"),
        "heatmap": heatmap(d.grid, "Tiket masuk per hari dan jam (WIB)",
                           lambda day, hour: link(r, drill=f"hour:{day}-{hour}")),
        "ratings": horizontal_bars(ratings, "Penilaian warga"),
        "channels": horizontal_bars(channels, "Tiket masuk per kanal"),
    }


def _context(d: Dashboard) -> dict[str, Any]:
    return {"active_section": "reports", "d": d, "s": d.summary, "r": d.report,
            "charts": charts(d), "link": link, "qs": qs, "duration": duration, "number": number,
            "percent": percent, "period_text": period_label(d.report.first_day,
                                                            d.report.last_day),
            "periods": PERIOD_LABELS, "channels": [(c, CHANNEL_LABELS.get(c, c))
                                                   for c in CHANNELS],
            "tables": list(TABLES)}


@require_role(Role.SUPERVISOR)
async def dashboard(request: Request) -> Response:
    report = report_of(request)
    if isinstance(report, Response):
        return report
    services = services_of(request)
    data = await services.store.run(load_dashboard, services.store, report)
    return render(request, "reports/dashboard.html", _context(data))


@require_role(Role.SUPERVISOR)
async def tickets(request: Request) -> Response:
    report = report_of(request)
    if isinstance(report, Response):
        return report
    services = services_of(request)
    drill = request.query_params.get("drill") or "opened"
    page_text = request.query_params.get("page") or "1"
    page_no = int(page_text) if page_text.isdigit() else 1
    try:
        found: TicketPage = await services.store.run(_page, services.store, report, drill,
                                                     page_no)
    except FilterError as exc:
        return render(request, "error.html", {"status": 400, "message": str(exc)},
                      status_code=400)
    return render(request, "reports/tickets.html", {
        "active_section": "reports", "r": report, "drill": drill, "found": found,
        "link": link, "qs": qs, "duration": duration, "number": number,
        "page_size": PAGE_SIZE,
        "period_text": period_label(report.first_day, report.last_day),
        "channel_labels": CHANNEL_LABELS})


def _page(store: Any, report: ReportFilter, drill: str, page: int) -> TicketPage:
    refresh_store(store)  # the page's total comes from the summary rows
    with store.engine.connect() as conn:
        return ticket_page(conn, report, drill, page)


@require_role(Role.SUPERVISOR)
async def export(request: Request) -> Response:
    report = report_of(request)
    if isinstance(report, Response):
        return report
    name = request.path_params["name"]
    services = services_of(request)
    if name == "tiket":
        drill = request.query_params.get("drill") or "opened"
        try:
            table = await services.store.run(_tickets_table, services.store, report, drill)
        except FilterError as exc:
            return Response(str(exc), status_code=400, media_type="text/plain")
    elif name in TABLES:
        data = await services.store.run(load_dashboard, services.store, report)
        table = TABLES[name](data)
    else:
        return Response(f"no table {name!r}; tables: {', '.join([*TABLES, 'tiket'])}",
                        status_code=404, media_type="text/plain")
    filename = f"laporan-{name}-{report.first_day.isoformat()}-{report.last_day.isoformat()}.csv"
    return Response(to_csv(table), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


def _tickets_table(store: Any, report: ReportFilter, drill: str) -> Table:
    from helpdesk.reports_tickets import drill_title

    with store.engine.connect() as conn:
        return ticket_table(all_tickets(conn, report, drill), drill_title(drill))


def to_csv(table: Table) -> str:
    """UTF-8 CSV with a byte-order mark, so spreadsheet programs read the
    Indonesian text right; decimals with a dot, as every program parses."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return out.getvalue()


def _cell(value: Any) -> Any:
    # A text cell starting like a formula would run in a spreadsheet: quote it.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


routes: list[BaseRoute] = [
    Route("/reports", dashboard, methods=["GET"]),
    Route("/reports/tickets", tickets, methods=["GET"]),
    Route("/reports/export/{name}.csv", export, methods=["GET"]),
    Mount("/static/reports", app=StaticFiles(directory=str(STATIC)), name="reports-static"),
]
