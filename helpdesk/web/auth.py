"""Staff sign-in, sessions and roles.

Every staff route is wrapped in :func:`require_role`::

    from helpdesk.web.auth import require_role, current_user
    from helpdesk.models import Role

    @require_role(Role.SUPERVISOR)              # admins always pass too
    async def dashboard(request: Request) -> Response:
        user = current_user(request)            # the signed-in User
        ...

    @require_role(Role.SUPERVISOR, api=True)    # JSON: 401/403 bodies, no redirect
    async def figures(request: Request) -> Response: ...

Signed out, a page redirects to the sign-in form (and back afterwards) and a
JSON route answers 401; a signed-in user without the role gets 403. POST, PUT,
PATCH and DELETE must carry the session's CSRF token (see
:mod:`helpdesk.web.security`), else 403. The wrapper records the roles on the
endpoint (``endpoint.allowed_roles``), which the role x route test reads.

The session is a cookie signed with the app's secret key (HttpOnly,
SameSite=Lax, Secure when ``server.secure_cookies``). It names the user and a
fingerprint of their password hash, so a password change or a reset signs out
every other session of that user, and deactivating a user signs them out at
their next request.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlmodel import Session, func, select
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from helpdesk.bootstrap import Services
from helpdesk.config import Config
from helpdesk.models import Role, User
from helpdesk.passwords import hash_password, verify_password
from helpdesk.web.security import SecurityHeaders, check_csrf, rotate_csrf
from helpdesk.web.templating import LANGUAGES, render, translations

Endpoint = Callable[[Request], Awaitable[Response]]

SESSION_COOKIE = "tanya_staff"
SESSION_HOURS = 12  # one long shift; then sign in again
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
# Sign-in attempts one address may make per window, whatever the accounts.
IP_ATTEMPTS = 20
IP_WINDOW_SECONDS = 300.0
ALL_ROLES = (Role.CONSULTANT, Role.SUPERVISOR, Role.ADMIN)


# -- the secret key -----------------------------------------------------------
def secret_key(config: Config) -> str:
    """The configured key, else one kept in the data directory (made once, 0600)."""
    if config.app.secret_key:
        return config.app.secret_key
    path = config.data_path / "secret_key"
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        # O_EXCL: two workers starting together agree on the first one written.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _read_key(path: Path) -> str:
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds a secret key shorter than 32 characters; "
                           "delete it to have a new one made, or set TANYA_SECRET_KEY")
    return key


def middleware(services: Services) -> list[Middleware]:
    """Security headers outermost, then the signed session cookie."""
    config = services.config
    return [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=secret_key(config),
                   session_cookie=SESSION_COOKIE, max_age=SESSION_HOURS * 3600,
                   same_site="lax", https_only=config.server.secure_cookies),
    ]


# -- who is signed in ---------------------------------------------------------
def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def current_user(request: Request) -> User:
    """The signed-in user of a route wrapped in :func:`require_role`."""
    user: User | None = getattr(request.state, "user", None)
    if user is None:
        raise RuntimeError("current_user() outside require_role(): wrap the route")
    return user


async def load_user(request: Request) -> User | None:
    if "session" not in request.scope:
        return None
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    services = services_of(request)
    user = await services.store.run(_get_user, services, uid)
    if user is None or not user.active or request.session.get("pv") != fingerprint(
            user.password_hash):
        request.session.pop("uid", None)
        return None
    return user


def _get_user(services: Services, uid: int) -> User | None:
    with services.store.read() as session:
        return session.get(User, uid)


def allows(user: User, roles: tuple[str, ...]) -> bool:
    return user.role == Role.ADMIN or user.role in roles


def require_role(*roles: str, api: bool = False) -> Callable[[Endpoint], Endpoint]:
    """Refuse the route to anyone signed out, without one of ``roles``, or
    posting without the CSRF token. Admins pass every check of role."""
    unknown = set(roles) - set(ALL_ROLES)
    if not roles or unknown:
        raise ValueError(f"require_role needs roles from {', '.join(ALL_ROLES)}; got {roles}")

    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = await load_user(request)
            if user is None:
                if api:
                    return JSONResponse({"error": "sign in first"}, status_code=401)
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET":
                    target = "/"
                return RedirectResponse(f"/signin?next={_quote(target)}", status_code=303)
            request.state.user = user
            if not allows(user, roles):
                return refuse(request, 403, "You do not have access to this page.", api)
            if not await check_csrf(request):
                return refuse(request, 403, "The form has expired. Reload the page and "
                                            "try again.", api)
            return await endpoint(request)

        guarded.allowed_roles = tuple(sorted({*roles, Role.ADMIN}))  # type: ignore[attr-defined]
        guarded.is_api = api  # type: ignore[attr-defined]
        return guarded

    return wrap


def refuse(request: Request, status: int, message: str, api: bool) -> Response:
    if api:
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message},
                  status_code=status)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


# -- sign-in --------------------------------------------------------------------
class RateLimiter:
    """Attempts per key in a sliding window, in this process's memory."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] > self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle addresses
                for stale in [k for k, v in self._hits.items() if not v]:
                    del self._hits[stale]
            return True


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "signin_limiter", None)
    if limiter is None:
        limiter = RateLimiter(IP_ATTEMPTS, IP_WINDOW_SECONDS)
        request.app.state.signin_limiter = limiter
    return limiter


@cache
def _dummy_hash() -> str:
    # Verified against when the email is unknown, so both cases cost one argon2 check.
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class SignIn:
    user: User | None
    locked: bool = False


def authenticate(services: Services, email: str, password: str) -> SignIn:
    """Check a password; count failures and lock the account after too many."""
    now = services.clock()
    email = email.strip().lower()

    def work(session: Session) -> SignIn:
        user = session.exec(select(User).where(func.lower(User.email) == email)).first()
        if user is None or not user.active or not user.password_hash:
            verify_password(_dummy_hash(), password)
            return SignIn(None)
        good = verify_password(user.password_hash, password)
        if user.locked_until is not None and user.locked_until > now:
            return SignIn(None, locked=True)
        if not good:
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                user.failed_logins = 0
            return SignIn(None)
        user.failed_logins = 0
        user.locked_until = None
        return SignIn(user)

    return services.store.write_retrying(work)


def sign_in_session(request: Request, user: User) -> None:
    request.session.clear()  # no fixation: nothing from before sign-in survives
    request.session["uid"] = user.id
    request.session["pv"] = fingerprint(user.password_hash)
    rotate_csrf(request)


async def signin_form(request: Request) -> Response:
    if await load_user(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return render(request, "auth/signin.html",
                  {"next": safe_next(request.query_params.get("next")), "email": ""})


async def signin(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    email = str(form.get("email") or "")[:320]
    password = str(form.get("password") or "")[:1024]
    next_url = safe_next(str(form.get("next") or "/"))
    context: dict[str, Any] = {"next": next_url, "email": email}
    limiter = _limiter(request)
    client = request.client.host if request.client else "unknown"
    if not await check_csrf(request):
        context["error"] = "expired"
        return render(request, "auth/signin.html", context, status_code=403)
    if not limiter.allow(client):
        context["error"] = "throttled"
        return render(request, "auth/signin.html", context, status_code=429,
                      headers={"retry-after": str(int(IP_WINDOW_SECONDS))})
    result = await services.store.run(authenticate, services, email, password)
    if result.user is None:
        # One message for an unknown email, a wrong password and a locked account.
        context["error"] = "invalid"
        return render(request, "auth/signin.html", context, status_code=401)
    sign_in_session(request, result.user)
    return RedirectResponse(next_url, status_code=303)


@require_role(*ALL_ROLES)
async def signout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


# -- the user's own account -----------------------------------------------------
@require_role(*ALL_ROLES)
async def account(request: Request) -> Response:
    notice = request.query_params.get("done")
    return render(request, "auth/account.html", {"notice": notice, "errors": [],
                                                 "languages": LANGUAGES})


@require_role(*ALL_ROLES)
async def change_password(request: Request) -> Response:
    services = services_of(request)
    user = current_user(request)
    form = await request.form()
    current = str(form.get("current") or "")
    new = str(form.get("new") or "")
    confirm = str(form.get("confirm") or "")
    gettext = translations(user.language).gettext
    errors = []
    if not verify_password(user.password_hash, current):
        errors.append(gettext("The current password is wrong."))
    if len(new) < MIN_PASSWORD:
        errors.append(gettext("The new password needs at least %(n)d characters.")
                      % {"n": MIN_PASSWORD})
    if new != confirm:
        errors.append(gettext("The two new passwords differ."))
    if errors:
        return render(request, "auth/account.html",
                      {"errors": errors, "notice": None, "languages": LANGUAGES},
                      status_code=400)
    new_hash = hash_password(new)
    assert user.id is not None
    await services.store.run(set_password, services, user.id, new_hash)
    # This session stays signed in; every other session of the user ends.
    request.session["pv"] = fingerprint(new_hash)
    return RedirectResponse("/account?done=password", status_code=303)


def set_password(services: Services, user_id: int, password_hash: str) -> None:
    def work(session: Session) -> None:
        user = session.get_one(User, user_id)
        user.password_hash = password_hash
        user.failed_logins = 0
        user.locked_until = None

    services.store.write_retrying(work)


@require_role(*ALL_ROLES)
async def change_language(request: Request) -> Response:
    services = services_of(request)
    user = current_user(request)
    form = await request.form()
    language = str(form.get("language") or "")
    if language in LANGUAGES and user.id is not None:
        await services.store.run(_set_language, services, user.id, language)
    return RedirectResponse(safe_next(str(form.get("next") or "/account")), status_code=303)


def _set_language(services: Services, user_id: int, language: str) -> None:
    def work(session: Session) -> None:
        session.get_one(User, user_id).language = language

    services.store.write_retrying(work)


def now_of(request: Request) -> datetime:
    return services_of(request).clock()


routes = [
    Route("/signin", signin_form, methods=["GET"]),
    Route("/signin", signin, methods=["POST"]),
    Route("/signout", signout, methods=["POST"]),
    Route("/account", account, methods=["GET"]),
    Route("/account/password", change_password, methods=["POST"]),
    Route("/account/language", change_language, methods=["POST"]),
]


def staff_routes() -> list[BaseRoute]:
    """Every staff route, and the static files their pages load."""
    # Imported here: those modules import this one for require_role.
    from helpdesk.web import admin, consultants, live, templating

    pages: list[BaseRoute] = [*routes, Route("/", home, methods=["GET"]),
                              *consultants.routes, *live.routes, *admin.routes]
    static = templating.TEMPLATES.parent / "static" / "app"
    pages.append(Mount("/static/app", app=StaticFiles(directory=str(static)), name="staff-static"))
    return pages


async def home(request: Request) -> Response:
    user = await load_user(request)
    return RedirectResponse("/tickets" if user is not None else "/signin", status_code=303)
