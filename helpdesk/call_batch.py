"""Phone calls into the ticket store, many at a time.

A call log holds thousands of calls. Through intake's per-inquiry path each
costs about fifteen statements (4 ms); here a batch is read with a few queries
(every key of the batch in one IN list), decided in memory in the order of the
log, and written with one multi-row INSERT per table. The decisions are the help
desk's usual ones (intake's deduplication, contacts, threading and reopening,
the routing rules, the SLA clock, the report marks, webhooks); only the way rows
reach the database differs. Calls a consultant logs by hand come this way too,
as a batch of one, so a call means the same thing however it arrives.

What a call does to its ticket:

- a missed, busy or failed call opens or joins the caller's callback ticket
  (conversation ``callback:<number>``) in the callback queue;
- any other call joins the caller's open phone ticket, or opens one;
- an answered call is a conversation that already happened: the ticket is
  resolved when the call ended, the consultant who took it is its assignee, and
  the moment it was answered is its first response. These events carry the
  call's own times, so the SLA clock judges the call, not the import;
- phone tickets are never answered automatically (a call is answered by
  calling back), and hold no attachments.

The SLA clock judges each ticket a batch touched once, when the batch is written
(so a missed call answered later in the same batch was never overdue). A missed
call answered only in a later batch was overdue in between, and its history says
so; its breach columns end the same either way.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection
from sqlmodel import Session

from channels.base import Inquiry
from helpdesk import call_batch_sql as sql
from helpdesk.answer_first import (
    PHONE_CALLS_BACK,
    SWITCHED_OFF,
    Suggester,
    residents_words,
    suggestion_data,
)
from helpdesk.assignment import Assigner
from helpdesk.identities import InvalidIdentity, normalise
from helpdesk.intake import (
    IntakeResult,
    RejectedInquiry,
    conversation_key,
    may_reopen,
    message_meta,
    ticket_subject,
)
from helpdesk.intake_sql import MESSAGE_DEFAULTS, NAME_CONTACT, TICKET_DEFAULTS, current_contact
from helpdesk.models import OPEN_STATUSES, AuthorKind, Direction, TicketStatus, utcnow
from helpdesk.reports_rollup import mark_tickets
from helpdesk.routing import Router, RoutingDecision, RoutingInput, apply_decision
from helpdesk.sla import ClockEvent, SlaClock, timeline_from_events
from helpdesk.store import Store
from helpdesk.ticket_numbers import format_number
from helpdesk.webhooks import Webhooks

# The routing rule named in the history of a ticket sent to the callback queue.
MISSED_CALL_RULE = "telepon-balik"


@dataclass(frozen=True, slots=True)
class Call:
    """One call: the inquiry the phone channel made of it, and how it went."""

    inquiry: Inquiry
    answered: bool
    callback_needed: bool
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    consultant_id: int | None = None
    # How the consultant is named in the history ("extension 201", a name).
    by: str = ""


@dataclass(slots=True, eq=False)
class Draft:
    """A ticket as the batch sees it: stored or new, changed in memory, written once."""

    id: int | None
    contact_id: int
    channel: str
    subject: str
    status: str
    queue_id: int | None
    assignee_id: int | None
    priority: int
    category: str
    conversation_key: str | None
    linked_ticket_id: int | None
    created_at: datetime
    updated_at: datetime
    last_message_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_due_at: datetime | None
    resolution_due_at: datetime | None
    first_response_breached: bool
    resolution_breached: bool
    # A ticket new in this batch that this one follows up (its id comes later).
    follows: Draft | None = None
    # This batch's events for the SLA replay, after the stored ones.
    history: list[ClockEvent] = field(default_factory=list)
    touched: bool = False
    created_with: dict[str, Any] = field(default_factory=dict)
    # The columns as stored, for a ticket loaded from the database.
    stored: dict[str, Any] | None = None

    @property
    def new(self) -> bool:
        """Made by this batch (not read from the database)."""
        return self.stored is None

    def row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sql.TICKET_COLUMNS}

    def changes(self) -> dict[str, Any]:
        """The columns that differ from the stored ticket."""
        assert self.stored is not None
        return {name: value for name in sql.CHANGING
                if (value := getattr(self, name)) != self.stored[name]}


@dataclass(slots=True, eq=False)
class _Message:
    ticket: Draft
    values: dict[str, Any]
    id: int | None = None


@dataclass(slots=True)
class _Event:
    ticket: Draft
    kind: str
    actor: str
    data: dict[str, Any]
    created_at: datetime
    actor_user_id: int | None = None
    # Keys of ``data`` holding a Draft (written as its number) or a _Message (its
    # id): known only once the batch is written.
    refs: tuple[str, ...] = ()


@dataclass(slots=True)
class _Stored:
    """What became of one call of the batch."""

    ticket: Draft
    message: _Message
    created: bool
    reopened: bool


class CallBatch:
    def __init__(self, store: Store, *, knowledge: Suggester, router: Router, sla: SlaClock,
                 webhooks: Webhooks, auto_answers_enabled: bool, callback_queue: str,
                 reopen_days: int, assigner: Assigner | None = None,
                 clock: Callable[[], datetime] = utcnow, suggestions: int = 3) -> None:
        self.store = store
        self.knowledge = knowledge
        self.router = router
        self.sla = sla
        self.webhooks = webhooks
        self.auto_answers_enabled = auto_answers_enabled
        self.callback_queue = callback_queue
        self.reopen_window = timedelta(days=reopen_days)
        self.assigner = assigner
        self.clock = clock
        self.suggestions = suggestions
        # Notes repeat ("tanya syarat PBG"); the matcher is the costliest step.
        self._suggested: dict[str, list[Any]] = {}

    def receive(self, calls: Sequence[Call]) -> list[IntakeResult | RejectedInquiry]:
        """Store the calls in one transaction; one result per call, in order.

        A call already stored (the same external id) is a duplicate; a caller
        number that cannot be a phone number rejects that call alone. On a
        conflict with another writer the whole batch runs again and finds that
        writer's rows as duplicates.
        """
        with _collector_paused():
            results = self.store.write_retrying(lambda session: _Plan(self, session).run(calls))
        if self.assigner is not None and any(
                isinstance(r, IntakeResult) and r.created for r in results):
            self.assigner.poke()
        return results

    def suggest(self, text: str) -> list[Any]:
        if not text:
            return []
        found = self._suggested.get(text)
        if found is None:
            if len(self._suggested) > 10_000:
                self._suggested.clear()
            found = self._suggested[text] = self.knowledge.suggest(text, self.suggestions)
        return found


class _Plan:
    """One batch: read what it needs, decide every call in order, write it all."""

    def __init__(self, batch: CallBatch, session: Session) -> None:
        self.batch = batch
        self.session = session
        self.conn: Connection = session.connection()
        self.now = batch.clock()
        self.queues: dict[str, int] = {}
        self.queue_names: dict[int, str] = {}
        self.by_key: dict[str, Draft] = {}
        self.open_phone: dict[int, list[Draft]] = {}
        self.identities: dict[int, list[tuple[str, str]]] = {}
        self.touched: list[Draft] = []  # every ticket this batch changes
        self.messages: list[_Message] = []
        self.events: list[_Event] = []
        self.breached: list[tuple[Draft, str]] = []
        self.sla = batch.sla

    # -- the whole batch -------------------------------------------------------

    def run(self, calls: Sequence[Call]) -> list[IntakeResult | RejectedInquiry]:
        known = self._known(calls)
        senders = self._senders(calls, known)
        self._load_threads(calls, senders)
        for queue_id, name in self.conn.execute(sql.QUEUES):
            self.queues[name] = queue_id
            self.queue_names[queue_id] = name
        stored: dict[int, _Stored] = {}
        for index, call in enumerate(calls):
            sender = senders.get(index)
            if isinstance(sender, tuple):
                stored[index] = self._receive(call, *sender)
        self._judge_sla()
        self._write()
        for ticket in self.touched:  # the one cycle (ticket <-> its events): freed at once
            ticket.history.clear()
        return self._results(calls, known, senders, stored)

    def _known(self, calls: Sequence[Call]) -> dict[tuple[str, str], tuple[int, int]]:
        by_channel: dict[str, list[str]] = {}
        for call in calls:
            by_channel.setdefault(call.inquiry.channel, []).append(call.inquiry.external_id)
        return {(channel, external_id): found
                for channel, ids in by_channel.items()
                for external_id, found in sql.known_messages(self.conn, channel, ids).items()}

    def _senders(self, calls: Sequence[Call], known: dict[tuple[str, str], tuple[int, int]],
                 ) -> dict[int, tuple[int, int] | RejectedInquiry]:
        """(contact id, identity id) of each new call's caller; new callers are
        stored at once, named as their first call names them."""
        values: dict[int, tuple[str, str]] = {}
        outcome: dict[int, tuple[int, int] | RejectedInquiry] = {}
        seen: set[tuple[str, str]] = set()
        for index, call in enumerate(calls):
            inquiry = call.inquiry
            key = (inquiry.channel, inquiry.external_id)
            if key in known or key in seen:
                continue
            seen.add(key)
            try:
                values[index] = (inquiry.sender.kind, normalise(inquiry.sender.kind,
                                                                inquiry.sender.value))
            except InvalidIdentity as exc:
                outcome[index] = RejectedInquiry(str(exc))
        found: dict[tuple[str, str], tuple[int, int]] = {}
        unnamed: dict[int, str] = {}
        for kind in {kind for kind, _ in values.values()}:
            wanted = sorted({v for k, v in values.values() if k == kind})
            for value, (identity_id, contact_id, merged, name) in sql.identities(
                    self.conn, kind, wanted).items():
                contact_id = current_contact(self.conn, contact_id, merged)
                found[(kind, value)] = (contact_id, identity_id)
                if not name and merged is None:
                    unnamed[contact_id] = ""
        names: dict[tuple[str, str], str] = {}
        for index, identity in values.items():
            name = (calls[index].inquiry.sender.name or "")[:200]
            if not names.get(identity):
                names[identity] = name
            holder = found[identity][0] if identity in found else None
            if holder in unnamed and name and not unnamed[holder]:
                unnamed[holder] = name
        self._name_contacts({c: n for c, n in unnamed.items() if n})
        self.identities = sql.contact_identities(self.conn, sorted({c for c, _ in found.values()}))
        new = [identity for identity in dict.fromkeys(values.values()) if identity not in found]
        contact_ids = sql.insert_rows(self.conn, sql.CONTACTS, [
            {"name": names[i], "created_at": self.now, "merged_into_id": None} for i in new])
        identity_ids = sql.insert_rows(self.conn, sql.IDENTITIES, [
            {"contact_id": contact_id, "kind": kind, "value": value,
             "display_name": names[(kind, value)], "created_at": self.now,
             "merged_from_id": None}
            for contact_id, (kind, value) in zip(contact_ids, new, strict=True)])
        for contact_id, identity_id, identity in zip(contact_ids, identity_ids, new, strict=True):
            found[identity] = (contact_id, identity_id)
            self.identities[contact_id] = [identity]
        for index, identity in values.items():
            outcome[index] = found[identity]
        return outcome

    def _name_contacts(self, names: dict[int, str]) -> None:
        if names:
            self.conn.execute(NAME_CONTACT, [{"cid": c, "new_name": n} for c, n in names.items()])

    def _load_threads(self, calls: Sequence[Call],
                      senders: dict[int, tuple[int, int] | RejectedInquiry]) -> None:
        keys = sorted({k for call in calls if (k := conversation_key(call.inquiry))})
        contacts = sorted({s[0] for s in senders.values() if isinstance(s, tuple)})
        drafts: dict[int, Draft] = {}
        for row in sql.tickets_by_conversation(self.conn, keys):
            draft = drafts.setdefault(row["id"], Draft(**row, stored=row))
            self.by_key[row["conversation_key"]] = draft  # oldest first: the newest stays
        for row in sql.open_phone_tickets(self.conn, contacts):
            draft = drafts.setdefault(row["id"], Draft(**row, stored=row))
            self.open_phone.setdefault(draft.contact_id, []).append(draft)

    # -- one call ----------------------------------------------------------------

    def _receive(self, call: Call, contact_id: int, identity_id: int) -> _Stored:
        inquiry, now = call.inquiry, self.now
        ticket, created, reopened = self._thread(inquiry, contact_id)
        message = _Message(ticket, {
            **MESSAGE_DEFAULTS, "direction": Direction.IN, "channel": inquiry.channel,
            "external_id": inquiry.external_id, "author_kind": AuthorKind.RESIDENT,
            "identity_id": identity_id, "subject": (inquiry.subject or "")[:300],
            "text": inquiry.text, "html": inquiry.html, "meta": message_meta(inquiry),
            "created_at": inquiry.received_at})
        self.messages.append(message)
        self._event(ticket, "message.received", "resident",
                    {"message_id": message, "channel": inquiry.channel}, now,
                    refs=("message_id",))
        if not created and ticket.status == TicketStatus.PENDING:
            self._event(ticket, "ticket.status", "resident",
                        {"from": "pending", "to": "open", "why": "the resident wrote again"}, now)
            ticket.status = TicketStatus.OPEN
        ticket.last_message_at = max(ticket.last_message_at or now, inquiry.received_at)
        ticket.updated_at = now
        if created:
            self._route(call, ticket, contact_id)
        if call.answered:
            self._answered(call, ticket)
        return _Stored(ticket, message, created, reopened)

    def _thread(self, inquiry: Inquiry, contact_id: int) -> tuple[Draft, bool, bool]:
        """The ticket this call belongs to: (ticket, created, reopened)."""
        key = conversation_key(inquiry)
        found: Draft | None
        if key is not None:
            found, why = self.by_key.get(key), "it continues the same conversation"
        else:
            found = next((t for t in reversed(self.open_phone.get(contact_id, ()))
                          if t.status in OPEN_STATUSES), None)
            why = "the caller has an open phone ticket"
        now = self.now
        if found is not None and found.status in OPEN_STATUSES:
            self._touch(found)
            return found, False, False
        if found is not None and may_reopen(found, now, self.batch.reopen_window):
            self._event(found, "ticket.reopened", "resident", {"from": found.status, "why": why},
                        now)
            found.status, found.resolved_at, found.closed_at = TicketStatus.OPEN, None, None
            return found, False, True
        subject = ticket_subject(inquiry)
        ticket = Draft(
            id=None, contact_id=contact_id, channel=inquiry.channel, subject=subject,
            status=TicketStatus.NEW, queue_id=None, assignee_id=None,
            priority=TICKET_DEFAULTS["priority"], category="", conversation_key=key,
            linked_ticket_id=found.id if found is not None else None,
            created_at=min(inquiry.received_at, now), updated_at=now,
            last_message_at=inquiry.received_at, first_response_at=None, resolved_at=None,
            closed_at=None, sla_due_at=None, resolution_due_at=None,
            first_response_breached=False, resolution_breached=False,
            follows=found if found is not None and found.id is None else None)
        self._touch(ticket)
        data: dict[str, Any] = {"channel": inquiry.channel, "subject": subject}
        if found is not None:
            data["follows"] = found
            data["why"] = f"{why}; the earlier ticket was resolved too long ago to reopen"
            self._event(found, "ticket.followed_up", "intake", {"ticket": ticket}, now,
                        refs=("ticket",))
        self._event(ticket, "ticket.created", "intake", data, now,
                    refs=("follows",) if found is not None else ())
        if key is not None:
            self.by_key[key] = ticket
        if inquiry.channel == "phone":
            self.open_phone.setdefault(contact_id, []).append(ticket)
        return ticket, True, False

    def _route(self, call: Call, ticket: Draft, contact_id: int) -> None:
        """The ticket policy's first look at a new ticket (see helpdesk.answer_first)."""
        inquiry = call.inquiry
        words = residents_words(inquiry)
        suggestions = self.batch.suggest(words)
        decision = self.batch.router.decide(RoutingInput(
            channel=inquiry.channel, text=words, subject="",
            faq_categories=tuple((s.category, s.score) for s in suggestions),
            identities=tuple(self.identities.get(contact_id, ())),
            flags=frozenset(k for k, v in inquiry.meta.items() if v is True)))
        if call.callback_needed:
            decision = RoutingDecision(
                queue=self.batch.callback_queue, priority=decision.priority,
                category=decision.category, rule=MISSED_CALL_RULE,
                reasons=("the call was not answered: a consultant calls the resident back",))
        data = apply_decision(ticket, decision, self._queue(decision.queue))
        self._event(ticket, "ticket.routed", "router", data, self.now)
        ticket.created_with = {"rule": decision.rule, "queue": decision.queue}
        if suggestions:
            self._event(ticket, "faq.suggested", "knowledge",
                        {"suggestions": [suggestion_data(s) for s in suggestions]}, self.now)
            best = suggestions[0]
            if best.score >= self.batch.knowledge.auto_answer_min:
                why = PHONE_CALLS_BACK if self.batch.auto_answers_enabled else SWITCHED_OFF
                self._event(ticket, "faq.auto_answer_skipped", "knowledge",
                            {"entry": best.entry_id, "why": why}, self.now)

    def _answered(self, call: Call, ticket: Draft) -> None:
        answered_at = call.answered_at or call.inquiry.received_at
        if call.consultant_id is not None and ticket.assignee_id is None:
            ticket.assignee_id = call.consultant_id
        self._event(ticket, "call.answered", "phone", {"by": call.by}, answered_at,
                    call.consultant_id)
        if ticket.first_response_at is None:
            ticket.first_response_at = answered_at
        if ticket.status in (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING):
            ended = call.ended_at or answered_at
            why = "the call was answered" + (f" by {call.by}" if call.by else "")
            self._event(ticket, "ticket.status", "phone",
                        {"from": ticket.status, "to": "resolved", "why": why}, ended,
                        call.consultant_id)
            ticket.status, ticket.resolved_at = TicketStatus.RESOLVED, ended

    # -- helpers -----------------------------------------------------------------

    def _touch(self, ticket: Draft) -> None:
        if not ticket.touched:
            ticket.touched = True
            self.touched.append(ticket)

    def _event(self, ticket: Draft, kind: str, actor: str, data: dict[str, Any],
               at: datetime, actor_user_id: int | None = None, *,
               refs: tuple[str, ...] = ()) -> None:
        self._touch(ticket)
        event = _Event(ticket, kind, actor, data, at, actor_user_id, refs)
        self.events.append(event)
        ticket.history.append(event)

    def _queue(self, name: str) -> int:
        queue_id = self.queues.get(name)
        if queue_id is None:
            queue_id = self.queues[name] = sql.add_queue(self.conn, name)
            self.queue_names[queue_id] = name
        return queue_id

    def _judge_sla(self) -> None:
        """The SLA clock's verdict on every ticket the batch touched, at the end
        of the batch (a ticket answered by a later call of the batch is judged
        answered, as it is)."""
        drafts = self.touched
        stored = sql.events(self.conn, [t.id for t in drafts if t.id is not None])
        listener = self.sla.on_breach if self.batch.webhooks else None
        for ticket in drafts:
            history = [*stored.get(ticket.id, []), *ticket.history] if ticket.id else ticket.history
            timeline = timeline_from_events(ticket.created_at, history, priority=ticket.priority)
            outcome = self.sla.assess(ticket, timeline, self.queue_names.get(ticket.queue_id or 0),
                                      self.now)
            outcome.apply(ticket)
            for kind, data in outcome.events:
                self.events.append(_Event(ticket, kind, "sla", data, self.now))
            if listener is not None:
                self.breached.extend((ticket, name) for name in outcome.breached)

    # -- writing -----------------------------------------------------------------

    def _write(self) -> None:
        drafts = self.touched
        new = [t for t in drafts if t.new]
        rows = [{**TICKET_DEFAULTS, **{k: v for k, v in t.row().items() if k != "id"}}
                for t in new]
        for ticket, ticket_id in zip(new, sql.insert_rows(self.conn, sql.TICKETS,
                                                              rows), strict=True):
            ticket.id = ticket_id
        links = [{"ticket_id": t.id, "linked": t.follows.id} for t in new if t.follows]
        if links:
            self.conn.execute(sql.LINK_TICKETS, links)
        rows = [{**m.values, "ticket_id": m.ticket.id} for m in self.messages]
        for message, message_id in zip(self.messages, sql.insert_rows(
                self.conn, sql.MESSAGES, rows), strict=True):
            message.id = message_id
        if self.events:
            sql.insert_many(self.conn, sql.EVENTS, [
                {"ticket_id": e.ticket.id, "kind": e.kind, "actor": e.actor,
                 "actor_user_id": e.actor_user_id,
                 "data": _resolved(e.data, e.refs) if e.refs else e.data,
                 "created_at": e.created_at} for e in self.events])
        sql.update_tickets(self.conn, [(t.id, t.changes()) for t in drafts
                                         if t.id is not None and not t.new])
        mark_tickets(self.conn, [t.id for t in drafts if t.id is not None])
        self._hooks(new)

    def _hooks(self, new: list[Draft]) -> None:
        webhooks = self.batch.webhooks
        if not webhooks:
            return
        for ticket in new:
            webhooks.emit(self.session, "ticket.created", ticket, self.now, ticket.created_with)
        listener = self.sla.on_breach
        if listener is not None:
            for ticket, name in self.breached:
                listener(self.session, ticket, name, self.now)

    def _results(self, calls: Sequence[Call], known: dict[tuple[str, str], tuple[int, int]],
                 senders: dict[int, tuple[int, int] | RejectedInquiry],
                 stored: dict[int, _Stored]) -> list[IntakeResult | RejectedInquiry]:
        results: list[IntakeResult | RejectedInquiry] = []
        first: dict[tuple[str, str], tuple[int, int]] = dict(known)
        for index, call in enumerate(calls):
            key = (call.inquiry.channel, call.inquiry.external_id)
            sender = senders.get(index)
            if isinstance(sender, RejectedInquiry):
                results.append(sender)
            elif index in stored:
                done = stored[index]
                assert done.ticket.id is not None and done.message.id is not None
                first[key] = (done.message.id, done.ticket.id)
                results.append(IntakeResult(ticket_id=done.ticket.id,
                                            message_id=done.message.id, created=done.created,
                                            duplicate=False, reopened=done.reopened))
            elif key not in first:  # a repeat of a call rejected above
                results.append(next(r for c, r in zip(calls, results, strict=False)
                                    if (c.inquiry.channel, c.inquiry.external_id) == key))
            else:
                message_id, ticket_id = first[key]
                results.append(IntakeResult(ticket_id=ticket_id, message_id=message_id,
                                            created=False, duplicate=True))
        return results


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A batch makes tens of thousands of objects that live until it is written.
    Python's cycle collector, triggered every few hundred new objects, walks
    them again and again (a seventh of an import's time); paused for the
    batch, it runs as usual afterwards."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _resolved(data: dict[str, Any], refs: tuple[str, ...]) -> dict[str, Any]:
    """Event data with the batch's placeholders replaced by what was written."""
    out = dict(data)
    for name in refs:
        value = out[name]
        if isinstance(value, Draft):
            assert value.id is not None
            out[name] = format_number(value.id)
        elif isinstance(value, _Message):
            out[name] = value.id
    return out
