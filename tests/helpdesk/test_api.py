"""The JSON API: inquiries in, tickets out; every bad call is a 4xx that names
the problem and changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import func, select

from helpdesk.bootstrap import Services
from helpdesk.models import Contact, Event, Message, Ticket
from helpdesk.web.app import create_app

AUTH = {"Authorization": "Bearer test-token"}


def inquiry(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "email", "external_id": "abc-1@warga.example",
        "sender": {"kind": "email", "value": "ani@example.com", "name": "Ani"},
        "subject": "Izin usaha", "text": "Bagaimana cara mengurus NIB?",
        "received_at": "2026-11-23T09:00:00+07:00",
        "thread": {"reply_to_ids": []},
    }
    body.update(changes)
    return body


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def snapshot(services: Services) -> tuple[int, ...]:
    with services.store.read() as session:
        return tuple(session.exec(select(func.count()).select_from(m)).one()
                     for m in (Message, Ticket, Contact, Event))


async def test_post_inquiry_creates_then_replays_as_duplicate(
        client: httpx.AsyncClient) -> None:
    first = await client.post("/api/v1/inquiries", json=inquiry(), headers=AUTH)
    assert first.status_code == 201
    assert first.json()["created"] is True and first.json()["duplicate"] is False
    number = first.json()["ticket"]
    again = await client.post("/api/v1/inquiries", json=inquiry(), headers=AUTH)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "created": False, "duplicate": True}
    detail = await client.get(f"/api/v1/tickets/{number}", headers=AUTH)
    assert detail.status_code == 200
    body = detail.json()
    assert body["number"] == number and body["subject"] == "Izin usaha"
    assert [m["text"] for m in body["messages"]] == ["Bagaimana cara mengurus NIB?"]
    assert body["messages"][0]["created_at"] == "2026-11-23T02:00:00+00:00"


async def test_ticket_list_filters_and_paginates(client: httpx.AsyncClient) -> None:
    for n in range(7):
        kind = "telegram" if n % 2 else "email"
        sender = {"kind": kind, "value": str(1000 + n) if n % 2 else f"w{n}@example.com"}
        await client.post("/api/v1/inquiries", headers=AUTH, json=inquiry(
            channel=kind, external_id=f"m{n}", sender=sender))
    page = await client.get("/api/v1/tickets?channel=telegram&per_page=2", headers=AUTH)
    assert page.status_code == 200
    assert page.json()["total"] == 3 and len(page.json()["tickets"]) == 2
    rest = await client.get("/api/v1/tickets?channel=telegram&per_page=2&page=2",
                            headers=AUTH)
    assert len(rest.json()["tickets"]) == 1
    by_status = await client.get("/api/v1/tickets?status=new&queue=umum", headers=AUTH)
    assert by_status.json()["total"] == 7


BAD_CALLS: list[tuple[str, dict[str, str], bytes, int, str]] = [
    ("no token", {}, json.dumps(inquiry()).encode(), 401, "missing bearer token"),
    ("wrong token", {"Authorization": "Bearer nope"}, json.dumps(inquiry()).encode(), 401,
     "invalid bearer token"),
    ("not json", AUTH, b"{channel: email", 400, "not valid JSON"),
    ("missing text", AUTH, json.dumps({k: v for k, v in inquiry().items() if k != "text"})
     .encode(), 422, "text"),
    ("missing sender", AUTH, json.dumps({k: v for k, v in inquiry().items()
                                         if k != "sender"}).encode(), 422, "sender"),
    ("unknown channel", AUTH, json.dumps(inquiry(channel="fax")).encode(), 422, "channel"),
    ("unknown field", AUTH, json.dumps(inquiry(colour="red")).encode(), 422, "colour"),
    ("naive time", AUTH, json.dumps(inquiry(received_at="2026-11-23T09:00:00")).encode(),
     422, "received_at"),
    ("bad phone", AUTH, json.dumps(inquiry(channel="phone", sender={
        "kind": "phone", "value": "call me maybe"})).encode(), 422, "phone"),
    ("oversized", AUTH, json.dumps(inquiry(text="x" * 2_000_000)).encode(), 413, "too large"),
    ("array body", AUTH, b"[1, 2]", 422, "invalid inquiry"),
]


@pytest.mark.parametrize(("name", "headers", "body", "status", "says"), BAD_CALLS,
                         ids=[c[0] for c in BAD_CALLS])
async def test_bad_calls_are_refused_and_change_nothing(
        client: httpx.AsyncClient, services: Services, name: str, headers: dict[str, str],
        body: bytes, status: int, says: str) -> None:
    before = snapshot(services)
    response = await client.post("/api/v1/inquiries", content=body,
                                 headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    assert snapshot(services) == before


async def test_wrong_content_type_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/inquiries", content=b"text=hi", headers={
        **AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415


@pytest.mark.parametrize(("query", "says"), [
    ("status=lost", "status must be one of"), ("channel=fax", "channel must be one of"),
    ("page=0", "page must be"), ("per_page=1000", "per_page must be"),
    ("colour=red", "unknown query parameter"),
])
async def test_bad_ticket_queries_are_refused(client: httpx.AsyncClient, query: str,
                                              says: str) -> None:
    response = await client.get(f"/api/v1/tickets?{query}", headers=AUTH)
    assert response.status_code == 400 and says in response.json()["error"]


async def test_unknown_ticket_is_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/tickets/PTSP-999999", headers=AUTH)).status_code == 404
    missing = await client.get("/api/v1/tickets/hello", headers=AUTH)
    assert missing.status_code == 404 and "PTSP-000123" in missing.json()["error"]


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
