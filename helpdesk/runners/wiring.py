"""Builds every enabled channel from the configuration and plugs it in: inbound
runners into the services, outbound senders into the outbox, webhooks into the
web app."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from helpdesk.bootstrap import Services
from helpdesk.runners.calls import CallLogFolder
from helpdesk.runners.email import build_email
from helpdesk.runners.leader import Exclusive
from helpdesk.runners.retry import install as install_retry
from helpdesk.runners.telegram import WEBHOOK_SECRET_HEADER, build_telegram
from helpdesk.runners.webhooks import WebhookSender


def wire_channels(services: Services) -> None:
    install_retry(services)  # the admin pages' quarantine "retry" button
    if any(h.enabled and h.secret for h in services.config.webhooks):
        hooks = WebhookSender(services.config.webhooks)
        services.dispatcher.register("webhook", hooks)
        services.closers.append(hooks.close)
    mailboxes, smtp = build_email(services)
    services.runners.extend(mailboxes)
    if smtp is not None:
        services.dispatcher.register("email", smtp)
    telegram = build_telegram(services)
    if telegram is not None:
        services.dispatcher.register("telegram", telegram.sender)
        services.closers.append(telegram.sender.close)
        if telegram.poller is not None:
            services.runners.append(Exclusive(telegram.poller, services.store,
                                              services.config.data_path / "locks", "telegram"))
        webhook = telegram.webhook
        if webhook is not None:
            async def telegram_webhook(request: Request) -> Response:
                status = await webhook.handle(await request.body(),
                                              request.headers.get(WEBHOOK_SECRET_HEADER))
                return JSONResponse({"ok": status == 200}, status_code=status)

            services.routes.append(Route("/channels/telegram/webhook", telegram_webhook,
                                         methods=["POST"]))
            services.closers.append(webhook.close)
    phone = services.config.channels.phone
    if phone.enabled and phone.watch_dir:
        folder = Path(services.config.base_dir) / phone.watch_dir
        services.runners.append(CallLogFolder(services, folder))
