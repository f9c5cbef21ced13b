"""Calls into inquiries, and phone numbers into E.164."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from channels.base import Channel, Identity, IdentityKind, Inquiry, InvalidInput, ThreadHints
from channels.phone_records import CallRecord, Direction, Disposition

__all__ = ["call_to_inquiry", "format_duration", "normalise_phone"]

_UNANSWERED = {
    Disposition.NO_ANSWER: "tak terjawab",
    Disposition.BUSY: "tak tersambung karena saluran sibuk",
    Disposition.FAILED: "gagal tersambung",
    Disposition.CONGESTION: "gagal tersambung karena jaringan padat",
}
_ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Pontianak": "WIB", "Asia/Makassar": "WITA",
               "Asia/Jayapura": "WIT"}  # fmt: skip


@functools.lru_cache(maxsize=65536)
def normalise_phone(raw: str, region: str = "ID") -> str | None:
    """E.164 (``+6281234567890``) for a number as people and phone systems write it.

    Accepts "0812-3456-7890", "+62 812 3456 7890", "6281234567890", "0062...";
    returns None when it cannot be a phone number. Cached: call logs repeat callers.
    """
    text = raw.strip()
    if not text:
        return None
    digits = "".join(ch for ch in text if ch.isdigit())
    candidates: list[tuple[str, str | None]] = [(text, region)]
    if not text.startswith("+") and digits:
        if digits.startswith("00"):
            candidates.insert(0, ("+" + digits[2:], None))
        # Phone systems often drop the "+" of an international number.
        candidates.append(("+" + digits, None))
    possible: str | None = None
    for candidate, hint in candidates:
        try:
            number = phonenumbers.parse(candidate, hint)
        except phonenumbers.NumberParseException:
            continue
        formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number):
            return str(formatted)
        if possible is None and phonenumbers.is_possible_number(number):
            possible = str(formatted)
    return possible


def format_duration(seconds: int) -> str:
    """ "3 menit 12 detik", "45 detik", "1 jam 0 menit 5 detik"."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} jam {minutes} menit {secs} detik"
    if minutes:
        return f"{minutes} menit {secs} detik"
    return f"{secs} detik"


def call_to_inquiry(
    record: CallRecord,
    region: str = "ID",
    *,
    display_timezone: str = "Asia/Jakarta",
    source: str | None = None,
) -> Inquiry:
    """One call as an inquiry from the resident on the line.

    Missed, busy and failed inbound calls share the thread ``callback:<number>``,
    so repeated attempts join one callback ticket; answered calls carry no
    conversation id and the core threads them onto the contact's open phone ticket.
    Raises :class:`InvalidInput` for calls between two extensions (no resident).
    """
    if record.direction is Direction.INTERNAL:
        raise InvalidInput(
            f"internal call from extension {record.caller} to {record.called}: no resident"
        )
    raw_number = record.resident_number
    number = normalise_phone(raw_number, region) or raw_number
    zone = ZoneInfo(display_timezone)
    local = record.start.astimezone(zone)
    when = f"{local:%d/%m/%Y %H:%M} {_ZONE_NAMES.get(display_timezone) or local.tzname()}"
    extension = record.extension

    if record.direction is Direction.OUTBOUND:
        subject = f"Panggilan keluar ke {number}"
        by = f" oleh ekstensi {extension}" if extension else ""
        if record.answered:
            text = (
                f"Panggilan keluar ke {number}{by} pada {when} dijawab, "
                f"durasi {format_duration(record.billsec)}."
            )
        else:
            text = (
                f"Panggilan keluar ke {number}{by} pada {when} tidak tersambung "
                f"({record.disposition})."
            )
    elif record.answered:
        subject = f"Panggilan telepon dari {number}"
        by = f" oleh ekstensi {extension}" if extension else ""
        text = (
            f"Panggilan masuk dari {number} pada {when} dijawab{by}, "
            f"durasi {format_duration(record.billsec)}."
        )
    else:
        subject = f"Telepon balik {number}"
        text = (
            f"Panggilan {_UNANSWERED[record.disposition]} ({record.disposition}) dari {number} "
            f"pada {when} — perlu ditelepon balik."
        )
    if record.notes:
        text += f" Catatan: {record.notes}"

    meta: dict[str, Any] = {
        "disposition": str(record.disposition),
        "direction": str(record.direction),
        "duration": record.duration,
        "billsec": record.billsec,
        "extension": extension,
        "answered": record.answered,
        "callback_needed": record.callback_needed,
        "caller_raw": record.caller,
        "called": record.called,
        "started_at": record.start.isoformat(),
        "answered_at": _iso(record.answer),
        "ended_at": _iso(record.end),
        "line": record.line,
    }
    if record.notes:
        meta["notes"] = record.notes
    if record.uniqueid:
        meta["uniqueid"] = record.uniqueid
    return Inquiry(
        channel=Channel.PHONE,
        external_id=f"cdr:{record.call_id}",
        sender=Identity(IdentityKind.PHONE, number, record.caller_name),
        text=text,
        subject=subject,
        received_at=record.start,
        thread=ThreadHints(
            conversation_id=f"callback:{number}" if record.callback_needed else None
        ),
        meta=meta,
        raw_ref=f"{source}:{record.line}" if source else f"line:{record.line}",
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
