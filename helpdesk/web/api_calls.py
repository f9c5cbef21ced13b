"""Consultants log a phone call by hand on a contact (a call the phone system
did not export, or one made from a mobile phone)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.base import Channel, Identity, IdentityKind, Inquiry, ThreadHints
from helpdesk.bootstrap import Services
from helpdesk.call_batch import Call
from helpdesk.identities import InvalidIdentity, normalise_phone
from helpdesk.intake import IntakeResult, RejectedInquiry
from helpdesk.models import Contact, ContactIdentity, Role, User
from helpdesk.web.api import read_json, services_of, validation_error
from helpdesk.web.auth import current_user, require_role
from helpdesk.web.responses import error

DIRECTION_TEXT = {"inbound": "Panggilan masuk dari", "outbound": "Panggilan keluar ke"}


class CallIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    direction: Literal["inbound", "outbound"] = "inbound"
    # The number spoken with; default: the contact's newest phone number.
    number: str | None = Field(default=None, max_length=40)
    answered: bool = True
    started_at: AwareDatetime
    duration_seconds: int = Field(default=0, ge=0, le=86_400)
    notes: str = Field(default="", max_length=10_000)
    # Lets a client retry the request without logging the call twice.
    external_id: str | None = Field(default=None, min_length=1, max_length=200)


@require_role(Role.CONSULTANT, api=True)
async def log_call(request: Request) -> Response:
    services = services_of(request)
    body = await read_json(request, services.config.server.max_body_bytes)
    if isinstance(body, Response):
        return body
    try:
        call = CallIn.model_validate(body)
    except ValidationError as exc:
        return validation_error(exc)
    contact_id = int(request.path_params["contact_id"])
    user = current_user(request)
    outcome = await services.store.run(_log, services, user, contact_id, call)
    if isinstance(outcome, Response):
        return outcome
    return JSONResponse({"ticket": outcome.ticket_number, "created": outcome.created,
                         "duplicate": outcome.duplicate},
                        status_code=200 if outcome.duplicate else 201)


def _log(services: Services, user: User, contact_id: int,
         call: CallIn) -> IntakeResult | Response:
    with services.store.read() as session:
        if session.get(Contact, contact_id) is None:
            return error(404, f"no contact {contact_id}")
        number = call.number or _phone_of(session, contact_id)
    if number is None:
        return error(422, "number: the contact has no phone number; give one")
    try:
        number = normalise_phone(number)
    except InvalidIdentity as exc:
        return error(422, f"number: {exc}")
    with services.store.read() as session:
        holder = session.exec(select(ContactIdentity.contact_id).where(
            ContactIdentity.kind == IdentityKind.PHONE, ContactIdentity.value == number)).first()
    if holder is not None and holder != contact_id:
        return error(409, f"number: {number} belongs to contact {holder}; merge the contacts "
                          "or log the call there")
    state = "dijawab" if call.answered else "tidak tersambung"
    minutes, seconds = divmod(call.duration_seconds, 60)
    text = (f"{DIRECTION_TEXT[call.direction]} {number} {state}, dicatat oleh "
            f"{user.name or user.email}, durasi {minutes} menit {seconds} detik.")
    if call.notes:
        text += f" Catatan: {call.notes}"
    callback = call.direction == "inbound" and not call.answered
    inquiry = Inquiry(
        channel=Channel.PHONE,
        external_id=f"manual:{user.id}:{call.external_id or uuid.uuid4().hex}",
        sender=Identity(IdentityKind.PHONE, number), text=text,
        subject=f"Panggilan telepon {number}", received_at=call.started_at,
        thread=ThreadHints(conversation_id=f"callback:{number}" if callback else None),
        meta={"manual": True, "logged_by": user.id, "direction": call.direction,
              "answered": call.answered, "duration": call.duration_seconds},
    )
    ended = call.started_at + timedelta(seconds=call.duration_seconds)
    results = services.calls.receive([Call(
        inquiry, answered=call.answered, callback_needed=callback,
        answered_at=call.started_at if call.answered else None, ended_at=ended,
        consultant_id=user.id, by=user.name or user.email)])
    result = results[0]
    if isinstance(result, RejectedInquiry):
        return error(422, f"number: {result}")
    return result


def _phone_of(session: Session, contact_id: int) -> str | None:
    return session.exec(
        select(ContactIdentity.value)
        .where(ContactIdentity.contact_id == contact_id,
               ContactIdentity.kind == IdentityKind.PHONE)
        .order_by(col(ContactIdentity.id).desc())).first()


routes = [Route("/api/v1/contacts/{contact_id:int}/calls", log_call, methods=["POST"])]
