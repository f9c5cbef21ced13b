"""Delivery status notifications (RFC 3464): which of our messages bounced, and why."""

from __future__ import annotations

from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from typing import Any

from .ids import normalise_message_id
from .text import clean_str, decode_bytes

__all__ = ["is_delivery_report", "parse_delivery_report"]


def is_delivery_report(message: Message) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type", "")).lower() == "delivery-status"
    )


def _field(block: Message, name: str) -> str | None:
    try:
        value = block.get(name)
    except Exception:  # a malformed field is as good as a missing one
        return None
    if value is None:
        return None
    text = clean_str(" ".join(str(value).split()))
    return text or None


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # Some servers send the status as text/plain-ish bytes; parse it as header blocks.
    raw = part.get_payload(decode=True)
    text = decode_bytes(raw)[0] if isinstance(raw, bytes) else str(payload)
    return [HeaderParser(policy=compat32).parsestr(chunk) for chunk in text.split("\n\n") if chunk]


def _original_headers(part: Message) -> Message | None:
    content_type = part.get_content_type()
    if content_type == "message/rfc822":
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        return None
    if content_type == "text/rfc822-headers":
        raw = part.get_payload(decode=True)
        text = decode_bytes(raw)[0] if isinstance(raw, bytes) else str(part.get_payload())
        return HeaderParser(policy=compat32).parsestr(text)
    return None


def parse_delivery_report(message: Message) -> dict[str, Any] | None:
    """What a DSN says: {original_message_id, status, action, reason, recipient}.

    None when ``message`` is not a delivery report. Values a report leaves out
    are None; the core marks the outbox item with ``original_message_id`` failed
    only when ``action`` is "failed".
    """
    if not is_delivery_report(message):
        return None
    result: dict[str, Any] = {
        "original_message_id": None,
        "action": None,
        "status": None,
        "reason": None,
        "recipient": None,
    }
    parts = message.get_payload()
    if not isinstance(parts, list):
        return result
    for part in parts:
        if not isinstance(part, Message):
            continue
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            for block in _status_blocks(part):
                # The first failed recipient decides; per-message fields come first.
                action = _field(block, "Action")
                if action and result["action"] not in ("failed",):
                    result["action"] = action.lower()
                for key, name in (("status", "Status"), ("reason", "Diagnostic-Code")):
                    value = _field(block, name)
                    if value and not result[key]:
                        result[key] = value
                recipient = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
                if recipient and not result["recipient"]:
                    result["recipient"] = recipient.split(";", 1)[-1].strip()
        else:
            headers = _original_headers(part)
            if headers is not None and not result["original_message_id"]:
                result["original_message_id"] = normalise_message_id(_field(headers, "Message-ID"))
    reason = result["reason"]
    if isinstance(reason, str) and ";" in reason:
        # "smtp; 550 5.1.1 User unknown": the type prefix means nothing to a consultant.
        kind, _, rest = reason.partition(";")
        if kind.strip().lower() in ("smtp", "x-postfix", "x-unix", "x-local"):
            result["reason"] = rest.strip() or reason
    if not result["reason"] and result["status"]:
        result["reason"] = f"status {result['status']}"
    return result
