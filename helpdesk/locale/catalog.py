"""Rebuild the staff pages' gettext catalogs: ``python -m helpdesk.locale.catalog``.

Message ids are the English texts. They are collected from the templates
(Jinja's Babel extractor) plus the texts the Python code hands to templates
(:data:`FROM_CODE`). The Indonesian translations live in
``id/LC_MESSAGES/messages.po`` (edit them there); English needs none. A run
adds new ids to both ``.po`` files, drops ids no longer used and compiles the
``.mo`` files; ``--check`` only reports ids without an Indonesian translation.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from jinja2.ext import babel_extract

HERE = Path(__file__).parent
TEMPLATES = HERE.parent / "web" / "templates"
# Other engineers' pages keep their own texts.
SKIP = ("reports/", "chat")

FROM_CODE = (
    "Mine",
    "Unassigned in my queues",
    "All open",
    "Waiting on resident",
    "Breaching soon",
    "Consultant",
    "Supervisor",
    "Admin",
    "New",
    "Open",
    "Pending",
    "Resolved",
    "Closed",
    "Email",
    "Telegram",
    "Webchat",
    "Phone",
    "Api",
    "Online",
    "Away",
    "Offline",
    "Reply queued for sending.",
    "Note added.",
    "Status changed.",
    "Assignment changed.",
    "Returned to the queue.",
    "Priority changed.",
    "Moved to another queue.",
    "The ticket is already in that queue.",
    "Residents merged.",
    "Merge undone.",
    "The reply is empty.",
    "The note is empty.",
    "No such queue.",
    "No such contact.",
    "There is no ticket with that number.",
    "There is no such ticket.",
    "There is no such resident.",
    "A ticket cannot be merged into itself.",
    "No resident found with that ticket number or identity.",
    "That consultant does not exist or is deactivated.",
    "You do not have access to this page.",
    "This file is not a picture that can be shown; download it instead.",
    "The current password is wrong.",
    "The new password needs at least %(n)d characters.",
    "The two new passwords differ.",
    "Saved.",
    "Unlocked.",
    "Discarded.",
    "Retried.",
    "Enabled.",
    "Disabled.",
    "Saved. Suggestions use the change now.",
    "No such user.",
    "No such FAQ entry.",
    "No such item.",
    "Give a valid email address.",
    "Choose a role.",
    "Capacity is a number of tickets from 0 to 200.",
    "A user with this email exists already.",
    "A queue with this name exists already.",
    "A queue name is one word of letters, digits, - or _.",
    "A canned reply needs a title and a text.",
    "The password needs at least 10 characters (or leave it empty to have one made).",
    "You cannot take away your own administrator role or deactivate yourself; ask another "
    "administrator.",
    "This installation cannot retry held items yet.",
    "Users",
    "Queues and canned replies",
    "FAQ",
    "Routing and SLA",
    "Channels and quarantine",
    "FAQ category",
    "keywords",
    "channels",
    "email domains",
    "identity kinds",
    "senders",
    "flags",
    "nobody",
    "Ticket opened from %(channel)s",
    "Routed to queue %(queue)s",
    "Assigned to %(name)s",
    "Returned to the queue",
    "Status: %(from)s → %(to)s",
    "Message received (%(channel)s)",
    "Call answered",
    "Call answered by %(by)s",
    "Reply queued to %(to)s",
    "Reply delivered",
    "Reply failed",
    "Internal note added",
    "SLA warning",
    "SLA breached",
    "due %(due)s",
    "Merged into another ticket",
    "Another ticket was merged into this one",
    "FAQ: %(what)s",
)


def template_ids() -> list[str]:
    found: list[str] = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        relative = path.relative_to(TEMPLATES).as_posix()
        if any(part in relative for part in SKIP):
            continue
        with path.open("rb") as fh:
            for _line, _func, message, _comments in babel_extract(
                fh,
                ("_", "gettext", "ngettext"),
                [],
                {"extensions": "jinja2.ext.i18n", "trimmed": "true"},
            ):
                text = message if isinstance(message, str) else (message[0] if message else None)
                if text and text not in found:
                    found.append(text)
    return found


def all_ids() -> list[str]:
    ids = template_ids()
    ids += [m for m in FROM_CODE if m not in ids]
    return ids


def translations(language: str) -> dict[str, str]:
    path = HERE / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def missing() -> list[str]:
    known = translations("id")
    return [m for m in all_ids() if m not in known]


def build() -> None:
    ids = all_ids()
    for language in ("id", "en"):
        table = translations(language)
        catalog = Catalog(locale=language, project="Tanya PTSP", charset="utf-8")
        for message in ids:
            catalog.add(message, table.get(message, ""))
        folder = HERE / language / "LC_MESSAGES"
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / "messages.po").open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, sort_output=True)
        with (folder / "messages.mo").open("wb") as fh:
            write_mo(fh, catalog)


if __name__ == "__main__":
    gaps = missing()
    if "--check" in sys.argv:
        for gap in gaps:
            print(f"no Indonesian translation: {gap!r}")
        sys.exit(1 if gaps else 0)
    build()
    print(f"wrote {len(all_ids())} messages; {len(gaps)} without Indonesian")
    for gap in gaps:
        print(f"  missing: {gap!r}")
