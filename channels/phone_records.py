"""What one row of a phone system's call log says, once read."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["CallLogFormatError", "CallRecord", "Direction", "Disposition", "RowError"]


class Disposition(enum.StrEnum):
    """How the call ended, in Asterisk's words."""

    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO ANSWER"
    BUSY = "BUSY"
    FAILED = "FAILED"
    CONGESTION = "CONGESTION"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    # Between two extensions of the call center: no resident on the line.
    INTERNAL = "internal"


class CallLogFormatError(ValueError):
    """The file as a whole is not in the expected format (a header or mapping problem)."""


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call. Times are aware UTC; numbers are as the phone system wrote them."""

    line: int
    caller: str
    called: str
    start: datetime
    answer: datetime | None
    end: datetime | None
    duration: int
    billsec: int
    disposition: Disposition
    direction: Direction
    # The consultant's extension: who answered an inbound call or placed an outbound one.
    extension: str | None
    notes: str | None
    uniqueid: str | None
    # sha256 of the normalised row: the identity of a call when there is no uniqueid.
    row_hash: str
    caller_name: str | None = None

    @property
    def call_id(self) -> str:
        return self.uniqueid or self.row_hash

    @property
    def answered(self) -> bool:
        return self.disposition is Disposition.ANSWERED

    @property
    def resident_number(self) -> str:
        """The number at the resident's end of the line."""
        return self.called if self.direction is Direction.OUTBOUND else self.caller

    @property
    def callback_needed(self) -> bool:
        """An inbound call nobody answered: the call center owes the resident a call."""
        return self.direction is Direction.INBOUND and not self.answered


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read; the rest of the file goes on."""

    line: int
    reason: str
    # The row as it stood in the file, to keep in quarantine.
    raw: str = ""
