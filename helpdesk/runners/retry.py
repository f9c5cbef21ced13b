"""Retrying held input: the channel's own parser runs again on the item's raw
bytes (after a parser fix, say) and, when it now yields an inquiry, intake
stores it and the item is marked retried. Otherwise the item stays held with the
reason it still fails.

This lives beside the wiring because it needs the concrete parsers; the core
only knows the quarantine table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from channels.base import Inquiry, InvalidInput
from channels.email.parse import parse_email
from helpdesk.bootstrap import Services
from helpdesk.intake import RejectedInquiry
from helpdesk.models import QuarantineItem, QuarantineState
from helpdesk.runners.email import record_bounce

__all__ = ["PARSERS", "NoSuchItem", "RetryResult", "StillHeld", "install", "retry_quarantined"]

Parser = Callable[[Services, QuarantineItem], Inquiry]


def _parse_email(services: Services, item: QuarantineItem) -> Inquiry:
    return parse_email(item.raw, now=services.clock(),
                       max_attachment_bytes=services.config.tickets.attachment_max_bytes,
                       raw_ref=item.source_ref)


# Channels whose held input can be parsed again from the raw bytes alone.
PARSERS: dict[str, Parser] = {"email": _parse_email}


class NoSuchItem(LookupError):
    """No quarantine item has this id."""


class StillHeld(Exception):
    """The retry did not store the item; ``reason`` says why (for the admin page)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RetryResult:
    item_id: int
    stored: bool
    reason: str
    ticket_number: str | None = None
    message_id: int | None = None
    duplicate: bool = False


async def retry_quarantined(services: Services, item_id: int) -> RetryResult:
    """Parse item ``item_id`` again and store it through intake if it now parses.

    Idempotent: a second retry, or one racing the poller, finds the stored
    message as a duplicate instead of storing it twice.
    """
    item = await services.store.run(services.quarantine.get, item_id)
    if item is None:
        raise NoSuchItem(f"no quarantine item {item_id}")
    if item.state != QuarantineState.HELD:
        return RetryResult(item_id, False, f"the item is {item.state}, not held")
    parser = PARSERS.get(item.channel)
    if parser is None:
        return RetryResult(item_id, False, f"{item.channel} input cannot be parsed again "
                                           "from its raw bytes; it stays held")
    try:
        inquiry = parser(services, item)
    except InvalidInput as exc:
        return await _still_held(services, item_id, exc.reason)
    except Exception as exc:  # a parser bug: report it, keep the item
        return await _still_held(services, item_id,
                                 f"could not parse: {type(exc).__name__}: {exc}")
    try:
        outcome = await services.intake(inquiry)
    except RejectedInquiry as exc:
        return await _still_held(services, item_id, f"rejected by intake: {exc}")
    bounce: Any = inquiry.meta.get("bounce")
    if isinstance(bounce, dict) and not outcome.duplicate:
        await services.store.run(record_bounce, services, bounce)
    await services.store.run(services.quarantine.mark, item_id, QuarantineState.RETRIED)
    services.dispatcher.wakeup.set()
    what = "was already stored" if outcome.duplicate else "stored"
    return RetryResult(item_id, True, f"{what} on ticket {outcome.ticket_number}",
                       ticket_number=outcome.ticket_number, message_id=outcome.message_id,
                       duplicate=outcome.duplicate)


async def _still_held(services: Services, item_id: int, reason: str) -> RetryResult:
    # The reason shown from now on is today's, not the one from the first attempt.
    await services.store.run(services.quarantine.mark, item_id, QuarantineState.HELD, reason)
    return RetryResult(item_id, False, reason)


def install(services: Services) -> None:
    """Offer retries to the admin pages (``services.retry_quarantined(item_id)``),
    which show the exception's text when an item stays held."""

    async def hook(item_id: int) -> RetryResult:
        result = await retry_quarantined(services, item_id)
        if not result.stored:
            raise StillHeld(result.reason)
        return result

    setattr(services, "retry_quarantined", hook)  # noqa: B010 - not a field of Services
