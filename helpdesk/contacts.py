"""Residents and their identities across channels."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, select

from channels.base import Identity
from helpdesk.identities import InvalidIdentity, normalise
from helpdesk.models import Contact, ContactIdentity, Event


def find_or_create_contact(session: Session, identity: Identity, *,
                           now: datetime) -> tuple[Contact, ContactIdentity]:
    """The contact behind ``identity``, created on first contact.

    A concurrent creation of the same identity loses on the unique constraint
    at flush; the caller's retry then finds the winner's row.
    """
    value = normalise(identity.kind, identity.value)
    row = session.exec(
        select(ContactIdentity, Contact)
        .join(Contact, Contact.id == ContactIdentity.contact_id)  # type: ignore[arg-type]
        .where(ContactIdentity.kind == identity.kind, ContactIdentity.value == value)
    ).first()
    if row is not None:
        known, contact = row
        contact = _current(session, contact)
        if identity.name and not contact.name:
            contact.name = identity.name[:200]
        return contact, known
    contact = Contact(name=(identity.name or "")[:200], created_at=now)
    session.add(contact)
    session.flush()
    assert contact.id is not None
    known = ContactIdentity(contact_id=contact.id, kind=identity.kind, value=value,
                            display_name=(identity.name or "")[:200], created_at=now)
    session.add(known)
    session.flush()
    return contact, known


def attach_identities(session: Session, contact_id: int, identities: Iterable[Identity], *,
                      ticket_id: int | None, now: datetime) -> list[Event]:
    """Add identities the resident shared (a Telegram contact card's phone number).

    An identity already held by another contact is left there and reported as an
    event: merging two residents is a consultant's decision.
    """
    events: list[Event] = []
    for identity in identities:
        try:
            value = normalise(identity.kind, identity.value)
        except InvalidIdentity as exc:
            events.append(Event(ticket_id=ticket_id, kind="contact.identity_rejected",
                                actor="intake", data={"reason": str(exc)}, created_at=now))
            continue
        known = session.exec(select(ContactIdentity).where(
            ContactIdentity.kind == identity.kind, ContactIdentity.value == value)).first()
        if known is None:
            session.add(ContactIdentity(contact_id=contact_id, kind=identity.kind, value=value,
                                        display_name=(identity.name or "")[:200],
                                        created_at=now))
            session.flush()
            events.append(Event(ticket_id=ticket_id, kind="contact.identity_added",
                                actor="intake", data={"kind": identity.kind, "value": value},
                                created_at=now))
        elif known.contact_id != contact_id:
            events.append(Event(ticket_id=ticket_id, kind="contact.identity_conflict",
                                actor="intake",
                                data={"kind": identity.kind, "value": value,
                                      "other_contact_id": known.contact_id},
                                created_at=now))
    return events


def _current(session: Session, contact: Contact) -> Contact:
    """Follow merges to the contact that now stands for this resident."""
    seen: set[int] = set()
    while contact.merged_into_id is not None and contact.merged_into_id not in seen:
        seen.add(contact.merged_into_id)
        contact = session.get_one(Contact, contact.merged_into_id)
    return contact
