"""Jinja2 pages for staff: one environment per app, gettext per request.

Use from any staff page module::

    from helpdesk.web.templating import render
    return render(request, "reports/dashboard.html", {"rows": rows})

Templates extend ``base.html`` and fill ``title``, ``content`` and, for page
scripts, ``scripts`` with ``<script src="{{ static('app/x.js') }}" defer>``
(never an inline script: the Content-Security-Policy refuses them). Every
template gets ``user`` (the signed-in :class:`~helpdesk.models.User` or None),
``csrf_token`` (put it in every form as ``{{ csrf_field() }}``), ``_``/``gettext``
and the filters ``jakarta`` (a UTC time shown in Asia/Jakarta, Indonesian
format) and ``ago``.
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_timedelta
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).parent / "templates"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
LANGUAGES = ("id", "en")
JAKARTA = ZoneInfo("Asia/Jakarta")
# Parsed once: Babel parses a locale name on every call it is given one, which
# was a tenth of a queue page's time.
_BABEL_LOCALE = {"id": Locale.parse("id_ID"), "en": Locale.parse("en_GB")}


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog for ``language`` (falls back to the msgids, in English)."""
    return gettext.translation("messages", localedir=str(LOCALE_DIR),
                               languages=[language], fallback=True)


def language_of(request: Request) -> str:
    user = getattr(request.state, "user", None)
    chosen = getattr(user, "language", None) or request.session.get("lang") \
        if "session" in request.scope else None
    if chosen in LANGUAGES:
        return str(chosen)
    services = request.app.state.services
    default = services.config.app.language
    return default if default in LANGUAGES else "id"


def jakarta(value: datetime | None, fmt: str = "d MMM yyyy HH.mm", language: str = "id") -> str:
    if value is None:
        return "–"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return format_datetime(value, fmt, tzinfo=JAKARTA,
                           locale=_BABEL_LOCALE.get(language, _BABEL_LOCALE["id"]))


def ago(value: datetime | None, now: datetime, language: str = "id") -> str:
    """'5 menit' style distance, signed by the template (due in / overdue by)."""
    if value is None:
        return "–"
    # "long": Babel's Indonesian data lacks some short relative patterns.
    return format_timedelta(value - now, granularity="minute", threshold=1.0,
                            add_direction=True, format="long",
                            locale=_BABEL_LOCALE.get(language, _BABEL_LOCALE["id"]))


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(("html", "xml", "svg")),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.policies["ext.i18n.trimmed"] = True
    return env


def static_url(path: str) -> str:
    from helpdesk.web.security import STATIC_VERSION

    return f"/static/{path}?v={STATIC_VERSION}"


def render(request: Request, name: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    from helpdesk.web.security import csrf_token

    env = environment()
    language = language_of(request)
    catalog = translations(language)
    token = csrf_token(request)
    services = request.app.state.services
    now = services.clock()
    values: dict[str, Any] = {
        "request": request,
        "user": getattr(request.state, "user", None),
        "csrf_token": token,
        "csrf_field": lambda: Markup('<input type="hidden" name="csrf_token" value="%s">')
        % escape(token),
        "language": language,
        "now": now,
        "service_name": services.config.app.service_name,
        "static": static_url,
        "_": catalog.gettext,
        "gettext": catalog.gettext,
        "ngettext": catalog.ngettext,
        "jakarta": lambda v, fmt="d MMM yyyy HH.mm": jakarta(v, fmt, language),
        "ago": lambda v: ago(v, now, language),
        **(context or {}),
    }
    # The i18n extension reads gettext from the render context (newstyle off),
    # so each request renders in its own user's language without a shared install.
    template = env.get_template(name)
    body = template.render(values)
    return HTMLResponse(body, status_code=status_code, headers=headers)
