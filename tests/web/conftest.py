"""Staff web app fixtures: an app over the suite's services, signed-in clients."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from helpdesk.accounts import create_user
from helpdesk.bootstrap import Services
from helpdesk.models import Role
from helpdesk.web.app import create_app
from tests.servers.browser import pytest_runtest_makereport  # noqa: F401

PASSWORD = "kata-sandi-rahasia"
EMAILS = {Role.CONSULTANT: "petugas@ptsp.example", Role.SUPERVISOR: "supervisor@ptsp.example",
          Role.ADMIN: "admin@ptsp.example"}
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')

SignIn = Callable[[str | None], Coroutine[Any, Any, httpx.AsyncClient]]


def add_staff(services: Services) -> dict[str, int]:
    ids: dict[str, int] = {}
    with services.store.write() as session:
        for role, email in EMAILS.items():
            user = create_user(session, email=email, name=f"{role.title()} Satu", role=role,
                               password=PASSWORD, queues=["umum"])
            assert user.id is not None
            ids[role] = user.id
    return ids


@pytest.fixture
def staff(services: Services) -> dict[str, int]:
    return add_staff(services)


@pytest.fixture
def app(services: Services, staff: dict[str, int]) -> Starlette:
    app = create_app(services)
    # Streams end at once in tests so a response body is complete.
    app.state.live_stream_seconds = 0
    return app


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD
                  ) -> httpx.Response:
    page = await client.get("/signin")
    return await client.post("/signin", data={"email": email, "password": password,
                                              "csrf_token": csrf_of(page.text)})


@pytest.fixture
async def clients(app: Starlette) -> AsyncIterator[SignIn]:
    opened: list[httpx.AsyncClient] = []

    async def make(role: str | None) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                   base_url="http://testserver")
        opened.append(client)
        if role is not None:
            response = await sign_in(client, EMAILS[Role(role)])
            assert response.status_code == 303, response.text
        return client

    yield make
    for client in opened:
        await client.aclose()


async def token(client: httpx.AsyncClient) -> str:
    return csrf_of((await client.get("/account")).text)


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Staff pages run on SQLite here; the queue test covers PostgreSQL too."""
    return sqlite_url
