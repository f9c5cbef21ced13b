"""Administration: consultants and their queues, queues, canned replies.

Administrators only. FAQ entries are in :mod:`helpdesk.web.admin_faq`; the
routing and SLA settings, channel health and the quarantine in
:mod:`helpdesk.web.admin_system`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from helpdesk.accounts import create_user
from helpdesk.bootstrap import Services
from helpdesk.models import OPEN_STATUSES, CannedReply, Queue, Role, Ticket, User, UserQueue
from helpdesk.passwords import generate_password, hash_password
from helpdesk.web import admin_faq, admin_system
from helpdesk.web.auth import ALL_ROLES, MIN_PASSWORD, current_user, require_role, services_of
from helpdesk.web.templating import LANGUAGES, render


def text(form: FormData, name: str, limit: int = 200) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def page(request: Request, name: str, context: dict[str, Any], *,
         status_code: int = 200) -> Response:
    notice = request.session.pop("admin_notice", None)
    return render(request, name, {"active_section": "admin", "notice": notice, **context},
                  status_code=status_code)


def done(request: Request, url: str, notice: str) -> Response:
    request.session["admin_notice"] = notice
    return RedirectResponse(url, status_code=303)


@require_role(Role.ADMIN)
async def overview(request: Request) -> Response:
    return RedirectResponse("/admin/users", status_code=303)


# -- users --------------------------------------------------------------------------
@require_role(Role.ADMIN)
async def users(request: Request) -> Response:
    services = services_of(request)
    data = await services.store.run(_users_data, services)
    return page(request, "admin/users.html", data)


def _users_data(services: Services) -> dict[str, Any]:
    with services.store.read() as session:
        people = list(session.exec(select(User).order_by(col(User.active).desc(),
                                                         col(User.name), col(User.id))))
        queues = list(session.exec(select(Queue).order_by(col(Queue.name))))
        names = {q.id: q.name for q in queues}
        memberships: dict[int, list[str]] = {}
        for link in session.exec(select(UserQueue)):
            memberships.setdefault(link.user_id, []).append(names.get(link.queue_id, "?"))
        loads = dict(session.exec(
            select(Ticket.assignee_id, func.count()).where(
                col(Ticket.assignee_id).is_not(None), col(Ticket.status).in_(OPEN_STATUSES))
            .group_by(col(Ticket.assignee_id))).all())
        return {"people": people, "queues": queues, "memberships": memberships,
                "loads": loads, "roles": ALL_ROLES, "now": services.clock()}


@require_role(Role.ADMIN)
async def user_form(request: Request) -> Response:
    services = services_of(request)
    raw = request.path_params.get("user_id")
    data = await services.store.run(_user_data, services, raw)
    if data is None:
        return render(request, "error.html", {"status": 404, "message": "No such user."},
                      status_code=404)
    return page(request, "admin/user.html", {**data, "errors": [], "password": None})


def _user_data(services: Services, user_id: int | None) -> dict[str, Any] | None:
    with services.store.read() as session:
        person = session.get(User, user_id) if user_id is not None else None
        if user_id is not None and person is None:
            return None
        chosen = set(session.exec(select(UserQueue.queue_id).where(
            UserQueue.user_id == user_id))) if user_id is not None else set()
        return {"person": person, "chosen": chosen, "roles": ALL_ROLES,
                "languages": LANGUAGES,
                "queues": list(session.exec(select(Queue).order_by(col(Queue.name))))}


def _checked_queues(form: FormData) -> list[int]:
    return [int(v) for v in form.getlist("queues") if isinstance(v, str) and v.isdigit()]


def _validate(form: FormData, *, creating: bool) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    email = text(form, "email", 320).lower()
    role = text(form, "role", 20)
    capacity = text(form, "capacity", 4)
    if creating and ("@" not in email or " " in email):
        errors.append("Give a valid email address.")
    if role not in ALL_ROLES:
        errors.append("Choose a role.")
    if not capacity.isdigit() or not 0 <= int(capacity) <= 200:
        errors.append("Capacity is a number of tickets from 0 to 200.")
    values = {"email": email, "name": text(form, "name"), "role": role,
              "capacity": int(capacity) if capacity.isdigit() else 10,
              "queues": _checked_queues(form), "active": form.get("active") == "on",
              "language": text(form, "language", 5) or "id"}
    return values, errors


@require_role(Role.ADMIN)
async def create(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    values, errors = _validate(form, creating=True)
    password = text(form, "password", 200) or generate_password()
    if len(password) < MIN_PASSWORD:
        errors.append("The password needs at least 10 characters (or leave it empty to "
                      "have one made).")
    if not errors:
        try:
            user_id = await services.store.run(_create, services, values, password)
        except IntegrityError:
            errors.append("A user with this email exists already.")
        else:
            data = await services.store.run(_user_data, services, user_id)
            assert data is not None
            # Shown once, on this page only; it is never stored in clear.
            return page(request, "admin/user.html", {**data, "errors": [],
                                                     "password": password, "created": True})
    data = await services.store.run(_user_data, services, None)
    assert data is not None
    return page(request, "admin/user.html", {**data, "errors": errors, "password": None,
                                             "draft": values}, status_code=400)


def _create(services: Services, values: dict[str, Any], password: str) -> int:
    with services.store.write() as session:
        user = create_user(session, email=values["email"], name=values["name"],
                           role=Role(values["role"]), password=password,
                           capacity=values["capacity"])
        assert user.id is not None
        user.language = values["language"] if values["language"] in LANGUAGES else "id"
        _set_queues(session, user.id, values["queues"])
        return user.id


def _set_queues(session: Session, user_id: int, queue_ids: list[int]) -> None:
    session.execute(sa.delete(UserQueue).where(col(UserQueue.user_id) == user_id))
    known = {q for q in session.exec(select(Queue.id).where(col(Queue.id).in_(queue_ids)))
             if q is not None}
    for queue_id in sorted(known):
        session.add(UserQueue(user_id=user_id, queue_id=queue_id))


@require_role(Role.ADMIN)
async def update(request: Request) -> Response:
    services = services_of(request)
    user_id = int(request.path_params["user_id"])
    me = current_user(request)
    form = await request.form()
    values, errors = _validate(form, creating=False)
    if user_id == me.id and (values["role"] != Role.ADMIN or not values["active"]):
        errors.append("You cannot take away your own administrator role or deactivate "
                      "yourself; ask another administrator.")
    if errors:
        data = await services.store.run(_user_data, services, user_id)
        if data is None:
            return render(request, "error.html", {"status": 404, "message": "No such user."},
                          status_code=404)
        return page(request, "admin/user.html", {**data, "errors": errors, "password": None},
                    status_code=400)

    def work(session: Session) -> None:
        user = session.get_one(User, user_id)
        user.name = values["name"]
        user.role = values["role"]
        user.capacity = values["capacity"]
        user.active = values["active"]
        if values["language"] in LANGUAGES:
            user.language = values["language"]
        _set_queues(session, user_id, values["queues"])

    await services.store.run(services.store.write_retrying, work)
    return done(request, f"/admin/users/{user_id}", "Saved.")


@require_role(Role.ADMIN)
async def reset_password(request: Request) -> Response:
    services = services_of(request)
    user_id = int(request.path_params["user_id"])
    password = generate_password()
    password_hash = hash_password(password)

    def work(session: Session) -> None:
        user = session.get_one(User, user_id)
        # A new hash also ends every session the user has open.
        user.password_hash = password_hash
        user.failed_logins = 0
        user.locked_until = None

    await services.store.run(services.store.write_retrying, work)
    data = await services.store.run(_user_data, services, user_id)
    assert data is not None
    return page(request, "admin/user.html", {**data, "errors": [], "password": password})


@require_role(Role.ADMIN)
async def unlock(request: Request) -> Response:
    services = services_of(request)
    user_id = int(request.path_params["user_id"])

    def work(session: Session) -> None:
        user = session.get_one(User, user_id)
        user.failed_logins = 0
        user.locked_until = None

    await services.store.run(services.store.write_retrying, work)
    return done(request, f"/admin/users/{user_id}", "Unlocked.")


# -- queues and canned replies ----------------------------------------------------
@require_role(Role.ADMIN)
async def queues(request: Request) -> Response:
    services = services_of(request)
    data = await services.store.run(_queues_data, services)
    return page(request, "admin/queues.html", data)


def _queues_data(services: Services) -> dict[str, Any]:
    with services.store.read() as session:
        backlog = dict(session.exec(
            select(Ticket.queue_id, func.count()).where(col(Ticket.status).in_(OPEN_STATUSES))
            .group_by(col(Ticket.queue_id))).all())
        members = dict(session.exec(select(UserQueue.queue_id, func.count())
                                    .group_by(col(UserQueue.queue_id))).all())
        return {"queues": list(session.exec(select(Queue).order_by(col(Queue.name)))),
                "backlog": backlog, "members": members,
                "canned": list(session.exec(select(CannedReply)
                                            .order_by(col(CannedReply.title))))}


@require_role(Role.ADMIN)
async def save_queue(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    raw = request.path_params.get("queue_id")
    name = text(form, "name", 64).lower()
    if raw is None and (not name or not name.replace("-", "").replace("_", "").isalnum()):
        return done(request, "/admin/queues",
                    "A queue name is one word of letters, digits, - or _.")

    def work(session: Session) -> None:
        if raw is None:
            session.add(Queue(name=name, title=text(form, "title"), active=True))
            return
        queue = session.get_one(Queue, raw)
        queue.title = text(form, "title")
        queue.active = form.get("active") == "on"

    try:
        await services.store.run(services.store.write_retrying, work)
    except IntegrityError:
        return done(request, "/admin/queues", "A queue with this name exists already.")
    return done(request, "/admin/queues", "Saved.")


@require_role(Role.ADMIN)
async def save_canned(request: Request) -> Response:
    services = services_of(request)
    form = await request.form()
    raw = request.path_params.get("canned_id")
    title, body = text(form, "title"), text(form, "body", 10_000)
    if not title or not body:
        return done(request, "/admin/queues", "A canned reply needs a title and a text.")

    def work(session: Session) -> None:
        reply = CannedReply(title=title, body=body) if raw is None \
            else session.get_one(CannedReply, raw)
        reply.title, reply.body = title, body
        reply.active = raw is None or form.get("active") == "on"
        session.add(reply)

    await services.store.run(services.store.write_retrying, work)
    return done(request, "/admin/queues", "Saved.")


routes = [
    Route("/admin", overview, methods=["GET"]),
    Route("/admin/users", users, methods=["GET"]),
    Route("/admin/users", create, methods=["POST"]),
    Route("/admin/users/new", user_form, methods=["GET"]),
    Route("/admin/users/{user_id:int}", user_form, methods=["GET"]),
    Route("/admin/users/{user_id:int}", update, methods=["POST"]),
    Route("/admin/users/{user_id:int}/password", reset_password, methods=["POST"]),
    Route("/admin/users/{user_id:int}/unlock", unlock, methods=["POST"]),
    Route("/admin/queues", queues, methods=["GET"]),
    Route("/admin/queues", save_queue, methods=["POST"]),
    Route("/admin/queues/{queue_id:int}", save_queue, methods=["POST"]),
    Route("/admin/canned", save_canned, methods=["POST"]),
    Route("/admin/canned/{canned_id:int}", save_canned, methods=["POST"]),
    *admin_faq.routes,
    *admin_system.routes,
]
