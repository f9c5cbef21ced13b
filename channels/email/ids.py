"""Message-IDs and ticket tags: the threading vocabulary shared by parsing and composing."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

__all__ = [
    "TICKET_TAG",
    "derived_message_id",
    "find_ticket_number",
    "make_message_id",
    "normalise_message_id",
    "split_message_ids",
    "ticket_tag",
]

TICKET_TAG = re.compile(r"\bPTSP-\d{6,}\b", re.IGNORECASE)
_ANGLE_IDS = re.compile(r"<([^<>\s]+)>")


def normalise_message_id(value: str | None) -> str | None:
    """``<abc@host>`` -> ``abc@host``; None when there is no usable id."""
    if not value:
        return None
    value = value.strip()
    match = _ANGLE_IDS.search(value)
    if match:
        return match.group(1)
    # Some clients drop the angle brackets; take the first token that looks like an id.
    token = value.split()[0].strip("<>")
    return token or None


def split_message_ids(value: str | None) -> list[str]:
    """All ids in an In-Reply-To or References header, in header order."""
    if not value:
        return []
    found = _ANGLE_IDS.findall(value)
    if found:
        return found
    return [token.strip("<>,") for token in value.split() if "@" in token]


def derived_message_id(raw: bytes) -> str:
    """A stable id for mail without Message-ID: the same bytes give the same id."""
    return f"sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id.invalid"


def make_message_id(domain: str) -> str:
    """A new, globally unique Message-ID (without angle brackets) for our own mail."""
    domain = domain.strip().lstrip("@") or "localhost"
    stamp = format(time.time_ns() // 1_000_000, "x")
    return f"tanya.{stamp}.{secrets.token_hex(8)}@{domain}"


def find_ticket_number(subject: str | None) -> str | None:
    """The ticket number a resident's subject quotes (``[PTSP-000123]``), upper-cased."""
    if not subject:
        return None
    match = TICKET_TAG.search(subject)
    return match.group(0).upper() if match else None


def ticket_tag(ticket_number: str) -> str:
    return f"[{ticket_number}]"
