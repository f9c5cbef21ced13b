"""Signed answers in links: "did the FAQ answer help?" and satisfaction ratings.

A resident answering by email has no session, so the link itself carries what
it means ("faq:yes:<ticket>", "csat:4:<ticket>") and an HMAC-SHA256 over it with
the app's secret key; nobody can forge an answer for another ticket. Links
expire, so an old mail cannot change a ticket long after the fact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

_SEP = "|"


class BadLink(ValueError):
    """The link was altered, is not ours, or has expired."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a button or link says: ``kind`` "faq" (value yes/no) or "csat" (1-5)."""

    kind: str
    value: str
    ticket: str  # the ticket number, as residents see it

    @property
    def data(self) -> str:
        return f"{self.kind}:{self.value}:{self.ticket}"

    @classmethod
    def parse(cls, data: str) -> Answer | None:
        parts = data.split(":")
        if len(parts) != 3:
            return None
        kind, value, ticket = parts
        if kind == "faq" and value in ("yes", "no"):
            return cls(kind, value, ticket)
        if kind == "csat" and value in ("1", "2", "3", "4", "5"):
            return cls(kind, value, ticket)
        return None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    def __init__(self, secret: str, base_url: str, *, valid_days: int = 30) -> None:
        if not secret:
            raise ValueError("a secret key is needed to sign links")
        self._key = hashlib.sha256(b"tanya-ptsp/links\0" + secret.encode()).digest()
        self.base_url = base_url.rstrip("/")
        self.valid = timedelta(days=valid_days)

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16]

    def token(self, answer: Answer, now: datetime) -> str:
        body = f"{answer.data}{_SEP}{int((now + self.valid).timestamp())}"
        return f"{_b64(body.encode())}.{_b64(self._mac(body))}"

    def url(self, answer: Answer, now: datetime) -> str:
        return f"{self.base_url}/f/{self.token(answer, now)}"

    def verify(self, token: str, now: datetime) -> Answer:
        try:
            body_part, mac_part = token.split(".", 1)
            body = _unb64(body_part).decode()
            mac = _unb64(mac_part)
        except (ValueError, UnicodeDecodeError):
            raise BadLink("this link is not one of ours") from None
        if not hmac.compare_digest(mac, self._mac(body)):
            raise BadLink("this link is not one of ours")
        data, _, expires = body.rpartition(_SEP)
        answer = Answer.parse(data)
        if answer is None or not expires.isdigit():
            raise BadLink("this link is not one of ours")
        if now.timestamp() > int(expires):
            raise BadLink("this link has expired")
        return answer
