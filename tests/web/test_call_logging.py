"""Consultants log a phone call by hand on a contact."""

from __future__ import annotations

from dataclasses import replace

from sqlmodel import select

from channels.base import Identity, IdentityKind
from helpdesk.bootstrap import Services
from helpdesk.models import Ticket
from tests.helpdesk.factories import chat_inquiry
from tests.web.conftest import SignIn, token

CALL = {"direction": "outbound", "number": "0812-7777-8888", "answered": True,
        "started_at": "2026-11-24T10:00:00+07:00", "duration_seconds": 185,
        "notes": "Menjelaskan syarat PBG", "external_id": "hp-1"}


async def test_a_logged_call_lands_on_the_contact_and_is_idempotent(
        services: Services, clients: SignIn, staff: dict[str, int]) -> None:
    chat = replace(chat_inquiry(1, "4242"),
                   extra_identities=(Identity(IdentityKind.PHONE, "081277778888"),))
    services.intake.receive(chat)
    client = await clients("consultant")
    headers = {"X-CSRF-Token": await token(client)}
    first = await client.post("/api/v1/contacts/1/calls", json=CALL, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/api/v1/contacts/1/calls", json=CALL, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    with services.store.read() as session:
        ticket = session.exec(select(Ticket).where(Ticket.channel == "phone")).one()
    assert ticket.contact_id == 1 and ticket.status == "resolved"
    assert ticket.assignee_id == staff["consultant"]


async def test_bad_calls_are_refused(services: Services, clients: SignIn) -> None:
    services.intake.receive(chat_inquiry(1, "4242"))
    anonymous = await clients(None)
    assert (await anonymous.post("/api/v1/contacts/1/calls", json=CALL)).status_code == 401
    client = await clients("consultant")
    no_csrf = await client.post("/api/v1/contacts/1/calls", json=CALL)
    assert no_csrf.status_code == 403
    headers = {"X-CSRF-Token": await token(client)}
    missing = await client.post("/api/v1/contacts/99/calls", json=CALL, headers=headers)
    assert missing.status_code == 404
    no_number = await client.post("/api/v1/contacts/1/calls", headers=headers,
                                  json={k: v for k, v in CALL.items() if k != "number"})
    assert no_number.status_code == 422 and "no phone number" in no_number.json()["error"]
    bad_time = await client.post("/api/v1/contacts/1/calls", headers=headers,
                                 json={**CALL, "started_at": "kemarin"})
    assert bad_time.status_code == 422 and "started_at" in bad_time.json()["error"]
