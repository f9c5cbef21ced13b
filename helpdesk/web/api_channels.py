"""``GET /api/v1/channels``: each channel's health for monitoring, behind the API's
bearer token (the same JSON as ``tanya-ptsp channels status --json``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from helpdesk.channel_state import health_json
from helpdesk.web.api import require_token, services_of


@require_token
async def list_channels(request: Request) -> Response:
    services = services_of(request)
    states = await services.store.run(services.channel_states.all)
    return JSONResponse([health_json(state) for state in states])


routes = [Route("/api/v1/channels", list_channels, methods=["GET"])]
