"""The phone channel: call logs exported by the call center's phone system.

Residents call 1500164; the phone system (Asterisk, or another that exports CSV)
logs every call. This channel reads those logs (:func:`read_call_log`,
:func:`iter_asterisk_cdr`, :func:`iter_generic_csv`) into :class:`CallRecord`
rows, or :class:`RowError` for rows it cannot read, and turns each call into an
inquiry (:func:`call_to_inquiry`). Acknowledging a row is the core's business:
it stores the inquiry, and the inquiry's external id (the call's uniqueid, else a
hash of the row) makes a re-import add nothing.
"""

from __future__ import annotations

from channels.phone_convert import call_to_inquiry, format_duration, normalise_phone
from channels.phone_csv import (
    ASTERISK_COLUMNS,
    GENERIC_FIELDS,
    iter_asterisk_cdr,
    iter_generic_csv,
    open_call_log,
    read_call_log,
)
from channels.phone_records import CallLogFormatError, CallRecord, Direction, Disposition, RowError

__all__ = [
    "ASTERISK_COLUMNS",
    "GENERIC_FIELDS",
    "CallLogFormatError",
    "CallRecord",
    "Direction",
    "Disposition",
    "RowError",
    "call_to_inquiry",
    "format_duration",
    "iter_asterisk_cdr",
    "iter_generic_csv",
    "normalise_phone",
    "open_call_log",
    "read_call_log",
]
