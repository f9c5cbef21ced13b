"""Debian's Chromium driven by Playwright, plus screenshots of failed tests.

Playwright cannot download its own browser here, so it drives
/usr/bin/chromium (Debian package ``chromium``).

Sync use (plain test functions; the sync API refuses to run inside an event
loop)::

    with chromium() as browser:
        page = browser.new_page()
        with screenshot_on_failure(page, "login form"):
            page.goto(url)

Async use (async tests)::

    async with async_chromium() as browser:
        page = await browser.new_page()
        async with async_screenshot_on_failure(page, "live chat"):
            await page.goto(url)

From a fixture: put ``from tests.servers.browser import
pytest_runtest_makereport`` in conftest.py, then after the fixture's
``yield`` call ``if has_failed(request): save_screenshot(page, request.node.nodeid)``.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser as AsyncBrowser
from playwright.async_api import Page as AsyncPage
from playwright.async_api import Playwright as AsyncPlaywright
from playwright.async_api import async_playwright
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

__all__ = [
    "ARTIFACTS_DIR",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "ChromiumNotInstalled",
    "artifact_path",
    "async_chromium",
    "async_screenshot_on_failure",
    "chromium",
    "has_failed",
    "launch_chromium",
    "launch_chromium_async",
    "launch_options",
    "pytest_runtest_makereport",
    "save_screenshot",
    "save_screenshot_async",
    "screenshot_on_failure",
]

CHROMIUM = os.environ.get("TANYA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    # We run as root in CI, where Chromium's sandbox cannot start.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
)
ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"


class ChromiumNotInstalled(RuntimeError):
    """Debian's Chromium is missing on this machine."""


def launch_options(*, headless: bool = True, **extra: Any) -> dict[str, Any]:
    """Keyword arguments for ``playwright.chromium.launch``."""
    if not os.path.exists(CHROMIUM):
        raise ChromiumNotInstalled(
            f"{CHROMIUM} not found. Install the Debian package: apt-get install -y "
            "--no-install-recommends chromium  (or run `bash tests/run.sh`, which "
            "installs it)."
        )
    options: dict[str, Any] = {
        "executable_path": CHROMIUM,
        "headless": headless,
        "args": list(CHROMIUM_ARGS),
    }
    options.update(extra)
    return options


def launch_chromium(playwright: Playwright, *, headless: bool = True, **extra: Any) -> Browser:
    return playwright.chromium.launch(**launch_options(headless=headless, **extra))


async def launch_chromium_async(
    playwright: AsyncPlaywright, *, headless: bool = True, **extra: Any
) -> AsyncBrowser:
    return await playwright.chromium.launch(**launch_options(headless=headless, **extra))


@contextmanager
def chromium(*, headless: bool = True, **extra: Any) -> Iterator[Browser]:
    """Playwright (sync API) and a Chromium, both shut down on exit."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, headless=headless, **extra)
        try:
            yield browser
        finally:
            browser.close()


@asynccontextmanager
async def async_chromium(*, headless: bool = True, **extra: Any) -> AsyncIterator[AsyncBrowser]:
    """Playwright (async API) and a Chromium, both shut down on exit."""
    async with async_playwright() as playwright:
        browser = await launch_chromium_async(playwright, headless=headless, **extra)
        try:
            yield browser
        finally:
            await browser.close()


# -- screenshots of failures -------------------------------------------------
def artifact_path(name: str, suffix: str = ".png") -> Path:
    """A file in tests/artifacts/ named after ``name`` (e.g. a test's nodeid)."""
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:180] or "artifact"
    return ARTIFACTS_DIR / f"{safe}{suffix}"


def save_screenshot(page: Page, name: str) -> Path | None:
    """Full-page screenshot plus the page's HTML; None if the page is gone.

    Never raises: a broken page must not hide the test failure it documents.
    """
    path = artifact_path(name)
    try:
        page.screenshot(path=str(path), full_page=True)
        artifact_path(name, ".html").write_text(page.content(), encoding="utf-8")
    except Exception:
        return None
    return path


async def save_screenshot_async(page: AsyncPage, name: str) -> Path | None:
    path = artifact_path(name)
    try:
        await page.screenshot(path=str(path), full_page=True)
        artifact_path(name, ".html").write_text(await page.content(), encoding="utf-8")
    except Exception:
        return None
    return path


@contextmanager
def screenshot_on_failure(page: Page, name: str) -> Iterator[None]:
    """Save a screenshot to tests/artifacts/ if the block raises."""
    try:
        yield
    except BaseException:
        save_screenshot(page, name)
        raise


@asynccontextmanager
async def async_screenshot_on_failure(page: AsyncPage, name: str) -> AsyncIterator[None]:
    try:
        yield
    except BaseException:
        await save_screenshot_async(page, name)
        raise


_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item so fixtures can see the outcome."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def has_failed(request: pytest.FixtureRequest) -> bool:
    """In a fixture's teardown: did the test (set-up or call) fail?

    Needs pytest_runtest_makereport from this module imported in conftest.py.
    """
    reports = request.node.stash.get(_REPORTS, {})
    return any(r.failed for r in reports.values())
