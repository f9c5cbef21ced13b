"""Email wiring: one IMAP poller per configured mailbox into intake, the SMTP
sender for the outbox, and bounces of our replies marking them failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from channels.base import Channel, Inquiry, ReceiveOutcome
from channels.email.imap import ImapPoller
from channels.email.smtp import SmtpSender
from helpdesk.bootstrap import Services
from helpdesk.models import Direction, Message, OutboxItem
from helpdesk.outbox import fail_by_reference
from helpdesk.runners.leader import Exclusive


def build_email(services: Services) -> tuple[list[Exclusive], SmtpSender | None]:
    config = services.config
    runners: list[Exclusive] = []

    async def sink(inquiry: Inquiry) -> ReceiveOutcome:
        outcome = await services.intake(inquiry)
        bounce = inquiry.meta.get("bounce")
        if isinstance(bounce, dict) and not outcome.duplicate:
            await services.store.run(record_bounce, services, bounce)
        services.dispatcher.wakeup.set()
        return outcome

    for mailbox in config.channels.email:
        if not mailbox.enabled or mailbox.password is None:
            continue
        poller = ImapPoller(
            name=f"email:{mailbox.name}", host=mailbox.host, port=mailbox.port,
            username=mailbox.username, password=mailbox.password, sink=sink,
            quarantine=services.quarantine, health=services.channel_states.health,
            cursor=services.channel_states.cursor(f"email:{mailbox.name}"),
            security=mailbox.security, folder=mailbox.folder,
            poll_interval=mailbox.poll_interval_seconds,
            processed_folder=mailbox.processed_folder or None,
            max_attachment_bytes=config.tickets.attachment_max_bytes)
        runners.append(Exclusive(poller, services.store, config.data_path / "locks",
                                 f"email:{mailbox.name}"))
    smtp = config.channels.smtp
    sender = None
    if smtp.enabled:
        sender = SmtpSender(host=smtp.host, port=smtp.port, from_address=smtp.from_address,
                            from_name=smtp.from_name, security=smtp.security,
                            username=smtp.username or None, password=smtp.password,
                            timeout=smtp.timeout_seconds)
    return runners, sender


def record_bounce(services: Services, bounce: dict[str, Any]) -> bool:
    """A delivery failure of one of our replies marks its outbox item failed,
    with the reason the mail server gave, shown on the ticket."""
    original = str(bounce.get("original_message_id") or "").strip("<> ")
    if bounce.get("action") != "failed" or not original:
        return False
    reason = "; ".join(str(bounce[k]) for k in ("status", "reason", "recipient")
                       if bounce.get(k))
    now: datetime = services.clock()

    def work(session: Session) -> bool:
        item_id = session.exec(
            select(OutboxItem.id).join(Message, col(Message.id) == OutboxItem.message_id)
            .where(Message.channel == Channel.EMAIL, Message.direction == Direction.OUT,
                   Message.external_id == original)).first()
        reference = f"reply-item:{item_id}" if item_id is not None else original
        if item_id is not None:
            item = session.get_one(OutboxItem, item_id)
            reference = item.idempotency_key
        return fail_by_reference(session, reference, f"bounced: {reason or 'undeliverable'}",
                                 now=now) is not None

    return services.store.write_retrying(work)
