"""The web application: routes from each audience's module, and the lifespan
that runs the channel runners and the outbox dispatcher beside the web app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from helpdesk.bootstrap import Services
from helpdesk.web import api, api_calls, auth, feedback, residents, supervisors, supervisors_api
from helpdesk.web.api_channels import routes as channel_health_routes

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        await services.store.run(_ping, services)
    except Exception as exc:  # the point of the check is to report, not to raise
        return JSONResponse({"status": "error", "database": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok"})


def _ping(services: Services) -> None:
    import sqlalchemy as sa

    with services.store.read() as session:
        session.execute(sa.text("SELECT 1"))


def create_app(services: Services, *, background: bool = False) -> Starlette:
    """Build the app. With ``background`` it also runs every enabled channel
    runner and the outbox dispatcher for as long as it serves."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks: list[asyncio.Task[None]] = []
        if background:
            tasks.append(asyncio.create_task(services.dispatcher.run(), name="outbox"))
            for runner in services.runners:
                tasks.append(asyncio.create_task(runner.run(), name=runner.name))
            # Hold expiry, SLA warnings and breaches, assignment (helpdesk.decisions).
            tasks += [asyncio.create_task(loop) for loop in
                      services.decisions.background(services.clock)]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                # Bounded: a task that lost its cancel must not hold the shutdown.
                _, stuck = await asyncio.wait(tasks, timeout=10)
                for task in stuck:
                    log.warning("%s did not stop within 10 s of the shutdown", task.get_name())
            for close in services.closers:
                with contextlib.suppress(Exception):
                    await close()

    routes = [Route("/healthz", healthz), *api.routes, *residents.routes, *services.routes]
    routes += channel_health_routes  # GET /api/v1/channels: channel health
    routes += feedback.routes()  # the signed yes/no and rating links in emails
    # Staff pages: sign-in, consultants' queues and tickets, administration.
    routes += auth.staff_routes()
    routes += api_calls.routes  # consultants log calls by hand
    routes += supervisors.routes + supervisors_api.routes  # reports, for supervisors
    app = Starlette(routes=routes, lifespan=lifespan, middleware=auth.middleware(services))
    app.state.services = services
    return app
