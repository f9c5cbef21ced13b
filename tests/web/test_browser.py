"""The consultants' and administrators' pages in Debian's Chromium.

One browser for these tests; each test gets its own page, database and app
served by uvicorn. A failing test leaves a screenshot in tests/artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from channels.base import Channel, Identity, IdentityKind, Inquiry
from channels.email.smtp import SmtpSender
from helpdesk.bootstrap import Services
from helpdesk.models import Role
from helpdesk.web.app import create_app
from knowledge_base.entries import FaqEntry
from tests.helpdesk.factories import T0
from tests.servers.browser import chromium, has_failed, save_screenshot
from tests.servers.smtp import ReceivedMessage, SmtpServer
from tests.web.conftest import EMAILS, PASSWORD
from tests.web.live_server import serve

pytestmark = pytest.mark.browser

NIB = FaqEntry(id="nib-cara-daftar", category="perizinan_berusaha",
               question="Bagaimana cara membuat NIB?",
               phrasings=("gmn cara urus nib", "cara daftar nib di oss", "bikin nib gimana"),
               answer="NIB dibuat secara daring melalui OSS: buat akun, isi data usaha, "
                      "lalu terbitkan NIB.")
JAM = FaqEntry(id="jam-layanan", category="umum", question="Jam berapa PTSP buka?",
               phrasings=("jam buka ptsp", "jam layanan mpp"),
               answer="Senin sampai Jumat, 08.00-16.00 WIB.")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: the sync Playwright API keeps its event loop
    # running while open, and async tests that run after it need a free loop.
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="id-ID")
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.set_default_timeout(10_000)
    yield page
    if has_failed(request):
        save_screenshot(page, request.node.nodeid)
    context.close()
    # Resident text carried alert() calls: none may have run.
    assert not dialogs, f"a dialog opened: {dialogs}"


def consultant_reply(smtp: SmtpServer, timeout: float = 15.0) -> ReceivedMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for mail in smtp.messages:
            if "Apakah jawaban ini membantu" not in mail.message.get_body(
                    ("plain",)).get_content():
                return mail
        time.sleep(0.1)
    raise AssertionError(f"no consultant reply arrived; got {len(smtp.messages)} mail(s)")


def sign_in(page: Page, base: str, role: str) -> None:
    page.goto(f"{base}/signin")
    page.fill("input[name=email]", EMAILS[Role(role)])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/tickets**")


def test_consultant_answers_an_email_with_an_faq_answer(
        page: Page, services: Services, staff: dict[str, int]) -> None:
    services.knowledge.save(NIB)
    services.knowledge.save(JAM)
    services.intake.receive(Inquiry(
        channel=Channel.EMAIL, external_id="nib-1@warga.example",
        sender=Identity(IdentityKind.EMAIL, "sari@warga.example", "Sari Wulandari"),
        subject="Tanya NIB", received_at=T0,
        text="Selamat pagi, gmn cara urus nib? <img src=x onerror=alert(1)>"
             "<script>alert(2)</script>"))
    with SmtpServer() as smtp:
        config = services.config
        services.config = replace(config, channels=replace(config.channels, smtp=replace(
            config.channels.smtp, host=smtp.host, port=smtp.port, security="none")))
        services.dispatcher.register("email", SmtpSender(
            host=smtp.host, port=smtp.port, security="none",
            from_address="tanya@ptsp.example", from_name="Tanya PTSP", timeout=5))
        with serve(create_app(services, background=True)) as base:
            sign_in(page, base, Role.CONSULTANT)
            page.click("text=Semua yang terbuka")
            page.click("text=Tanya NIB")
            expect(page.locator("#conversation")).to_contain_text("<script>alert(2)</script>")
            expect(page.locator(".suggestion").first).to_contain_text("Bagaimana cara membuat NIB")
            page.locator(".suggestion button[data-insert]").first.click()
            expect(page.locator("#reply-text")).to_have_value(NIB.answer)
            page.screenshot(path="tests/artifacts/ticket-workspace.png", full_page=True)
            page.click("#send-button")
            expect(page.locator(".alert.ok")).to_contain_text("Balasan masuk antrean kirim")
            # The answer-first step may have sent its automatic answer before.
            mail = consultant_reply(smtp)
            assert mail.rcpt_tos == ("sari@warga.example",)
            assert "<nib-1@warga.example>" in (mail["References"] or "")
            assert NIB.answer in mail.message.get_body(("plain",)).get_content()
            # The workspace shows the reply, and its delivery once the page refreshes.
            expect(page.locator("#conversation")).to_contain_text("NIB dibuat secara daring")
            page.reload()
            expect(page.locator("article.msg.out").last.locator(".delivery.sent")).to_be_visible()
            page.goto("about:blank")  # close the live stream before the server stops


def test_admin_edits_an_faq_entry_and_tries_it(page: Page, services: Services,
                                                staff: dict[str, int]) -> None:
    services.knowledge.save(NIB)
    services.knowledge.save(JAM)
    with serve(create_app(services)) as base:
        sign_in(page, base, Role.ADMIN)
        page.goto(f"{base}/admin/faq/jam-layanan")
        question = "kapan loket mal pelayanan publik dibuka"
        page.fill("#try-question", question)
        results = page.locator("#try-results")
        expect(results).not_to_contain_text("Jam berapa PTSP buka?")
        phrasings = page.locator("textarea[name=phrasings]")
        phrasings.fill(phrasings.input_value() + "\n" + question)
        page.fill("textarea[name=answer]", "Senin sampai Jumat, 07.30-16.00 WIB.")
        page.click("#faq-form button[type=submit]")
        expect(page.locator(".alert.ok")).to_be_visible()
        page.fill("#try-question", question)
        expect(results.locator("li").first).to_contain_text("Jam berapa PTSP buka?")
        expect(results.locator("li").first).to_contain_text("07.30-16.00")
        page.screenshot(path="tests/artifacts/faq-editor.png", full_page=True)
        page.goto("about:blank")
