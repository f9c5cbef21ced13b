"""The one place that builds the help desk's parts from the configuration.

Everything else receives its dependencies as arguments, so tests pass their
own. Concrete channel adapters are built here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.routing import BaseRoute

from channels.base import InboundAdapter, OutboundAdapter
from channels.webchat import WebchatSender
from helpdesk.attachments import AttachmentFiles
from helpdesk.call_batch import CallBatch
from helpdesk.channel_state import ChannelStates, Quarantine
from helpdesk.config import Config
from helpdesk.decisions import Decisions, build_decisions
from helpdesk.intake import Intake, TicketPolicy
from helpdesk.knowledge import KnowledgeService
from helpdesk.models import utcnow
from helpdesk.outbox import Dispatcher
from helpdesk.store import Store
from helpdesk.web.chat_hub import ChatHub

log = logging.getLogger(__name__)


@dataclass
class Services:
    config: Config
    store: Store
    files: AttachmentFiles
    intake: Intake
    dispatcher: Dispatcher
    channel_states: ChannelStates
    quarantine: Quarantine
    knowledge: KnowledgeService
    clock: Callable[[], datetime]
    # Answer first, routing, SLA, assignment (helpdesk.decisions).
    decisions: Decisions
    # Phone calls, many at a time (call logs) or one logged by hand.
    calls: CallBatch
    runners: list[InboundAdapter] = field(default_factory=list)
    # Routes that channels add (a webhook), and what to close at shutdown.
    routes: list[BaseRoute] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Open web chat windows in this process; the web chat sender rings them.
    chat_hub: ChatHub = field(default_factory=ChatHub)

    @property
    def mail_domain(self) -> str:
        address = self.config.channels.smtp.from_address
        return address.rsplit("@", 1)[-1] if "@" in address else "ptsp.localhost"

    def close(self) -> None:
        self.store.dispose()


def build_services(config: Config, *, clock: Callable[[], datetime] = utcnow,
                   store: Store | None = None, policy: TicketPolicy | None = None,
                   adapters: dict[str, OutboundAdapter] | None = None) -> Services:
    store = store or Store(config.database_url, echo=config.database.echo,
                           pool_size=config.database.pool_size)
    files = AttachmentFiles(config.data_path / "attachments")
    knowledge = KnowledgeService(store, config.knowledge_base, clock)
    from helpdesk.web.auth import secret_key  # the web package imports this module

    smtp_from = config.channels.smtp.from_address
    decisions = build_decisions(
        config, store, knowledge, secret=secret_key(config),
        mail_domain=smtp_from.rsplit("@", 1)[-1] if "@" in smtp_from else "ptsp.localhost")
    intake = Intake(store, files, reopen_days=config.tickets.reopen_days,
                    policy=policy or decisions.policy, clock=clock)
    dispatcher = Dispatcher(store, adapters or {}, config.outbox, clock=clock)
    services = Services(config=config, store=store, files=files, intake=intake,
                    dispatcher=dispatcher, channel_states=ChannelStates(store, clock),
                    quarantine=Quarantine(store, clock), knowledge=knowledge,
                    clock=clock, decisions=decisions, calls=CallBatch(
                        store, knowledge=knowledge, router=decisions.router, sla=decisions.sla,
                        webhooks=decisions.webhooks,
                        auto_answers_enabled=config.auto_answer.enabled,
                        callback_queue=config.channels.phone.callback_queue,
                        reopen_days=config.tickets.reopen_days, assigner=decisions.assigner,
                        clock=clock))
    if config.channels.webchat.enabled and "webchat" not in dispatcher.adapters:
        dispatcher.register("webchat", WebchatSender(services.chat_hub.announce))
    return services
