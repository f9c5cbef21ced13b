"""Administration of what runs: routing rules and SLA policies (shown as
configured), channel health and the quarantine of input that could not be read.

Routing and SLA settings live in the configuration file and are read at start;
this page shows them with their place in the file rather than editing them,
so the file stays the one source of truth and changes go through review.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from helpdesk.models import QuarantineState, Role
from helpdesk.web.auth import require_role, services_of
from helpdesk.web.templating import render

RAW_LIMIT = 200_000


@require_role(Role.ADMIN)
async def routing(request: Request) -> Response:
    config = services_of(request).config
    return render(request, "admin/routing.html", {
        "active_section": "admin", "config": config,
        "sla": getattr(config, "sla", None), "routing": getattr(config, "routing", None),
        "hours": config.business_hours, "base_dir": config.base_dir})


@require_role(Role.ADMIN)
async def channels(request: Request) -> Response:
    services = services_of(request)
    states = await services.store.run(services.channel_states.all)
    show = request.query_params.get("show", "held")
    items = await services.store.run(services.quarantine.list,
                                     None if show == "all" else QuarantineState.HELD)
    return render(request, "admin/channels.html", {
        "active_section": "admin", "states": states, "items": items, "show": show,
        "can_retry": _retry_hook(request) is not None,
        "notice": request.session.pop("admin_notice", None)})


def _retry_hook(request: Request) -> Any:
    # A channel runner that can read a held item again puts this on Services.
    return getattr(services_of(request), "retry_quarantined", None)


@require_role(Role.ADMIN)
async def quarantine_item(request: Request) -> Response:
    services = services_of(request)
    item = await services.store.run(services.quarantine.get,
                                    int(request.path_params["item_id"]))
    if item is None:
        return render(request, "error.html", {"status": 404, "message": "No such item."},
                      status_code=404)
    # Shown as text only (escaped by the template), never as HTML or a download.
    raw = item.raw[:RAW_LIMIT].decode("utf-8", errors="replace")
    return render(request, "admin/quarantine.html", {
        "active_section": "admin", "item": item, "raw": raw,
        "truncated": len(item.raw) > RAW_LIMIT, "can_retry": _retry_hook(request) is not None})


@require_role(Role.ADMIN)
async def quarantine_discard(request: Request) -> Response:
    services = services_of(request)
    item_id = int(request.path_params["item_id"])
    if await services.store.run(services.quarantine.get, item_id) is None:
        return render(request, "error.html", {"status": 404, "message": "No such item."},
                      status_code=404)
    await services.store.run(services.quarantine.mark, item_id, QuarantineState.DISCARDED)
    request.session["admin_notice"] = "Discarded."
    return RedirectResponse("/admin/channels", status_code=303)


@require_role(Role.ADMIN)
async def quarantine_retry(request: Request) -> Response:
    hook = _retry_hook(request)
    item_id = int(request.path_params["item_id"])
    if hook is None:
        request.session["admin_notice"] = "This installation cannot retry held items yet."
    else:
        try:
            await hook(item_id)
        except Exception as exc:  # the reason is what the administrator needs to see
            request.session["admin_notice"] = f"Retry failed: {exc}"
        else:
            request.session["admin_notice"] = "Retried."
    return RedirectResponse("/admin/channels", status_code=303)


routes = [
    Route("/admin/routing", routing, methods=["GET"]),
    Route("/admin/channels", channels, methods=["GET"]),
    Route("/admin/quarantine/{item_id:int}", quarantine_item, methods=["GET"]),
    Route("/admin/quarantine/{item_id:int}/discard", quarantine_discard, methods=["POST"]),
    Route("/admin/quarantine/{item_id:int}/retry", quarantine_retry, methods=["POST"]),
]
