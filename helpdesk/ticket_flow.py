"""What follows a ticket's status changes and replies: the SLA clock, the
satisfaction survey after resolution, and webhooks.

The consultant pages call :meth:`TicketFlow.set_status` and
:meth:`TicketFlow.after_reply` so that every change is an event and the SLA
columns stay current; the answer-first policy uses the same calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from channels.base import Channel, ReplyButton
from helpdesk.config import SatisfactionConfig
from helpdesk.models import AuthorKind, Ticket, TicketStatus
from helpdesk.outbox import NoRecipient, queue_reply, recipient_for
from helpdesk.policy_sql import add_event
from helpdesk.reports_summary import record_durations
from helpdesk.signed_links import Answer, LinkSigner
from helpdesk.sla import SlaClock
from helpdesk.webhooks import Webhooks

CHAT_CHANNELS = (Channel.TELEGRAM, Channel.WEBCHAT)
RATING_LABELS = {1: "1 Sangat kurang", 2: "2 Kurang", 3: "3 Cukup", 4: "4 Baik",
                 5: "5 Sangat baik"}


class TicketFlow:
    def __init__(self, sla: SlaClock, *, satisfaction: SatisfactionConfig, links: LinkSigner,
                 webhooks: Webhooks | None = None, mail_domain: str = "ptsp.localhost") -> None:
        self.sla = sla
        self.satisfaction = satisfaction
        self.links = links
        self.webhooks = webhooks or Webhooks(())
        self.mail_domain = mail_domain

    def emit(self, session: Session, kind: str, ticket: Ticket, now: datetime,
             data: dict[str, Any] | None = None) -> None:
        self.webhooks.emit(session, kind, ticket, now, data)

    def set_status(self, session: Session, ticket: Ticket, to: TicketStatus, *, now: datetime,
                   actor: str = "consultant", actor_user_id: int | None = None, why: str = "",
                   survey: bool = True, refresh_sla: bool = True) -> bool:
        """Change the status as an event; returns False when it already was ``to``."""
        previous = ticket.status
        if previous == to:
            return False
        ticket.status = to
        ticket.updated_at = now
        if to == TicketStatus.RESOLVED:
            ticket.resolved_at = now
        elif to == TicketStatus.CLOSED:
            ticket.closed_at = now
            ticket.resolved_at = ticket.resolved_at or now
        else:
            ticket.resolved_at = None
            ticket.closed_at = None
        if to != TicketStatus.PENDING:
            ticket.awaiting_until = None
        data: dict[str, Any] = {"from": previous, "to": str(to)}
        if why:
            data["why"] = why
        add_event(session, ticket_id=ticket.id, kind="ticket.status", actor=actor,
                  actor_user_id=actor_user_id, data=data, created_at=now)
        if refresh_sla:
            self.sla.refresh(session, ticket, now)
        if to in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            # Reports read durations from the ticket row, never by replaying events.
            record_durations(session, ticket, self.sla.calendar)
        if to == TicketStatus.RESOLVED:
            self.emit(session, "ticket.resolved", ticket, now,
                      {"answered_by_faq": ticket.answered_by_faq, "why": why})
            if survey:
                self.ask_satisfaction(session, ticket, now)
        return True

    def after_reply(self, session: Session, ticket: Ticket, *, now: datetime,
                    by_user_id: int | None, message_id: int | None = None) -> None:
        """A consultant answered the resident (a message queued through the outbox)."""
        first = ticket.first_response_at is None
        if first:
            ticket.first_response_at = now
        if ticket.status == TicketStatus.NEW:
            self.set_status(session, ticket, TicketStatus.OPEN, now=now,
                            actor_user_id=by_user_id, why="a consultant replied")
        else:
            self.sla.refresh(session, ticket, now)
        if first:
            record_durations(session, ticket, self.sla.calendar)
        self.emit(session, "ticket.replied", ticket, now,
                  {"message_id": message_id, "by_user_id": by_user_id})

    # -- satisfaction ---------------------------------------------------------

    def ask_satisfaction(self, session: Session, ticket: Ticket, now: datetime) -> bool:
        """Ask for a 1-5 rating on the resident's channel; False when not asked."""
        config = self.satisfaction
        if not config.enabled or ticket.channel not in config.channels:
            return False
        if ticket.answered_by_faq or ticket.satisfaction is not None:
            return False  # they just told us the answer helped, or rated already
        try:
            recipient = recipient_for(session, ticket)
        except NoRecipient as exc:
            add_event(session, ticket_id=ticket.id, kind="satisfaction.skipped",
                      actor="system", data={"why": str(exc)}, created_at=now)
            return False
        number = ticket.number
        answers = [Answer("csat", str(n), number) for n in range(1, 6)]
        if recipient.channel in CHAT_CHANNELS:
            buttons = [ReplyButton(RATING_LABELS[n + 1], a.data) for n, a in enumerate(answers)]
        else:
            buttons = [ReplyButton(RATING_LABELS[n + 1], a.data, self.links.url(a, now))
                       for n, a in enumerate(answers)]
        message = queue_reply(session, ticket, config.question, now=now,
                              author_kind=AuthorKind.BOT, recipient=recipient, buttons=buttons,
                              mail_domain=self.mail_domain, meta={"survey": "satisfaction"})
        add_event(session, ticket_id=ticket.id, kind="satisfaction.asked", actor="system",
                  data={"message_id": message.id}, created_at=now)
        return True

    def record_rating(self, session: Session, ticket: Ticket, rating: int, *, now: datetime,
                      via: str) -> None:
        if not 1 <= rating <= 5:
            raise ValueError("a rating is 1 to 5")
        previous = ticket.satisfaction
        ticket.satisfaction = rating
        ticket.updated_at = now
        add_event(session, ticket_id=ticket.id, kind="satisfaction.rated", actor="resident",
                  data={"rating": rating, "previous": previous, "via": via}, created_at=now)
