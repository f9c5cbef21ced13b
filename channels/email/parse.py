"""One raw email -> one :class:`Inquiry` (or :class:`InvalidInput` with a reason)."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.header import decode_header
from email.headerregistry import Address
from email.message import Message
from email.parser import BytesParser
from typing import Any

from channels.base import (
    AttachmentData,
    Channel,
    Identity,
    IdentityKind,
    Inquiry,
    InvalidInput,
    ThreadHints,
)

from .bounces import is_delivery_report, parse_delivery_report
from .ids import derived_message_id, find_ticket_number, normalise_message_id, split_message_ids
from .text import clean_str, decode_bytes, html_to_text, sanitize_html, strip_quotes_and_signature

__all__ = ["DEFAULT_MAX_ATTACHMENT_BYTES", "format_size", "is_automated", "parse_email"]

DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_MB = 1024 * 1024
# A Date far in the future is a broken clock or spam; it must not reorder a ticket.
_MAX_CLOCK_SKEW = timedelta(days=1)
_AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")
# Headers whose text is normalised by parsing even when nothing is encoded.
_ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to", "resent-cc"}
)


def _raw_header(message: Message, name: str) -> str | None:
    wanted = name.lower()
    return next((str(v) for k, v in message.raw_items() if k.lower() == wanted), None)


def _structured(message: Message, name: str) -> Any:
    """One header parsed the modern way (RFC 2047 words, address lists) on demand.

    The message itself is parsed with compat32: policy.default re-parses every
    header on every access, which made parsing three times slower.
    """
    # Parsed once per message: From, for one, is read for the sender and the meta.
    cache: dict[str, Any] = message.__dict__.setdefault("_tanya_structured", {})
    key = name.lower()
    if key not in cache:
        raw = _raw_header(message, name)
        cache[key] = None if raw is None else policy.default.header_fetch_parse(name, raw)
    return cache[key]


def _header(message: Message, name: str) -> str | None:
    """A header as clean text; a header the parser chokes on is read raw instead."""
    raw = _raw_header(message, name)
    if raw is None:
        return None
    if name.lower() not in _ADDRESS_HEADERS and raw.isascii() and "=?" not in raw:
        # Nothing to decode: the structured parse (most of the cost of parsing a
        # mail) would give back the same text.
        text = raw
    else:
        try:
            text = str(_structured(message, name))
        except Exception:  # header parsing bugs must not lose the mail
            text = raw
    text = clean_str(" ".join(text.split()))
    return text or None


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs of an address header."""
    pairs: list[tuple[str, str]] = []
    try:
        header = _structured(message, name)
        found: tuple[Address, ...] = getattr(header, "addresses", ()) if header is not None else ()
        pairs = [(a.display_name, a.addr_spec) for a in found]
    except Exception:  # fall back to the forgiving parser below
        pairs = []
    if not pairs:
        raw = _header(message, name)
        if raw:
            pairs = email.utils.getaddresses([raw])
    result = []
    for display, address in pairs:
        address = clean_str(address).strip().strip("<>").lower()
        if _usable_address(address):
            result.append((clean_str(display).strip().strip('"').strip(), address))
    return result


def _usable_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain and not any(c.isspace() for c in address))


def is_automated(message: Message) -> bool:
    """Mail no one should auto-answer: auto-replies, bulk and list mail, bounces."""
    auto_submitted = (_header(message, "Auto-Submitted") or "no").split(";")[0].strip().lower()
    if auto_submitted != "no":
        return True
    if any(_header(message, name) for name in _AUTOREPLY_HEADERS):
        return True
    if (_header(message, "Precedence") or "").lower() in _AUTOMATED_PRECEDENCE:
        return True
    if _header(message, "List-Id") or _header(message, "List-Unsubscribe"):
        return True
    return is_delivery_report(message)


def format_size(size: int) -> str:
    """A size the Indonesian way: "12,3 MB", "10 MB", "59 KB"."""
    if size < _MB:
        return f"{max(1, round(size / 1024))} KB"
    text = f"{size / _MB:.1f}".replace(".", ",")
    return (text[:-2] if text.endswith(",0") else text) + " MB"


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[AttachmentData] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    charsets: set[str] = field(default_factory=set)


_BOUNDARY_LINE = re.compile(r"^--([^\s]{1,70})[ \t\r]*$", re.MULTILINE)


def _recover_multipart(part: Message) -> Message | None:
    """Re-read a multipart whose declared boundary never occurs, using the one it has.

    Some mailers rewrite the boundary in the body but not in the header; the parts
    are all there, only the header lies.
    """
    payload = part.get_payload()
    if not isinstance(payload, str):
        return None
    match = _BOUNDARY_LINE.search(payload)
    if match is None or match.group(1).endswith("--"):
        return None
    boundary = match.group(1)
    head = f'Content-Type: multipart/mixed; boundary="{boundary}"\n\n'
    data = head.encode() + payload.encode("utf-8", errors="surrogateescape")
    recovered = BytesParser(policy=policy.compat32).parsebytes(data)
    children = recovered.get_payload()
    return recovered if isinstance(children, list) and children else None


def _leaves(part: Message, depth: int = 0) -> Iterator[Message]:
    """Leaf parts in order; an attached message stays whole (it becomes an .eml)."""
    if part.get_content_maintype() == "multipart" and depth < 20:
        payload = part.get_payload()
        if not isinstance(payload, list):
            recovered = _recover_multipart(part)
            payload = recovered.get_payload() if recovered is not None else None
        if isinstance(payload, list):
            for child in payload:
                if isinstance(child, Message):
                    yield from _leaves(child, depth + 1)
            return
    yield part


def _part_bytes(part: Message) -> bytes:
    if part.get_content_type() in ("message/rfc822", "message/global"):
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            try:
                return inner.as_bytes(policy=policy.compat32)
            except Exception:  # a broken inner message is kept as text
                return str(inner).encode("utf-8", errors="surrogateescape")
        return b""
    try:
        data = part.get_payload(decode=True)
    except Exception:  # undecodable transfer encoding: keep what is there
        data = None
    if isinstance(data, bytes):
        return data
    payload = part.get_payload()
    return payload.encode("utf-8", errors="surrogateescape") if isinstance(payload, str) else b""


def _filename(part: Message, index: int) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # a malformed RFC 2231 name: fall back to a made-up one
        name = None
    if name:
        name = str(name)
        if "=?" in name:  # RFC 2047 inside a parameter: wrong, and what Outlook sends
            name = _decode_words(name) or name
        name = clean_str(name).replace("/", "_").replace("\\", "_").strip()
    return name or None


def _attached_message_name(part: Message) -> str | None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    subject = _subject(inner) if isinstance(inner, Message) else None
    if not subject:
        return None
    safe = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', " ", subject).strip()[:100]
    return f"{safe}.eml" if safe else None


def _decode_words(raw: str) -> str | None:
    """Encoded words decoded with charset fallbacks (an unknown charset still reads)."""
    try:
        chunks = decode_header(" ".join(raw.split()))
    except Exception:  # malformed words: the caller keeps what it has
        return None
    words = [
        decode_bytes(chunk, charset)[0] if isinstance(chunk, bytes) else chunk
        for chunk, charset in chunks
    ]
    return clean_str("".join(words)).strip() or None


def _subject(message: Message) -> str | None:
    """The subject; encoded words in a charset Python lacks are decoded with fallbacks."""
    subject = _header(message, "Subject")
    raw = _raw_header(message, "Subject")
    if subject and "\ufffd" in subject and raw and "=?" in raw:
        return _decode_words(raw) or subject
    return subject


def _text_of(part: Message, body: _Body) -> str:
    data = _part_bytes(part)
    try:
        declared = part.get_content_charset()
    except Exception:  # an unparseable charset parameter counts as none
        declared = None
    text, used = decode_bytes(data, declared)
    body.charsets.add(used)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _collect(message: Message, max_attachment_bytes: int) -> _Body:
    body = _Body()
    for index, part in enumerate(_leaves(message)):
        content_type = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        filename = _filename(part, index)
        is_text = content_type in ("text/plain", "text/html") or part.get_content_maintype() == (
            "multipart"  # a multipart whose boundary is missing: its payload is text
        )
        if is_text and disposition != "attachment" and not filename:
            text = _text_of(part, body)
            (body.html if content_type == "text/html" else body.plain).append(text)
            continue
        if content_type in ("message/delivery-status", "text/rfc822-headers"):
            continue  # read by bounces.py; nothing a consultant opens as a file
        data = _part_bytes(part)
        if not filename and content_type.startswith("message/"):
            filename = _attached_message_name(part)
        if not filename:
            filename = f"lampiran-{index + 1}"
        if content_type.startswith("message/") and not filename.lower().endswith(".eml"):
            filename += ".eml"
        if len(data) > max_attachment_bytes:
            body.notices.append(
                f"Lampiran '{filename}' ({format_size(len(data))}) tidak disimpan: "
                f"melebihi batas {format_size(max_attachment_bytes)}"
            )
            continue
        content_id = normalise_message_id(_header(part, "Content-ID"))
        body.attachments.append(
            AttachmentData(
                filename=filename,
                content_type=content_type,
                data=data,
                inline=disposition == "inline" or (content_id is not None and disposition == ""),
                content_id=content_id,
            )
        )
    return body


def _received_at(message: Message, now: datetime) -> datetime:
    raw = _header(message, "Date")
    if raw:
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)  # RFC 5322 "-0000": zone unknown
            parsed = parsed.astimezone(UTC)
            if parsed <= now + _MAX_CLOCK_SKEW and parsed.year >= 1990:
                return parsed
    return now


def _meta(message: Message, raw: bytes, full_text: str, body: _Body) -> dict[str, Any]:
    def listed(name: str) -> list[str]:
        return [address for _, address in _addresses(message, name)]

    meta: dict[str, Any] = {
        "message_id": normalise_message_id(_header(message, "Message-ID")),
        "in_reply_to": split_message_ids(_header(message, "In-Reply-To")),
        "references": split_message_ids(_header(message, "References")),
        "from": _header(message, "From"),
        "reply_to": _header(message, "Reply-To"),
        "to": listed("To"),
        "cc": listed("Cc"),
        "date": _header(message, "Date"),
        "auto_submitted": _header(message, "Auto-Submitted"),
        "list_id": _header(message, "List-Id"),
        "full_text": full_text,
        "size": len(raw),
        "charsets": sorted(body.charsets),
    }
    defects = sorted({type(d).__name__ for part in message.walk() for d in part.defects})
    if defects:
        meta["defects"] = defects
    return {key: value for key, value in meta.items() if value not in (None, [], "")}


def parse_email(
    raw: bytes,
    *,
    now: datetime,
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    raw_ref: str | None = None,
) -> Inquiry:
    """Turn one RFC 5322 message into an inquiry.

    ``now`` (aware) stands in for a missing or absurd Date. Raises
    :class:`InvalidInput` when the mail has no usable sender or nothing in it.
    """
    if not raw or not raw.strip():
        raise InvalidInput("empty message: no bytes")
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything else is junk
        raise InvalidInput(f"unparseable message: {exc}") from exc
    if not message.keys():
        raise InvalidInput("unparseable message: no headers found")

    from_pairs = _addresses(message, "From")
    senders = _addresses(message, "Reply-To") or from_pairs
    if not senders:
        from_header = _header(message, "From")
        reason = (
            f"no usable sender address (From: {from_header!r})"
            if from_header
            else ("no usable sender address (no From or Reply-To header)")
        )
        raise InvalidInput(reason)
    sender_name, sender_address = senders[0]
    if not sender_name and from_pairs and from_pairs[0][1] == sender_address:
        # Reply-To often has no display name; From's is the resident's name.
        sender_name = from_pairs[0][0]

    body = _collect(message, max_attachment_bytes)
    plain = "\n\n".join(text.strip("\n") for text in body.plain if text.strip())
    html_raw = "\n".join(body.html)
    full_text = plain if plain.strip() else html_to_text(html_raw) if html_raw.strip() else ""
    text = strip_quotes_and_signature(full_text) or full_text.strip()
    subject = _subject(message)
    if not text and not body.attachments:
        if not subject:
            raise InvalidInput("empty message: no subject, text or attachment")
        text = subject

    external_id = normalise_message_id(_header(message, "Message-ID")) or derived_message_id(raw)
    meta = _meta(message, raw, full_text, body)
    bounce = parse_delivery_report(message)
    if bounce is not None:
        meta["bounce"] = bounce
    reply_to_ids: list[str] = []
    for message_id in (
        *split_message_ids(_header(message, "In-Reply-To")),
        *reversed(split_message_ids(_header(message, "References"))),
    ):
        if message_id not in reply_to_ids and message_id != external_id:
            reply_to_ids.append(message_id)

    return Inquiry(
        channel=Channel.EMAIL,
        external_id=external_id,
        sender=Identity(IdentityKind.EMAIL, sender_address, sender_name or None),
        text=text,
        received_at=_received_at(message, now),
        subject=subject,
        html=sanitize_html(html_raw).strip() or None if html_raw.strip() else None,
        thread=ThreadHints(
            reply_to_ids=tuple(reply_to_ids), ticket_number=find_ticket_number(subject)
        ),
        attachments=tuple(body.attachments),
        automated=is_automated(message),
        meta=meta,
        notices=tuple(body.notices),
        raw_ref=raw_ref,
    )
