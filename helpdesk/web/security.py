"""Security headers for every response, and CSRF tokens for staff forms.

``SecurityHeaders`` is pure ASGI middleware: it adds a Content-Security-Policy
without ``'unsafe-inline'`` (pages load scripts and styles from ``/static``
only), refuses framing, turns off MIME sniffing and trims the Referer. A route
that needs a different policy (an embeddable chat widget) sets its own header
and the middleware leaves it alone.

CSRF: the token lives in the signed session. Forms send it as the
``csrf_token`` field (``{{ csrf_field() }}`` in templates), scripts as the
``X-CSRF-Token`` header (read it from ``<meta name="csrf-token">``).
:func:`helpdesk.web.auth.require_role` checks it on every POST/PUT/PATCH/DELETE;
a page that takes posts from signed-out people (sign-in) calls
:func:`check_csrf` itself.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Bumped when static files change, so browsers do not keep a stale script.
STATIC_VERSION = "2"

CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_SESSION_KEY = "csrf"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if scope["path"].startswith("/static/"):
                    headers.setdefault("cache-control", "public, max-age=86400")
                else:
                    # Staff pages show residents' personal data: never cache them.
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    if "session" not in request.scope:
        return ""
    token = request.session.get(_SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session[_SESSION_KEY] = token
    return token


def rotate_csrf(request: Request) -> None:
    """A new token after sign-in, so a token planted before it is worthless."""
    request.session[_SESSION_KEY] = secrets.token_urlsafe(32)


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        # Old browsers and privacy settings drop both; the token still guards.
        return origin != "null"
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", request.url.netloc)


async def check_csrf(request: Request) -> bool:
    """True when an unsafe request carries this session's token (safe methods pass)."""
    if request.method not in UNSAFE_METHODS:
        return True
    expected = request.session.get(_SESSION_KEY) if "session" in request.scope else None
    if not isinstance(expected, str) or not expected or not same_origin(request):
        return False
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded",
                                    "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())
