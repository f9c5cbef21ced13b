"""The decision path between intake and the consultant, assembled from the
configuration: business calendar, SLA clock, router, assigner, answer-first
policy, and the periodic work they need while the app serves."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from helpdesk.answer_first import AnswerFirstPolicy, Suggester
from helpdesk.assignment import Assigner
from helpdesk.business_calendar import BusinessCalendar
from helpdesk.config import Config
from helpdesk.reports_rollup import refresh_store
from helpdesk.routing import Router
from helpdesk.signed_links import LinkSigner
from helpdesk.sla import SlaClock
from helpdesk.store import Store
from helpdesk.ticket_flow import TicketFlow
from helpdesk.webhooks import Webhooks

log = logging.getLogger(__name__)

REPORT_REFRESH_SECONDS = 60.0


@dataclass
class Decisions:
    calendar: BusinessCalendar
    sla: SlaClock
    router: Router
    assigner: Assigner
    flow: TicketFlow
    policy: AnswerFirstPolicy
    links: LinkSigner
    webhooks: Webhooks
    store: Store
    config: Config

    def background(self, clock: Callable[[], datetime]) -> list[Coroutine[Any, Any, None]]:
        """The loops ``serve`` runs beside the outbox dispatcher."""
        loops: list[Coroutine[Any, Any, None]] = [
            _every(self.config.auto_answer.sweep_interval_seconds, "hold expiry",
                   lambda: self.policy.release_expired(self.store, clock())),
            _every(self.config.sla.sweep_interval_seconds, "SLA sweep",
                   lambda: self.sla.sweep(self.store, clock())),
            # Keeps the supervisors' summary rows current, so opening the
            # dashboard rarely has a changed day to recompute first.
            _every(REPORT_REFRESH_SECONDS, "report summary refresh",
                   lambda: refresh_store(self.store)),
        ]
        if self.config.assignment.enabled:
            loops.append(self.assigner.run(clock))
        return loops


async def _every(seconds: float, name: str, work: Callable[[], int]) -> None:
    while True:
        try:
            await asyncio.to_thread(work)
        except Exception:  # one failed sweep must not end the loop
            log.exception("%s failed; trying again in %s s", name, seconds)
        await asyncio.sleep(seconds)


def build_decisions(config: Config, store: Store, knowledge: Suggester, *, secret: str,
                    mail_domain: str) -> Decisions:
    calendar = BusinessCalendar(config.business_hours, config.app.timezone)
    webhooks = Webhooks(config.webhooks)

    def breached(session: Any, ticket: Any, target: str, now: datetime) -> None:
        webhooks.emit(session, "ticket.breached", ticket, now, {"target": target})

    sla = SlaClock(calendar, config.sla, on_breach=breached)
    links = LinkSigner(secret, config.app.base_url)
    flow = TicketFlow(sla, satisfaction=config.satisfaction, links=links, webhooks=webhooks,
                      mail_domain=mail_domain)

    def assigned(session: Any, ticket_id: int, user_id: int, now: datetime) -> None:
        if webhooks:
            from helpdesk.models import Ticket

            webhooks.emit(session, "ticket.assigned", session.get_one(Ticket, ticket_id), now,
                          {"assignee_id": user_id})

    assigner = Assigner(store, config.assignment, on_assigned=assigned)
    router = Router(config.routing.rules, config.tickets.default_queue)
    policy = AnswerFirstPolicy(knowledge=knowledge, router=router, flow=flow,
                               config=config.auto_answer, links=links, mail_domain=mail_domain,
                               assigner=assigner)
    calendar.holidays_in(datetime.now().year)  # built once here rather than on a request
    return Decisions(calendar=calendar, sla=sla, router=router, assigner=assigner, flow=flow,
                     policy=policy, links=links, webhooks=webhooks, store=store, config=config)
