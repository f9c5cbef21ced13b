"""IMAP wire syntax the poller needs and aioimaplib leaves to its caller."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FetchedMessage", "mailbox_arg", "parse_fetch", "uid_set", "uidvalidity"]

UIDVALIDITY_RE = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_FETCH_START = re.compile(rb"^\d+ FETCH \(")
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_FLAGS = re.compile(rb"FLAGS \(([^)]*)\)")


def uid_set(uids: Sequence[int]) -> str:
    """IMAP sequence set for ``uids``: [1, 2, 3, 7] -> "1:3,7"."""
    ordered = sorted(set(uids))
    if not ordered:
        raise ValueError("empty UID set")
    ranges: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        ranges.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    ranges.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(ranges)


def mailbox_arg(name: str) -> str:
    """A mailbox name as an IMAP string argument (quoted when it must be)."""
    if re.fullmatch(r"[A-Za-z0-9._/\-]+", name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes
    flags: tuple[str, ...]


def parse_fetch(lines: Sequence[Any]) -> list[FetchedMessage]:
    """Messages in an aioimaplib FETCH response: header line, literal, closing line."""
    found: list[FetchedMessage] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if isinstance(line, bytes) and _FETCH_START.match(line):
            literal = lines[index + 1] if index + 1 < len(lines) else None
            if isinstance(literal, bytearray):
                tail = lines[index + 2] if index + 2 < len(lines) else b""
                tail = tail if isinstance(tail, bytes) else b""
                # UID and FLAGS may come before or after the literal.
                uid = _FETCH_UID.search(line) or _FETCH_UID.search(tail)
                flags = _FETCH_FLAGS.search(line) or _FETCH_FLAGS.search(tail)
                if uid:
                    found.append(
                        FetchedMessage(
                            uid=int(uid.group(1)),
                            raw=bytes(literal),
                            flags=tuple(flags.group(1).decode().split()) if flags else (),
                        )
                    )
                index += 2
                continue
        index += 1
    return found


def uidvalidity(lines: Sequence[Any]) -> int | None:
    """UIDVALIDITY from a SELECT response."""
    for line in lines:
        match = UIDVALIDITY_RE.search(line) if isinstance(line, bytes) else None
        if match:
            return int(match.group(1))
    return None
