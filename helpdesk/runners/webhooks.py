"""The outbound adapter for webhooks: POSTs each queued event, signed with the
hook's secret (HMAC-SHA256) at send time so the secret never enters the database."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from channels.base import (
    Channel,
    DeliveryReceipt,
    PermanentDeliveryError,
    Reply,
    TemporaryDeliveryError,
)
from helpdesk.config import WebhookConfig
from helpdesk.webhooks import signature


class WebhookSender:
    channel = Channel.WEBHOOK

    def __init__(self, hooks: Sequence[WebhookConfig], *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.secrets = {h.url: h.secret for h in hooks if h.enabled and h.secret}
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport,
                                        follow_redirects=False)

    async def send(self, reply: Reply) -> DeliveryReceipt:
        secret = self.secrets.get(reply.recipient)
        if secret is None:
            raise PermanentDeliveryError(f"no webhook is configured for {reply.recipient}")
        headers = {"Content-Type": "application/json",
                   "X-Tanya-Signature": signature(secret, reply.text),
                   "X-Tanya-Event": reply.subject or "",
                   "X-Tanya-Delivery": reply.idempotency_key}
        try:
            response = await self.client.post(reply.recipient, content=reply.text.encode(),
                                              headers=headers)
        except httpx.HTTPError as exc:
            raise TemporaryDeliveryError(f"{type(exc).__name__}: {exc}") from None
        status = response.status_code
        if 200 <= status < 300:
            return DeliveryReceipt(detail=f"HTTP {status}")
        detail = f"HTTP {status}: {response.text[:200]}"
        if status in (408, 425, 429) or status >= 500:
            retry = response.headers.get("retry-after", "")
            raise TemporaryDeliveryError(detail,
                                         retry_after=float(retry) if retry.isdigit() else None)
        raise PermanentDeliveryError(detail)

    async def close(self) -> None:
        await self.client.aclose()
