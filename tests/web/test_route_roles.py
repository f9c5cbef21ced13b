"""Every route, every role, signed out included: allowed or refused as designed."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.routing import Mount, Route, WebSocketRoute

from helpdesk.accounts import create_user
from helpdesk.bootstrap import Services
from helpdesk.models import CannedReply, Queue, Role, Ticket
from knowledge_base.entries import FaqEntry
from tests.helpdesk.factories import email_inquiry
from tests.web.conftest import SignIn, csrf_of

# Routes anyone may call, each with the reason.
PUBLIC = {
    "/healthz": "load balancer health check",
    "/": "redirects to sign-in or the queue",
    "/signin": "the sign-in form itself",
}
# Route families guarded by something other than a staff session.
PUBLIC_PREFIXES = {
    "/api/v1/": "bearer token of a trusted integration (tests/helpdesk/test_api.py)",
    "/chat": "the residents' web chat",
    "/webchat": "the residents' web chat",
    "/widget": "the residents' web chat",
    "/telegram": "Telegram's webhook, checked by its secret",
    "/feedback": "residents' signed feedback links",
    "/f/": "residents' signed feedback links",
    "/survey": "residents' signed satisfaction links",
}
ROLES = [None, Role.CONSULTANT, Role.SUPERVISOR, Role.ADMIN]


def _public(path: str) -> bool:
    return path in PUBLIC or any(path.startswith(p) for p in PUBLIC_PREFIXES)


def _fixtures(services: Services) -> dict[str, Any]:
    result = services.intake.receive(email_inquiry(1))
    entry = FaqEntry(id="jam-layanan", category="umum", question="Jam berapa PTSP buka?",
                     phrasings=("jam buka ptsp",), answer="Senin-Jumat 08.00-16.00.")
    services.knowledge.save(entry)
    item = services.quarantine.keep("email", b"broken", "test", None)
    with services.store.write() as session:
        spare = create_user(session, email="spare@ptsp.example", name="Spare",
                            role=Role.CONSULTANT, password="x" * 12)
        canned = CannedReply(title="Salam", body="Terima kasih")
        session.add(canned)
        session.flush()
        ticket = session.get_one(Ticket, result.ticket_id)
        queue = session.exec(select(Queue)).first()
        assert queue is not None
        return {"ticket_id": ticket.id, "contact_id": ticket.contact_id,
                "attachment_id": 1, "user_id": spare.id, "queue_id": queue.id,
                "canned_id": canned.id, "entry_id": entry.id, "item_id": item}


def _path(route: Route, values: dict[str, Any]) -> str:
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: str(values.get(m.group(1), "volume")), route.path)


def _routes(app: Starlette) -> list[tuple[Route, str]]:
    found = []
    for route in app.routes:
        if isinstance(route, Mount | WebSocketRoute):
            assert isinstance(route, WebSocketRoute) or _public(route.path) \
                or route.path.startswith("/static"), route
            continue
        assert isinstance(route, Route), route
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":
                found.append((route, method))
    return found


async def test_every_route_checks_the_role(app: Starlette, services: Services,
                                           clients: SignIn) -> None:
    values = _fixtures(services)
    by_role: dict[str | None, httpx.AsyncClient] = {r: await clients(r) for r in ROLES}
    tokens = {r: csrf_of((await c.get("/signin" if r is None else "/account")).text)
              for r, c in by_role.items()}
    unguarded = []
    checked = 0
    for route, method in _routes(app):
        allowed = getattr(route.endpoint, "allowed_roles", None)
        if allowed is None:
            if not _public(route.path):
                unguarded.append(f"{method} {route.path}")
            continue
        if route.path == "/signout":
            continue  # signs the client out; tested in test_auth
        api = getattr(route.endpoint, "is_api", False)
        path = _path(route, values)
        for role in ROLES:
            client = by_role[role]
            response = await client.request(method, path,
                                            data={"csrf_token": tokens[role]}
                                            if method != "GET" else None)
            where = f"{method} {path} as {role or 'anonymous'}"
            checked += 1
            if role is None:
                if api:
                    assert response.status_code == 401, where
                else:
                    assert response.status_code == 303, where
                    assert response.headers["location"].startswith("/signin"), where
            elif role in allowed:
                assert response.status_code not in (401, 403), where
                assert not response.headers.get("location", "").startswith("/signin"), where
            else:
                assert response.status_code == 403, where
    assert not unguarded, f"routes without require_role and not public: {unguarded}"
    assert checked > 100


@pytest.mark.parametrize("role", [Role.CONSULTANT, Role.SUPERVISOR])
async def test_administration_is_for_administrators_only(clients: SignIn, role: str) -> None:
    client = await clients(role)
    assert (await client.get("/admin/users")).status_code == 403
    page = await client.get("/tickets")
    assert page.status_code == 200
    assert 'href="/admin"' not in page.text


async def test_signed_out_pages_redirect_back_after_sign_in(clients: SignIn) -> None:
    client = await clients(None)
    response = await client.get("/tickets?view=open")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=/tickets%3Fview%3Dopen"
