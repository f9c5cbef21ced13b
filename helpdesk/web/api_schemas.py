"""Request bodies of the public API, validated strictly: an unknown or missing
field is a 422 that names it, and nothing is stored."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from channels.base import Channel, IdentityKind


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SenderIn(_Strict):
    kind: IdentityKind
    value: str = Field(min_length=1, max_length=320)
    name: str | None = Field(default=None, max_length=200)


class ThreadIn(_Strict):
    reply_to_ids: list[str] = Field(default_factory=list, max_length=50)
    ticket_number: str | None = Field(default=None, max_length=40)
    conversation_id: str | None = Field(default=None, max_length=200)


class InquiryIn(_Strict):
    channel: Channel
    external_id: str = Field(min_length=1, max_length=400)
    sender: SenderIn
    subject: str | None = Field(default=None, max_length=300)
    text: str = Field(min_length=1, max_length=100_000)
    received_at: AwareDatetime | None = None
    thread: ThreadIn = Field(default_factory=ThreadIn)


def received_or(value: datetime | None, now: datetime) -> datetime:
    return value if value is not None else now
