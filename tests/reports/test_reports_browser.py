"""The dashboard in Debian's Chromium on demo data: change the period and a
filter, the charts render, a bar opens the tickets behind it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest
import uvicorn

from helpdesk.bootstrap import Services, build_services
from helpdesk.business_calendar import BusinessCalendar
from helpdesk.config import Config
from helpdesk.demo_load import load_demo
from helpdesk.models import utcnow
from helpdesk.sla import SlaPolicies
from helpdesk.store import Store
from helpdesk.web.app import create_app
from knowledge_base.defaults import starter_faq_dir
from knowledge_base.entries import load_faq_files
from tests.servers.browser import chromium, screenshot_on_failure
from tests.servers.ports import free_port

pytestmark = pytest.mark.browser
PASSWORD = "sandi-demo-laporan"


@pytest.fixture
def base_url(config: Config, sqlite_url: str) -> Iterator[str]:
    config = replace(config, app=replace(config.app, secret_key="s" * 40))
    services: Services = build_services(config, store=Store(sqlite_url))
    services.knowledge.import_entries(load_faq_files(starter_faq_dir()), source="starter")
    load_demo(services.store, BusinessCalendar(config.business_hours), SlaPolicies(config.sla),
              tickets=600, password=PASSWORD, now=utcnow(), days=40)
    port = free_port("127.0.0.1")
    server = uvicorn.Server(uvicorn.Config(create_app(services), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert httpx.get(f"{url}/healthz").status_code == 200
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        services.close()


def test_dashboard_period_filter_charts_and_drill_down(base_url: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        with screenshot_on_failure(page, "reports dashboard"):
            page.goto(f"{base_url}/reports?period=30d")
            page.fill("input[name=email]", "sari.wulandari@demo.tanya-ptsp.id")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/reports?period=30d")
            for chart in ("volume", "backlog", "heatmap", "channels", "ratings"):
                assert page.locator(f"#chart-{chart} svg").count() == 1
            assert page.locator("#chart-volume svg a.bar rect").count() > 10
            assert page.locator("#chart-heatmap svg a.cell").count() == 7 * 24
            thirty = page.inner_text("#kpi-tickets .kpi-value")

            page.select_option("#f-period", "7d")  # applied at once by reports.js
            page.wait_for_url("**period=7d**")
            assert page.locator("#chart-volume svg a.bar").count() == 7
            seven = page.inner_text("#kpi-tickets .kpi-value")
            assert int(seven.replace(".", "")) < int(thirty.replace(".", ""))

            page.select_option("#f-channel", "telegram")
            page.wait_for_url("**channel=telegram**")
            assert page.locator("#chart-backlog svg polyline").count() == 1
            legend = page.inner_html("#chart-volume svg")
            assert "Telegram" in legend and "Email" not in legend

            total = page.inner_text("#kpi-tickets .kpi-value")
            page.click("#kpi-tickets")
            page.wait_for_url("**/reports/tickets?**drill=opened**")
            assert page.inner_text("#drill-total") == total
            assert page.locator("#drill-tickets tbody tr").count() >= 1
