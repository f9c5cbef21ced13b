"""Sign-in: sessions, lock-out, rate limits, no user enumeration, passwords."""

from __future__ import annotations

import os
import stat
import time
from dataclasses import replace
from pathlib import Path

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from helpdesk.bootstrap import Services, build_services
from helpdesk.config import Config
from helpdesk.models import Role, User
from helpdesk.web.app import create_app
from helpdesk.web.auth import IP_ATTEMPTS, MAX_FAILURES, secret_key
from tests.web.conftest import EMAILS, PASSWORD, SignIn, csrf_of, sign_in, token

INVALID = "Email atau kata sandi tidak cocok"


async def test_sign_in_sets_a_protected_session_cookie(clients: SignIn) -> None:
    client = await clients(None)
    response = await sign_in(client, EMAILS[Role.CONSULTANT])
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    assert (await client.get("/tickets")).status_code == 200


async def test_secure_cookies_when_configured(services: Services, staff: dict[str, int]) -> None:
    config = services.config
    secure = replace(config, server=replace(config.server, secure_cookies=True))
    app = create_app(build_services(secure, store=services.store))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://testserver") as client:
        response = await sign_in(client, EMAILS[Role.CONSULTANT])
        assert "; secure" in response.headers["set-cookie"].lower()


def test_secret_key_is_made_once_and_kept_private(config: Config) -> None:
    first = secret_key(config)
    path = Path(config.data_path) / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_key(config) == first
    configured = replace(config, app=replace(config.app, secret_key="k" * 40))
    assert secret_key(configured) == "k" * 40


async def test_wrong_password_and_unknown_email_look_the_same(clients: SignIn) -> None:
    client = await clients(None)
    timings = {}
    bodies = {}
    for label, email in (("wrong", EMAILS[Role.CONSULTANT]), ("unknown", "nobody@x.example")):
        started = time.perf_counter()
        response = await sign_in(client, email, "not-the-password")
        timings[label] = time.perf_counter() - started
        assert response.status_code == 401
        bodies[label] = response.text.replace(email, "EMAIL")
        assert INVALID in response.text
    assert bodies["wrong"].replace(csrf_of(bodies["wrong"]), "") == \
        bodies["unknown"].replace(csrf_of(bodies["unknown"]), "")
    # Both paths verify one argon2 hash.
    assert timings["unknown"] > timings["wrong"] / 3


async def test_lock_out_after_repeated_failures(clients: SignIn, services: Services) -> None:
    client = await clients(None)
    email = EMAILS[Role.CONSULTANT]
    for _ in range(MAX_FAILURES):
        assert (await sign_in(client, email, "salah")).status_code == 401
    locked = await sign_in(client, email, PASSWORD)
    assert locked.status_code == 401 and INVALID in locked.text
    with services.store.read() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        assert user.locked_until is not None and user.locked_until > services.clock()


async def test_sign_in_attempts_are_limited_per_address(app: Starlette, clients: SignIn) -> None:
    client = await clients(None)
    statuses = [(await sign_in(client, f"x{i}@x.example", "p")).status_code
                for i in range(IP_ATTEMPTS + 1)]
    assert statuses[:IP_ATTEMPTS] == [401] * IP_ATTEMPTS
    assert statuses[-1] == 429


async def test_next_only_goes_to_this_site(clients: SignIn) -> None:
    client = await clients(None)
    page = await client.get("/signin?next=//evil.example/x")
    response = await client.post("/signin", data={
        "email": EMAILS[Role.CONSULTANT], "password": PASSWORD, "next": "https://evil.example",
        "csrf_token": csrf_of(page.text)})
    assert response.headers["location"] == "/"


async def test_password_change_signs_out_other_sessions(clients: SignIn) -> None:
    first = await clients(Role.CONSULTANT)
    second = await clients(Role.CONSULTANT)
    response = await first.post("/account/password", data={
        "current": PASSWORD, "new": "sandi-baru-panjang", "confirm": "sandi-baru-panjang",
        "csrf_token": await token(first)})
    assert response.status_code == 303
    assert (await first.get("/tickets")).status_code == 200
    assert (await second.get("/tickets")).status_code == 303
    wrong = await first.post("/account/password", data={
        "current": "salah", "new": "pendek", "confirm": "lain", "csrf_token": await token(first)})
    assert wrong.status_code == 400


async def test_deactivated_user_is_signed_out(clients: SignIn, services: Services,
                                              staff: dict[str, int]) -> None:
    client = await clients(Role.CONSULTANT)
    with services.store.write() as session:
        session.get_one(User, staff[Role.CONSULTANT]).active = False
    assert (await client.get("/tickets")).status_code == 303


async def test_sign_out(clients: SignIn) -> None:
    client = await clients(Role.SUPERVISOR)
    response = await client.post("/signout", data={"csrf_token": await token(client)})
    assert response.status_code == 303
    assert (await client.get("/tickets")).status_code == 303


async def test_english_is_selectable_per_user(clients: SignIn) -> None:
    client = await clients(Role.CONSULTANT)
    assert "Tiket saya" in (await client.get("/tickets")).text
    await client.post("/account/language", data={"language": "en",
                                                 "csrf_token": await token(client)})
    page = await client.get("/tickets")
    assert "Mine" in page.text and "Tiket saya" not in page.text
