"""Answer first, then route: the ticket policy intake runs for every message.

For a new ticket the knowledge base suggests FAQ answers. When the best one
reaches ``auto_answer_min`` and the channel allows it, the answer goes out at
once on the resident's own channel (as the bot, never counted as a
consultant's response), with "Apakah jawaban ini membantu?" as buttons (chat)
or signed links (email), and the ticket waits on the resident (pending, the SLA
clock paused) until ``awaiting_until``.

- "Yes" resolves it as answered by the FAQ (an event per entry, for reports).
- "No", any further message, or the hold running out hands it to a consultant
  with the suggestion attached (a ``faq.handover`` event the ticket page shows).

A weaker match (between ``suggest_min`` and ``auto_answer_min``) is routed at
once with the suggestions stored for the consultant. Every new ticket is routed
by the rules straight away; assignment picks it up when it is not held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session, col, select

from channels.base import Channel, Inquiry, ReplyButton
from helpdesk import policy_sql
from helpdesk.assignment import Assigner
from helpdesk.config import AutoAnswerConfig
from helpdesk.intake import Received
from helpdesk.models import AuthorKind, Event, Ticket, TicketStatus
from helpdesk.outbox import NoRecipient, queue_reply, recipient_for
from helpdesk.policy_sql import add_event
from helpdesk.routing import Router, RoutingInput, route_ticket
from helpdesk.signed_links import Answer, BadLink, LinkSigner
from helpdesk.sla import EventRecord, timeline_from_events
from helpdesk.store import Store
from helpdesk.ticket_flow import CHAT_CHANNELS, TicketFlow
from helpdesk.ticket_numbers import parse_number
from knowledge_base.matcher import Suggestion

YES_LABEL = "Ya, membantu"
NO_LABEL = "Tidak"


class Suggester(Protocol):
    """The knowledge base as this policy needs it (KnowledgeService fits)."""

    @property
    def auto_answer_min(self) -> float: ...

    def suggest(self, text: str, limit: int = 3) -> list[Suggestion]: ...


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    ticket_number: str
    outcome: str  # "resolved", "handed_over", "recorded", "ignored"


SWITCHED_OFF = "automatic answers are switched off"
PHONE_CALLS_BACK = "a phone call is answered by calling back"


def residents_words(inquiry: Inquiry) -> str:
    """What the FAQ matcher and the routing rules read: the resident's message,
    or for a call the consultant's notes of it (the rest of a call's text is the
    desk's own: number, time, duration)."""
    if inquiry.channel == Channel.PHONE:
        notes = inquiry.meta.get("notes")
        return notes if isinstance(notes, str) else ""
    return inquiry.text


def suggestion_data(s: Suggestion) -> dict[str, Any]:
    return {"entry": s.entry_id, "question": s.question, "score": s.score,
            "category": s.category, "matched": s.matched_phrasing}


class AnswerFirstPolicy:
    """The :class:`helpdesk.intake.TicketPolicy` of the help desk."""

    def __init__(self, *, knowledge: Suggester, router: Router, flow: TicketFlow,
                 config: AutoAnswerConfig, links: LinkSigner, mail_domain: str = "ptsp.localhost",
                 assigner: Assigner | None = None, suggestions: int = 3) -> None:
        self.knowledge = knowledge
        self.router = router
        self.flow = flow
        self.config = config
        self.links = links
        self.mail_domain = mail_domain
        self.assigner = assigner
        self.suggestions = suggestions

    # -- intake ---------------------------------------------------------------

    def after_receive(self, session: Session, received: Received) -> None:
        callback = received.inquiry.meta.get("callback")
        answer = Answer.parse(callback) if isinstance(callback, str) else None
        if answer is not None and self._button(session, received, answer):
            return
        ticket, now = received.ticket, received.now
        if received.created:
            # Everything read here is flushed or held in hand (see policy_sql).
            with policy_sql.batched_events(session):
                self._new_ticket(session, received)
        elif ticket.awaiting_until is not None and ticket.auto_answer_entry:
            self.release(session, ticket, now=now, why="the resident wrote again")
        else:
            # Intake may have reopened it or ended a pending wait: the clock moves.
            self.flow.sla.refresh(session, ticket, now)

    def _new_ticket(self, session: Session, received: Received) -> None:
        ticket, inquiry, now = received.ticket, received.inquiry, received.now
        words = residents_words(inquiry)
        suggestions = self.knowledge.suggest(words, self.suggestions)
        identities = policy_sql.contact_identities(session, received.contact_id)
        # A call's subject is the desk's own words, like the rest of its text.
        subject = "" if inquiry.channel == Channel.PHONE else inquiry.subject or ""
        decision = self.router.decide(RoutingInput(
            channel=inquiry.channel, text=words, subject=subject,
            faq_categories=tuple((s.category, s.score) for s in suggestions),
            identities=identities,
            flags=frozenset(k for k, v in inquiry.meta.items() if v is True)))
        route_ticket(session, ticket, decision, now=now)
        if suggestions:
            add_event(session, ticket_id=ticket.id, kind="faq.suggested", actor="knowledge",
                      data={"suggestions": [suggestion_data(s) for s in suggestions]},
                      created_at=now)
        best = suggestions[0] if suggestions else None
        held = False
        if best is not None and best.score >= self.knowledge.auto_answer_min:
            why_not = self._why_not_auto_answer(session, received)
            if why_not is None:
                held = self._auto_answer(session, ticket, best, now)
            else:
                add_event(session, ticket_id=ticket.id, kind="faq.auto_answer_skipped",
                          actor="knowledge", data={"entry": best.entry_id, "why": why_not},
                          created_at=now)
        # The whole history is in hand: created now, perhaps held pending since now.
        history = [EventRecord("ticket.created", {}, ticket.created_at)]
        if held:
            history.append(EventRecord("ticket.status", {"to": TicketStatus.PENDING}, now))
        self.flow.sla.refresh(session, ticket, now,
                              timeline=timeline_from_events(ticket.created_at, history))
        self.flow.emit(session, "ticket.created", ticket, now,
                       {"rule": decision.rule, "queue": decision.queue})
        if not held and self.assigner is not None:
            self.assigner.poke()

    def _why_not_auto_answer(self, session: Session, received: Received) -> str | None:
        inquiry, ticket = received.inquiry, received.ticket
        if not self.config.enabled:
            return SWITCHED_OFF
        if inquiry.channel == Channel.PHONE:
            return PHONE_CALLS_BACK
        if inquiry.channel not in self.config.channels:
            return f"automatic answers are off for {inquiry.channel}"
        if inquiry.automated:
            return "the message is an automatic reply or bulk mail"
        if ticket.auto_answer_entry is not None:
            return "the ticket already had an automatic answer"
        if inquiry.channel == Channel.EMAIL:
            since = received.now - timedelta(days=1)
            sent = policy_sql.auto_answers_since(session, received.contact_id, since,
                                                 ticket=ticket)
            if sent >= self.config.email_per_address_per_day:
                return (f"this address had {sent} automatic answers in a day "
                        f"(limit {self.config.email_per_address_per_day})")
        return None

    def _auto_answer(self, session: Session, ticket: Ticket, best: Suggestion,
                     now: datetime) -> bool:
        try:
            recipient = recipient_for(session, ticket)
        except NoRecipient as exc:
            add_event(session, ticket_id=ticket.id, kind="faq.auto_answer_skipped",
                      actor="knowledge", data={"entry": best.entry_id, "why": str(exc)},
                      created_at=now)
            return False
        number = ticket.number
        yes, no = Answer("faq", "yes", number), Answer("faq", "no", number)
        if recipient.channel in CHAT_CHANNELS:
            buttons = [ReplyButton(YES_LABEL, yes.data), ReplyButton(NO_LABEL, no.data)]
        else:
            buttons = [ReplyButton(YES_LABEL, yes.data, self.links.url(yes, now)),
                       ReplyButton(NO_LABEL, no.data, self.links.url(no, now))]
        text = f"{best.answer.strip()}\n\n{self.config.question}"
        message = queue_reply(session, ticket, text, now=now, author_kind=AuthorKind.BOT,
                              recipient=recipient, buttons=buttons,
                              mail_domain=self.mail_domain,
                              meta={"faq_entry": best.entry_id, "auto_answer": True})
        hold = self.config.hold_minutes.get(recipient.channel, self.config.default_hold_minutes)
        ticket.auto_answer_entry = best.entry_id
        self.flow.set_status(session, ticket, TicketStatus.PENDING, now=now, actor="knowledge",
                             why="waiting for the resident to say whether the FAQ answer "
                                 "helped", refresh_sla=False)  # the caller refreshes
        ticket.awaiting_until = now + timedelta(minutes=hold)
        add_event(session, ticket_id=ticket.id, kind="faq.auto_answered", actor="bot",
                  data={**suggestion_data(best), "message_id": message.id,
                        "channel": recipient.channel,
                        "awaiting_until": ticket.awaiting_until.isoformat()},
                  created_at=now)
        return True

    # -- the resident's answer ------------------------------------------------

    def _button(self, session: Session, received: Received, answer: Answer) -> bool:
        """A button press: apply it to the ticket it names, if it is the resident's."""
        ticket_id = parse_number(answer.ticket)
        target = session.get(Ticket, ticket_id) if ticket_id else None
        if target is None or target.contact_id != received.contact_id:
            return False  # not a real answer of theirs: treat it as a message
        if received.created and target.id != received.ticket.id:
            # The press arrived as a conversation of its own: close that shell.
            self.flow.set_status(session, received.ticket, TicketStatus.RESOLVED,
                                 now=received.now, actor="intake", survey=False,
                                 why=f"a button press answering {answer.ticket}")
        if received.reopened and target.id == received.ticket.id:
            # Rating a resolved ticket is not a new question: intake reopened it.
            self.flow.set_status(session, target, TicketStatus.RESOLVED, now=received.now,
                                 actor="intake", survey=False,
                                 why="the resident pressed a button, not a new question")
        self.apply(session, target, answer, now=received.now, via=received.inquiry.channel)
        return True

    def apply(self, session: Session, ticket: Ticket, answer: Answer, *, now: datetime,
              via: str) -> FeedbackResult:
        """Apply a yes/no or a rating from a button or a signed link."""
        number = ticket.number
        if answer.kind == "csat":
            self.flow.record_rating(session, ticket, int(answer.value), now=now, via=via)
            return FeedbackResult(number, "recorded")
        entry = ticket.auto_answer_entry
        if entry is None:
            return FeedbackResult(number, "ignored")
        helpful = answer.value == "yes"
        already = session.exec(select(Event.data).where(
            Event.ticket_id == ticket.id, Event.kind == "faq.feedback")).all()
        if any(d.get("helpful") == helpful for d in already):
            return FeedbackResult(number, "ignored")  # a second press of the same button
        session.add(Event(ticket_id=ticket.id, kind="faq.feedback", actor="resident",
                          data={"entry": entry, "helpful": helpful, "via": via},
                          created_at=now))
        untouched = ticket.first_response_at is None and ticket.assignee_id is None
        if helpful and ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED) \
                and (ticket.awaiting_until is not None or untouched):
            ticket.answered_by_faq = True
            ticket.awaiting_until = None
            self.flow.set_status(session, ticket, TicketStatus.RESOLVED, now=now,
                                 actor="resident", survey=False,
                                 why=f"the resident said the FAQ answer {entry!r} helped")
            return FeedbackResult(number, "resolved")
        if not helpful and ticket.awaiting_until is not None:
            self.release(session, ticket, now=now,
                         why="the resident said the FAQ answer did not help")
            return FeedbackResult(number, "handed_over")
        if not helpful and ticket.answered_by_faq:
            ticket.answered_by_faq = False  # changed their mind: no longer counted as solved
        return FeedbackResult(number, "recorded")

    def apply_link(self, store: Store, token: str, now: datetime) -> FeedbackResult:
        """Apply a signed email link; raises :class:`BadLink` when it is not valid."""
        answer = self.links.verify(token, now)
        ticket_id = parse_number(answer.ticket)
        if ticket_id is None:
            raise BadLink("this link is not one of ours")

        def work(session: Session) -> FeedbackResult:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise BadLink("this ticket no longer exists")
            return self.apply(session, ticket, answer, now=now, via="link")

        return store.write_retrying(work)

    # -- handing over ---------------------------------------------------------

    def release(self, session: Session, ticket: Ticket, *, now: datetime, why: str) -> None:
        """Stop waiting on the resident and hand the ticket to a consultant,
        with the automatic answer attached."""
        ticket.awaiting_until = None
        if ticket.status == TicketStatus.PENDING:
            to = TicketStatus.NEW if ticket.first_response_at is None else TicketStatus.OPEN
            self.flow.set_status(session, ticket, to, now=now, actor="knowledge", why=why)
        else:
            self.flow.sla.refresh(session, ticket, now)
        assert ticket.id is not None
        suggested = policy_sql.last_event_data(session, ticket.id, "faq.auto_answered")
        add_event(session, ticket_id=ticket.id, kind="faq.handover", actor="knowledge",
                  data={"why": why, "entry": ticket.auto_answer_entry,
                        "suggestion": suggested or {}}, created_at=now)
        if self.assigner is not None:
            self.assigner.poke()

    def release_expired(self, store: Store, now: datetime, *, limit: int = 200) -> int:
        """Hand over the tickets whose hold ran out; returns how many."""

        def work(session: Session) -> int:
            query = (select(Ticket).where(col(Ticket.awaiting_until) <= now,
                                          Ticket.status == TicketStatus.PENDING)
                     .order_by(col(Ticket.awaiting_until)).limit(limit))
            if store.is_postgres:
                query = query.with_for_update(skip_locked=True)
            expired: Sequence[Ticket] = session.exec(query).all()
            for ticket in expired:
                self.release(session, ticket, now=now,
                             why="the resident did not answer within the hold time")
            return len(expired)

        return store.write_retrying(work)
