"""One :class:`Reply` -> one outgoing :class:`EmailMessage` with our threading headers."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from channels.base import Reply, ReplyButton

from .ids import make_message_id, normalise_message_id, ticket_tag

__all__ = ["compose_reply", "make_message_id", "reply_subject", "text_to_html"]

_REPLY_PREFIX = re.compile(r"^\s*((re|aw|balas|bls|fw|fwd)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def reply_subject(reply: Reply) -> str:
    """The subject "Re: [PTSP-000123] ...": the tag exactly once, "Re: " only on a reply."""
    tag = ticket_tag(reply.ticket_number)
    subject = " ".join((reply.subject or "").split())
    has_prefix = bool(_REPLY_PREFIX.match(subject))
    base = _REPLY_PREFIX.sub("", subject).strip()
    if tag.lower() not in base.lower():
        # An untagged mention of the number ("PTSP-000123 ...") still gets the tag.
        base = f"{tag} {base}".strip()
    is_reply = bool(reply.in_reply_to or reply.references) or has_prefix
    return f"Re: {base}" if is_reply else base


def _address(value: str, name: str | None = None) -> Address:
    if any(c in value for c in "\r\n"):
        raise ValueError(f"line break in address {value!r}")
    return Address(display_name=(name or "").strip(), addr_spec=value.strip())


def _bracket(message_id: str) -> str:
    return f"<{normalise_message_id(message_id) or message_id}>"


def _linkify(escaped: str) -> str:
    return _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)


def text_to_html(text: str) -> str:
    """Our plain text as simple, escaped HTML: paragraphs, line breaks, links."""
    paragraphs = re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip())
    rendered = [
        "<p>" + "<br>\n".join(_linkify(html.escape(line)) for line in p.split("\n")) + "</p>"
        for p in paragraphs
        if p.strip()
    ]
    return "\n".join(rendered)


def _buttons_text(buttons: tuple[ReplyButton, ...]) -> str:
    lines = [f"{b.label}: {b.url}" for b in buttons if b.url]
    return "\n".join(lines)


def _buttons_html(buttons: tuple[ReplyButton, ...]) -> str:
    links = [
        f'<a href="{html.escape(b.url, quote=True)}" '
        'style="display:inline-block;padding:6px 14px;margin:4px;border:1px solid #1a5fb4;'
        f'border-radius:4px;text-decoration:none">{html.escape(b.label)}</a>'
        for b in buttons
        if b.url
    ]
    return f"<p>{' '.join(links)}</p>" if links else ""


def compose_reply(
    reply: Reply,
    *,
    from_address: str,
    from_name: str | None = None,
    now: datetime | None = None,
) -> EmailMessage:
    """Build the mail for ``reply``. Raises ValueError for an unusable address.

    ``reply.message_id`` is the id the core stored for threading; without one a
    new id is made from the sender's domain (the core then cannot thread on it).
    """
    if "@" not in reply.recipient:
        raise ValueError(f"not an email address: {reply.recipient!r}")
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = _address(from_address, reply.sender_name or from_name)
    message["To"] = _address(reply.recipient)
    message["Subject"] = reply_subject(reply)
    message["Date"] = format_datetime((now or datetime.now(UTC)).astimezone(UTC))
    domain = from_address.rpartition("@")[2]
    message["Message-ID"] = _bracket(reply.message_id or make_message_id(domain))
    references = [normalise_message_id(r) or r for r in reply.references]
    parent = normalise_message_id(reply.in_reply_to) if reply.in_reply_to else None
    if parent:
        message["In-Reply-To"] = _bracket(parent)
        if parent not in references:
            references.append(parent)  # References ends with the direct parent
    elif references:
        message["In-Reply-To"] = _bracket(references[-1])
    if references:
        message["References"] = " ".join(_bracket(r) for r in references)
    if reply.automatic:
        message["Auto-Submitted"] = "auto-replied"
        # Ask Exchange and friends not to answer our automatic answer with theirs.
        message["X-Auto-Response-Suppress"] = "All"
    message["X-Tanya-Ticket"] = reply.ticket_number

    text = reply.text.rstrip()
    buttons_text = _buttons_text(reply.buttons)
    if buttons_text:
        text = f"{text}\n\n{buttons_text}"
    body_html = reply.html if reply.html is not None else text_to_html(reply.text)
    body_html += _buttons_html(reply.buttons)
    message.set_content(text + "\n")
    message.add_alternative(
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>\n{body_html}\n'
        "</body></html>\n",
        subtype="html",
    )
    for attachment in reply.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
            disposition="inline" if attachment.inline else "attachment",
            cid=_bracket(attachment.content_id) if attachment.content_id else None,
        )
    return message
