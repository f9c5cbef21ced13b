"""A resident in Debian's Chromium: the /chat page, FAQ suggestions while
typing, a consultant's reply appearing without reload, buttons, escaping."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import threading
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, expect
from sqlmodel import col, select

from channels.base import ReplyButton
from helpdesk.bootstrap import Services
from helpdesk.config import Config
from helpdesk.models import Direction, Message, Ticket
from helpdesk.store import Store
from knowledge_base.defaults import starter_faq_dir
from knowledge_base.entries import load_faq_files
from tests.helpdesk.webchat_harness import LiveServer, chat_services, consultant_reply
from tests.servers.browser import async_chromium, async_screenshot_on_failure
from tests.servers.ports import free_port

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'


@pytest.fixture
def served(config: Config, sqlite_url: str) -> Iterator[tuple[Services, LiveServer]]:
    store = Store(sqlite_url)
    services = chat_services(config, store)
    services.knowledge.import_entries(load_faq_files(starter_faq_dir()), source="starter")
    server = LiveServer(services).start()
    try:
        yield services, server
    finally:
        server.stop()
        services.close()


@contextlib.contextmanager
def portal_site(helpdesk: str) -> Iterator[str]:
    """A page of the city's website on its own origin, embedding the widget."""
    page = (f'<!doctype html><html lang="id"><body><h1>Portal Jakarta</h1>'
            f'<script src="{helpdesk}/widget.js" defer></script></body></html>').encode()

    class Portal(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Portal)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()
        thread.join(timeout=5)


def newest_ticket(services: Services) -> str:
    with services.store.read() as session:
        ticket = session.exec(select(Ticket).order_by(col(Ticket.id).desc())).first()
    assert ticket is not None
    return ticket.number


async def reply(services: Services, text: str, buttons: tuple[ReplyButton, ...] = ()) -> None:
    number = await asyncio.to_thread(newest_ticket, services)
    await asyncio.to_thread(consultant_reply, services, number, text, buttons)
    await services.dispatcher.dispatch_due()


async def test_a_resident_chats_with_a_consultant(served: tuple[Services, LiveServer]) -> None:
    services, server = served
    async with async_chromium() as browser:
        page: Page = await browser.new_page()
        async with async_screenshot_on_failure(page, "webchat resident conversation"):
            await page.goto(f"{server.url}/chat")
            status = page.locator(".tpc-status")
            await expect(status).to_have_text("Terhubung")
            box = page.locator("textarea.tpc-input")
            await expect(box).to_have_attribute("placeholder", "Ketik pertanyaan Anda...")

            # FAQ answers show while typing, before anything is sent.
            await box.press_sequentially("gmn cara urus nib", delay=20)
            suggestion = page.locator(".tpc-suggestion").first
            await expect(suggestion).to_be_visible()
            await expect(suggestion).to_contain_text("NIB")

            await page.get_by_role("button", name="Kirim").click()
            await expect(page.locator(".tpc-resident .tpc-text")).to_have_text(
                ["gmn cara urus nib"])
            await expect(page.locator(".tpc-ticket")).to_contain_text("PTSP-")
            await expect(page.locator(".tpc-suggestions")).to_be_hidden()

            await reply(services, "Silakan daftar di https://oss.go.id lalu unggah KTP.")
            agent = page.locator(".tpc-line.tpc-agent").last
            await expect(agent).to_contain_text("Silakan daftar di https://oss.go.id")
            link = agent.locator("a.tpc-link")
            await expect(link).to_have_attribute("href", "https://oss.go.id/")

            # Resident text is shown as text: no element, no script runs.
            await box.fill(XSS)
            await box.press("Enter")
            resident = page.locator(".tpc-line.tpc-resident").last
            await expect(resident.locator(".tpc-text")).to_have_text(XSS)
            await expect(resident.locator(".tpc-meta")).to_contain_text("Anda · ")
            assert await page.evaluate("window.__xss === undefined")
            assert await page.locator(".tpc-log img, .tpc-log script").count() == 0

            await reply(services, "Apakah jawaban ini membantu?",
                        (ReplyButton("Ya", "faq:yes:t"), ReplyButton("Tidak", "faq:no:t")))
            yes = page.get_by_role("button", name="Ya")
            await yes.click()
            await expect(page.locator(".tpc-line.tpc-resident").last).to_contain_text("Ya")
            await expect(yes).to_be_disabled()

            # A reload keeps the conversation: the token is in localStorage.
            await page.reload()
            await expect(status).to_have_text("Terhubung")
            await expect(page.locator(".tpc-line.tpc-agent").first).to_contain_text(
                "Silakan daftar")
        await page.close()

    with services.store.read() as session:
        texts = list(session.exec(
            select(Message.text).where(Message.direction == Direction.IN)
            .order_by(col(Message.id))))
        callbacks = [m.meta.get("callback") for m in session.exec(
            select(Message).where(Message.direction == Direction.IN))]
    assert texts == ["gmn cara urus nib", XSS, "Ya"]
    assert "faq:yes:t" in callbacks


async def test_the_widget_floats_on_any_page(served: tuple[Services, LiveServer]) -> None:
    _, server = served
    async with async_chromium() as browser:
        page: Page = await browser.new_page()
        async with async_screenshot_on_failure(page, "webchat embedded widget"):
            # Another site's page (another origin) with the one script tag.
            with portal_site(server.url) as portal:
                await page.goto(portal)
                launcher = page.get_by_role("button", name="Tanya PTSP")
                await expect(launcher).to_be_visible()
                await launcher.click()
                await expect(page.locator(".tpc-status")).to_have_text("Terhubung")
                await page.locator("textarea.tpc-input").fill("Halo, jam buka kantor?")
                await page.locator("textarea.tpc-input").press("Enter")
                await expect(page.locator(".tpc-ticket")).to_contain_text("PTSP-")
        await page.close()
