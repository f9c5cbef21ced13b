"""What residents reach without an account: the chat page, the embeddable
widget, its WebSocket, and the public FAQ suggestions the widget shows while
the resident types."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from helpdesk.runners.webchat import chat_socket, origin_allowed
from helpdesk.web.api import services_of
from helpdesk.web.chat_limits import RateLimiter
from helpdesk.web.responses import error

STATIC = Path(__file__).resolve().parent / "static" / "chat"
MAX_QUERY_CHARS = 500
MAX_SUGGESTIONS = 10
# The widget changes with releases; a short cache keeps embedding pages quick
# without pinning an old widget for long.
ASSET_CACHE = "public, max-age=300"
_BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


async def chat_page(request: Request) -> Response:
    """``GET /chat``: the chat on a page of its own (the widget, opened full size)."""
    host = request.headers.get("host", "")
    sockets = f" ws://{host} wss://{host}" if host else ""
    # No inline script or style at all: the page only loads the widget's files.
    policy = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
              f"connect-src 'self'{sockets}; base-uri 'none'; form-action 'none'; "
              "frame-ancestors 'self'")
    return FileResponse(STATIC / "chat.html", media_type="text/html; charset=utf-8",
                        headers={**_BASE_HEADERS, "Content-Security-Policy": policy,
                                 "Cache-Control": "no-cache"})


async def widget_js(request: Request) -> Response:
    """``GET /widget.js``: one script tag on any page shows the chat button."""
    return FileResponse(STATIC / "widget.js", media_type="text/javascript; charset=utf-8",
                        headers={**_BASE_HEADERS, "Cache-Control": ASSET_CACHE,
                                 "Cross-Origin-Resource-Policy": "cross-origin"})


async def widget_css(request: Request) -> Response:
    return FileResponse(STATIC / "widget.css", media_type="text/css; charset=utf-8",
                        headers={**_BASE_HEADERS, "Cache-Control": ASSET_CACHE,
                                 "Cross-Origin-Resource-Policy": "cross-origin"})


def _suggest_limiter(request: Request) -> RateLimiter:
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, "suggest_limiter", None)
    if limiter is None:
        per_minute = services_of(request).config.knowledge_base.suggest_rate_per_minute
        limiter = RateLimiter(per_minute)
        state.suggest_limiter = limiter
    return limiter


def _cors(request: Request) -> dict[str, str]:
    """Let the widget on an allowed page read the answer (it runs on their origin)."""
    services = services_of(request)
    allowed = services.config.channels.webchat.allowed_origins
    origin = request.headers.get("origin")
    if not allowed:
        return {"Access-Control-Allow-Origin": "*"}
    if origin and origin_allowed(origin, allowed, ()):
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    return {"Vary": "Origin"}


async def suggest(request: Request) -> Response:
    """``GET /api/v1/suggest?q=...&limit=3``: FAQ answers that may fit a question.

    Public, so rate-limited per client address.
    """
    services = services_of(request)
    headers = {**_cors(request), "Cache-Control": "no-store"}
    ip = request.client.host if request.client else "unknown"
    wait = _suggest_limiter(request).take(ip)
    if wait is not None:
        response = error(429, f"too many suggestion requests; try again in {wait:.0f} s")
        response.headers.update({**headers, "Retry-After": str(max(1, round(wait)))})
        return response
    query = request.query_params.get("q", "").strip()
    problem = None
    if not query:
        problem = "missing q: the question to find FAQ answers for"
    elif len(query) > MAX_QUERY_CHARS:
        problem = f"q is too long: {len(query)} characters, the limit is {MAX_QUERY_CHARS}"
    limit_text = request.query_params.get("limit", "3")
    if problem is None and not (limit_text.isdigit() and 1 <= int(limit_text) <= MAX_SUGGESTIONS):
        problem = f"limit must be an integer from 1 to {MAX_SUGGESTIONS}"
    if problem is not None:
        response = error(400, problem)
        response.headers.update(headers)
        return response
    found = await services.store.run(services.knowledge.suggest, query, int(limit_text))
    return JSONResponse([{"id": s.entry_id, "question": s.question, "answer": s.answer,
                          "score": round(s.score, 1)} for s in found], headers=headers)


routes = [
    Route("/chat", chat_page, methods=["GET"]),
    Route("/widget.js", widget_js, methods=["GET"]),
    Route("/chat/widget.css", widget_css, methods=["GET"]),
    WebSocketRoute("/chat/ws", chat_socket),
    Route("/api/v1/suggest", suggest, methods=["GET"]),
]
