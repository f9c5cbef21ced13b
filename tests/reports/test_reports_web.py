"""The dashboard, drill-down, CSV exports and JSON API over HTTP: who may see
them, and that every channel of output shows the same numbers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from helpdesk.accounts import create_user
from helpdesk.bootstrap import Services
from helpdesk.models import Role
from helpdesk.web.app import create_app
from helpdesk.web.supervisors_format import duration
from tests.reports.history import History, build_history

PERIOD = "period=custom&from=2026-11-23&to=2026-11-25"
PASSWORD = "rahasia-laporan-1"


@pytest.fixture
def history(services: Services) -> History:
    found = build_history(services.store)
    with services.store.write() as session:
        create_user(session, email="spv@ptsp.example", name="Sari", role=Role.SUPERVISOR,
                    password=PASSWORD)
        create_user(session, email="petugas@ptsp.example", name="Dodi", role=Role.CONSULTANT,
                    password=PASSWORD)
    return found


async def _client(services: Services) -> httpx.AsyncClient:
    services = replace(services, config=replace(services.config, app=replace(
        services.config.app, secret_key="k" * 40)))
    app = create_app(services)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _sign_in(client: httpx.AsyncClient, email: str) -> None:
    page = await client.get("/signin")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token is not None
    response = await client.post("/signin", data={"email": email, "password": PASSWORD,
                                                  "csrf_token": token.group(1)})
    assert response.status_code == 303, response.text


@pytest.fixture
async def supervisor(services: Services, history: History) -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(services) as client:
        await _sign_in(client, "spv@ptsp.example")
        yield client


async def test_dashboard_shows_the_figures_and_charts(supervisor: httpx.AsyncClient) -> None:
    page = await supervisor.get(f"/reports?{PERIOD}")
    assert page.status_code == 200
    html = page.text
    assert html.count("<svg") >= 5
    assert "23 November 2026 – 25 November 2026" in html
    assert duration(3600) in html  # the median first response
    assert "25,0%" in html  # breach rate 1 of 4
    assert "Ani" in html and "Budi" in html
    assert "Apa itu NIB?" in html
    assert "drill=day%3A2026-11-23" in html  # each day's bar opens its tickets


async def test_drill_down_lists_the_breached_ticket(supervisor: httpx.AsyncClient,
                                                    history: History) -> None:
    page = await supervisor.get(f"/reports/tickets?{PERIOD}&drill=breached")
    assert page.status_code == 200
    assert f'href="/tickets/{history.ids[2]}"' in page.text
    assert f'href="/tickets/{history.ids[1]}"' not in page.text
    assert (await supervisor.get(f"/reports/tickets?{PERIOD}&drill=nope")).status_code == 400


async def test_csv_exports_match_the_dashboard(supervisor: httpx.AsyncClient) -> None:
    html = (await supervisor.get(f"/reports?{PERIOD}")).text
    api = (await supervisor.get(f"/api/v1/reports/consultants?{PERIOD}")).json()["data"]
    response = await supervisor.get(f"/reports/export/petugas.csv?{PERIOD}")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["nama"] for r in rows] == [c["name"] for c in api]
    for row, figures in zip(rows, api, strict=True):
        assert int(row["ditangani"]) == figures["handled"]
        assert float(row["tanggapan_pertama_median_detik"]) == figures["first_response_p50"]
        # The dashboard row shows the same median, formatted.
        cells = re.search(rf'data-user-id="{row["petugas_id"]}">(.*?)</tr>', html, re.S)
        assert cells is not None
        assert duration(float(row["tanggapan_pertama_median_detik"])) in cells.group(1)
        assert f'>{row["ditangani"]}<' in cells.group(1)
    summary = {r["ukuran"]: r["nilai"] for r in csv.DictReader(io.StringIO(
        (await supervisor.get(f"/reports/export/ringkasan.csv?{PERIOD}")).text.lstrip("\ufeff")))}
    assert summary["tickets"] == "5"
    assert float(summary["breach_rate"]) == 0.25
    assert float(summary["first_response_p90"]) == 9360
    tickets = (await supervisor.get(f"/reports/export/tiket.csv?{PERIOD}&drill=opened")).text
    assert len(tickets.strip().splitlines()) == 1 + 5
    for name in ("harian", "jam", "faq", "kepuasan"):
        assert (await supervisor.get(f"/reports/export/{name}.csv?{PERIOD}")).status_code == 200


async def test_api_gives_the_same_figures_by_token(services: Services, history: History) -> None:
    async with await _client(services) as client:
        headers = {"authorization": "Bearer test-token"}
        response = await client.get(f"/api/v1/reports/summary?{PERIOD}", headers=headers)
        assert response.status_code == 200
        data = response.json()["data"]
        assert (data["tickets"], data["first_response_p50"]) == (5, 3600)
        daily = (await client.get(f"/api/v1/reports/daily?{PERIOD}", headers=headers)).json()
        assert [d["backlog"] for d in daily["data"]] == [1, 2, 2]
        wrong = await client.get("/api/v1/reports/summary", headers={"authorization": "Bearer x"})
        assert wrong.status_code == 401
        bad = await client.get("/api/v1/reports/summary?period=year", headers=headers)
        assert bad.status_code == 400 and "period" in bad.json()["error"]
        assert (await client.get("/api/v1/reports/nope", headers=headers)).status_code == 404


async def test_only_supervisors_and_admins_see_reports(services: Services,
                                                       history: History) -> None:
    async with await _client(services) as anonymous:
        page = await anonymous.get("/reports")
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")
        assert (await anonymous.get("/api/v1/reports/summary")).status_code == 401
    async with await _client(services) as consultant:
        await _sign_in(consultant, "petugas@ptsp.example")
        assert (await consultant.get("/reports")).status_code == 403
        assert (await consultant.get("/reports/export/petugas.csv")).status_code == 403
        assert (await consultant.get("/api/v1/reports/summary")).status_code == 403
