"""Resident-facing ticket numbers such as ``PTSP-000123``, derived from the id."""

from __future__ import annotations

import re

PREFIX = "PTSP"
_PATTERN = re.compile(r"^\s*([A-Za-z]+)-(\d{1,12})\s*$")


def format_number(ticket_id: int, prefix: str = PREFIX) -> str:
    return f"{prefix}-{ticket_id:06d}"


def parse_number(text: str, prefix: str = PREFIX) -> int | None:
    """The ticket id in ``text``, or None when it is not one of our numbers."""
    match = _PATTERN.match(text)
    if match is None or match.group(1).upper() != prefix.upper():
        return None
    value = int(match.group(2))
    return value if value > 0 else None
