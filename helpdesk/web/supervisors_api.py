"""The report figures as JSON: ``GET /api/v1/reports/{name}``.

Same period and filter parameters as the dashboard (``period``, ``from``,
``to``, ``channel``, ``queue``, ``consultant``, ``category``; ``drill`` and
``page`` for ``tickets``). A trusted integration sends the API bearer token; a
supervisor's browser uses their session. Durations are seconds, rates 0-1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from helpdesk import reports
from helpdesk.models import Role
from helpdesk.reports_filters import FilterError, ReportFilter, as_dict, parse_filter
from helpdesk.reports_rollup import refresh_store
from helpdesk.reports_tickets import ticket_page
from helpdesk.web.api import require_token
from helpdesk.web.auth import require_role, services_of
from helpdesk.web.responses import error

Figure = Callable[[Connection, ReportFilter, Request], Any]


def _tickets(conn: Connection, report: ReportFilter, request: Request) -> Any:
    page = request.query_params.get("page") or "1"
    return ticket_page(conn, report, request.query_params.get("drill") or "opened",
                       int(page) if page.isdigit() else 1)


def _daily(conn: Connection, report: ReportFilter, request: Request) -> Any:
    return reports.daily(conn, report)


FIGURES: dict[str, Figure] = {
    "summary": lambda conn, report, _: reports.summary(conn, report),
    "daily": _daily,
    "heatmap": lambda conn, report, _: {"weekdays": ["mon", "tue", "wed", "thu", "fri",
                                                     "sat", "sun"],
                                        "hours": reports.heatmap(conn, report)},
    "faq": lambda conn, report, _: reports.faq_entries(conn, report),
    "satisfaction": lambda conn, report, _: reports.satisfaction(conn, report),
    "consultants": lambda conn, report, _: reports.consultants(conn, report),
    "tickets": _tickets,
}
PARAMS = {"period", "from", "to", "channel", "queue", "consultant", "category", "drill", "page"}


async def figure(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in FIGURES:
        return error(404, f"no report {name!r}; reports: {', '.join(FIGURES)}")
    unknown = set(request.query_params) - PARAMS
    if unknown:
        return error(400, f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    services = services_of(request)
    try:
        report = parse_filter(request.query_params, services.clock())
        await services.store.run(refresh_store, services.store)
        data = await services.store.run(_run, services.store.engine, FIGURES[name], report,
                                        request)
    except FilterError as exc:
        return error(400, str(exc))
    return JSONResponse({"report": name, "from": report.first_day.isoformat(),
                         "to": report.last_day.isoformat(), "timezone": str(report.zone),
                         "filters": report.query(), "data": as_dict(data)})


def _run(engine: Any, fn: Figure, report: ReportFilter, request: Request) -> Any:
    with engine.connect() as conn:
        return fn(conn, report, request)


_by_token = require_token(figure)
_by_session = require_role(Role.SUPERVISOR, api=True)(figure)


async def reports_endpoint(request: Request) -> Response:
    """A bearer token when one is sent, else the signed-in supervisor."""
    if request.headers.get("authorization"):
        return await _by_token(request)
    return await _by_session(request)


reports_endpoint.allowed_roles = _by_session.allowed_roles  # type: ignore[attr-defined]
reports_endpoint.is_api = True  # type: ignore[attr-defined]

routes: list[BaseRoute] = [
    Route("/api/v1/reports/{name}", reports_endpoint, methods=["GET"]),
]
