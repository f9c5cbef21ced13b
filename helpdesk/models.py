"""The ticket store's tables.

Times are stored in UTC and read back as aware datetimes; pages show them in
Asia/Jakarta. Events are append-only: reports and SLA figures are computed from
them and from the summary columns kept on the ticket.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from helpdesk.ticket_numbers import format_number


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC, refuses naive input."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _time(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), index=index, nullable=nullable))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False))


def _json(default: Any = None) -> Any:
    factory = dict if default is None else default
    return Field(default_factory=factory, sa_column=sa.Column(sa.JSON(), nullable=False))


class TicketStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"  # waiting on the resident; the SLA clock pauses
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


class Direction(enum.StrEnum):
    IN = "in"
    OUT = "out"
    NOTE = "note"


class AuthorKind(enum.StrEnum):
    RESIDENT = "resident"
    CONSULTANT = "consultant"
    BOT = "bot"  # automatic answers: never a consultant's first response
    SYSTEM = "system"


class Role(enum.StrEnum):
    CONSULTANT = "consultant"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Presence(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class QuarantineState(enum.StrEnum):
    HELD = "held"
    RETRIED = "retried"
    DISCARDED = "discarded"


class Contact(SQLModel, table=True):
    """A resident, however many channels they use."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=200)
    created_at: datetime = _created()
    # Set when merged into another contact; the merge can be undone.
    merged_into_id: int | None = Field(default=None, foreign_key="contact.id", index=True)


class ContactIdentity(SQLModel, table=True):
    __tablename__ = "contact_identity"
    __table_args__ = (sa.UniqueConstraint("kind", "value", name="uq_identity_kind_value"),)

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    kind: str = Field(max_length=20)
    value: str = Field(max_length=320)
    display_name: str = Field(default="", max_length=200)
    created_at: datetime = _created()
    # The contact this identity belonged to before a merge, for undo.
    merged_from_id: int | None = Field(default=None)


class Queue(SQLModel, table=True):
    """A queue holds the tickets of one business area, answered by its consultants."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    title: str = Field(default="", max_length=200)
    active: bool = True


class User(SQLModel, table=True):
    """A person who signs in: consultant, supervisor or administrator."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, sa_column_kwargs={"unique": True})
    name: str = Field(default="", max_length=200)
    role: str = Field(default=Role.CONSULTANT, max_length=20)
    password_hash: str = Field(default="", max_length=200)
    active: bool = True
    capacity: int = 10
    presence: str = Field(default=Presence.OFFLINE, max_length=20)
    presence_changed_at: datetime | None = _time()
    extension: str = Field(default="", max_length=20)
    failed_logins: int = 0
    locked_until: datetime | None = _time()
    language: str = Field(default="id", max_length=5)
    created_at: datetime = _created()


class UserQueue(SQLModel, table=True):
    """The queues a consultant answers (their skills)."""

    __tablename__ = "user_queue"

    user_id: int = Field(foreign_key="staff_user.id", primary_key=True)
    queue_id: int = Field(foreign_key="queue.id", primary_key=True)


class Ticket(SQLModel, table=True):
    """One conversation with a resident about one matter, across channels.

    The resident-facing number (``PTSP-000123``) is derived from the id, so it is
    unique by construction and costs no extra write.
    """

    __table_args__ = (
        sa.Index("ix_ticket_status_queue", "status", "queue_id", "sla_due_at"),
        # "Mine": one range per status, in due-time order with ties by id.
        sa.Index("ix_ticket_assignee_status", "assignee_id", "status", "sla_due_at", "id"),
        # Consultants' queues across all queues ("all open", "waiting", "breaching
        # soon"): one range per status, already in due-time order.
        sa.Index("ix_ticket_status_due", "status", "sla_due_at", "id"),
        # "Unassigned in my queues": one ordered range per status and queue.
        sa.Index("ix_ticket_unassigned_due", "status", "queue_id", "sla_due_at", "id",
                 sqlite_where=sa.text("assignee_id IS NULL"),
                 postgresql_where=sa.text("assignee_id IS NULL")),
        # The channel filter on the queues.
        sa.Index("ix_ticket_status_channel_due", "status", "channel", "sla_due_at", "id"),
        sa.Index("ix_ticket_conversation", "conversation_key", "status"),
        sa.Index("ix_ticket_contact_status", "contact_id", "status"),
        # A resident's other tickets, newest first (the contact card): without it
        # PostgreSQL walks the primary key backwards through the whole table.
        sa.Index("ix_ticket_contact_id", "contact_id", "id"),
        sa.Index("ix_ticket_created", "created_at", "channel"),
        # Durations in seconds kept by helpdesk.reports_summary when the first
        # reply or the resolution is recorded, so reports sort integers instead
        # of replaying events. Business seconds count Jakarta opening hours
        # outside holidays and pending time. Written only with SQL, hence left
        # out of the ORM mapping (__mapper_args__): loading or saving a ticket
        # never touches them.
        sa.Column("first_response_seconds", sa.Integer(), nullable=True),
        sa.Column("first_response_business_seconds", sa.Integer(), nullable=True),
        sa.Column("resolution_seconds", sa.Integer(), nullable=True),
        sa.Column("resolution_business_seconds", sa.Integer(), nullable=True),
        # Supervisor reports: a period (created_at) narrowed by one filter.
        sa.Index("ix_ticket_report_queue", "queue_id", "created_at"),
        sa.Index("ix_ticket_report_assignee", "assignee_id", "created_at"),
        sa.Index("ix_ticket_report_category", "category", "created_at"),
        sa.Index("ix_ticket_report_category_resolved", "category", "resolved_at"),
        sa.Index("ix_ticket_report_faq", "auto_answer_entry", "created_at"),
    )
    __mapper_args__ = {"exclude_properties": [
        "first_response_seconds", "first_response_business_seconds",
        "resolution_seconds", "resolution_business_seconds"]}

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(default="", max_length=300)
    status: str = Field(default=TicketStatus.NEW, max_length=20)
    channel: str = Field(max_length=20)
    contact_id: int = Field(foreign_key="contact.id")
    queue_id: int | None = Field(default=None, foreign_key="queue.id")
    assignee_id: int | None = Field(default=None, foreign_key="staff_user.id")
    priority: int = 2  # 1 urgent, 2 normal, 3 low
    category: str = Field(default="", max_length=64)
    # The channel conversation a chat or callback thread maps to (channel:id).
    conversation_key: str | None = Field(default=None, max_length=200)
    linked_ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    merged_into_id: int | None = Field(default=None, foreign_key="ticket.id")
    created_at: datetime = _created()
    updated_at: datetime = _created()
    last_message_at: datetime | None = _time()
    first_response_at: datetime | None = _time()
    resolved_at: datetime | None = _time(index=True)
    closed_at: datetime | None = _time()
    # While the resident is asked whether an automatic answer helped.
    awaiting_until: datetime | None = _time(index=True)
    auto_answer_entry: str | None = Field(default=None, max_length=64)
    answered_by_faq: bool = False
    # Summary columns kept up to date by the SLA clock, so queues and reports
    # read indexed columns instead of replaying events.
    sla_due_at: datetime | None = _time()
    resolution_due_at: datetime | None = _time()
    first_response_breached: bool = False
    resolution_breached: bool = False
    satisfaction: int | None = None

    @property
    def number(self) -> str:
        assert self.id is not None, "a ticket has a number once it is stored"
        return format_number(self.id)


class Message(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("channel", "external_id", name="uq_message_channel_external"),
        sa.Index("ix_message_ticket", "ticket_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id")
    direction: str = Field(max_length=8)
    channel: str = Field(max_length=20)
    external_id: str = Field(max_length=400)
    author_kind: str = Field(default=AuthorKind.RESIDENT, max_length=20)
    author_user_id: int | None = Field(default=None, foreign_key="staff_user.id")
    identity_id: int | None = Field(default=None, foreign_key="contact_identity.id")
    subject: str = Field(default="", max_length=300)
    text: str = Field(default="", sa_column=sa.Column(sa.Text(), nullable=False))
    # Sanitised before it is stored; pages may show it as HTML.
    html: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    meta: dict[str, Any] = _json()
    created_at: datetime = _created()


class Attachment(SQLModel, table=True):
    """A file kept in the data directory under its sha256."""

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    sha256: str = Field(max_length=64, index=True)
    size: int
    content_type: str = Field(max_length=200)
    filename: str = Field(max_length=300)
    inline: bool = False
    content_id: str | None = Field(default=None, max_length=300)


class Event(SQLModel, table=True):
    """Something that happened to a ticket: append-only."""

    __table_args__ = (
        sa.Index("ix_event_ticket", "ticket_id", "id"),
        sa.Index("ix_event_kind_time", "kind", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id")
    kind: str = Field(max_length=40)
    actor_user_id: int | None = Field(default=None, foreign_key="staff_user.id")
    # Who did it when it was not a person: "intake", "router", "sla", "resident".
    actor: str = Field(default="system", max_length=40)
    data: dict[str, Any] = _json()
    created_at: datetime = _created()


class OutboxItem(SQLModel, table=True):
    """A reply or webhook call waiting to go out, with its delivery history."""

    __tablename__ = "outbox_item"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="reply", max_length=20)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    channel: str = Field(max_length=40)
    idempotency_key: str = Field(max_length=200, sa_column_kwargs={"unique": True})
    payload: dict[str, Any] = _json()
    status: str = Field(default=OutboxStatus.PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = _created()
    claimed_until: datetime | None = _time()
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    external_ref: str | None = Field(default=None, max_length=400, index=True)
    created_at: datetime = _created()
    sent_at: datetime | None = _time()


class QuarantineItem(SQLModel, table=True):
    """Input that could not become an inquiry, kept raw with the reason."""

    __tablename__ = "quarantine_item"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=40, index=True)
    source_ref: str | None = Field(default=None, max_length=400)
    raw: bytes = Field(sa_column=sa.Column(sa.LargeBinary(), nullable=False))
    reason: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    state: str = Field(default=QuarantineState.HELD, max_length=20, index=True)
    created_at: datetime = _created()
    resolved_at: datetime | None = _time()


class ChannelState(SQLModel, table=True):
    """A channel's durable cursor and its health, shown to administrators."""

    __tablename__ = "channel_state"

    key: str = Field(primary_key=True, max_length=120)
    cursor: dict[str, Any] = _json()
    ok: bool = True
    last_success_at: datetime | None = _time()
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    last_error_at: datetime | None = _time()
    counts: dict[str, Any] = _json()
    updated_at: datetime = _created()


class FaqRecord(SQLModel, table=True):
    """An FAQ entry as administrators edit it; the matcher is built from these."""

    __tablename__ = "faq_entry"

    id: str = Field(primary_key=True, max_length=64)
    category: str = Field(max_length=64)
    question: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    phrasings: list[str] = _json(list)
    answer: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    links: list[str] = _json(list)
    tags: list[str] = _json(list)
    enabled: bool = True
    updated_at: datetime = _created()


class CannedReply(SQLModel, table=True):
    __tablename__ = "canned_reply"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    body: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    active: bool = True


# Supervisor report summary rows, kept by helpdesk.reports_rollup: per Jakarta
# day and filter combination (channel, queue, consultant, category). Reports sum
# these few rows instead of scanning the period's tickets.
class ReportDay(SQLModel, table=True):
    """Counts of the tickets opened (and, in separate rows, resolved) on ``day``."""

    __tablename__ = "report_day"
    __table_args__ = (sa.Index("ix_report_day_day", "day", "channel", "assignee_id"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    channel: str = Field(max_length=20)
    queue_id: int | None = None
    assignee_id: int | None = None
    category: str = Field(default="", max_length=64)
    # Tickets opened that day.
    opened: int = 0
    auto_answered: int = 0
    answered_by_faq: int = 0
    person: int = 0  # not answered by the FAQ
    responded: int = 0
    awaiting: int = 0
    with_target: int = 0
    fr_breached: int = 0
    res_breached: int = 0
    breached: int = 0
    rated: int = 0
    rating_sum: int = 0
    rating_1: int = 0
    rating_2: int = 0
    rating_3: int = 0
    rating_4: int = 0
    rating_5: int = 0
    person_rated: int = 0
    person_rating_sum: int = 0
    person_resolved: int = 0  # opened that day, by a person, resolved since
    resolved_since: int = 0  # opened that day, resolved since (any way)
    still_open: int = 0  # opened that day, unresolved and open now
    # Tickets whose latest resolution fell on that day.
    resolved_all: int = 0
    resolved_person: int = 0


class ReportHour(SQLModel, table=True):
    """Tickets opened per Jakarta day by the hour they came in (the heatmap): a
    row per day and filter combination with a column per hour, so a month's
    heatmap sums as many rows as report_day has, not 24 times as many."""

    __tablename__ = "report_hour"
    __table_args__ = (sa.Index("ix_report_hour_day", "day", "channel", "assignee_id"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    channel: str = Field(max_length=20)
    queue_id: int | None = None
    assignee_id: int | None = None
    category: str = Field(default="", max_length=64)
    h00: int = 0
    h01: int = 0
    h02: int = 0
    h03: int = 0
    h04: int = 0
    h05: int = 0
    h06: int = 0
    h07: int = 0
    h08: int = 0
    h09: int = 0
    h10: int = 0
    h11: int = 0
    h12: int = 0
    h13: int = 0
    h14: int = 0
    h15: int = 0
    h16: int = 0
    h17: int = 0
    h18: int = 0
    h19: int = 0
    h20: int = 0
    h21: int = 0
    h22: int = 0
    h23: int = 0


class ReportFaq(SQLModel, table=True):
    """Automatic answers per FAQ entry and the residents' yes/no, per day opened."""

    __tablename__ = "report_faq"
    __table_args__ = (sa.Index("ix_report_faq_day", "day", "entry"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date
    entry: str = Field(max_length=64)
    channel: str = Field(max_length=20)
    queue_id: int | None = None
    assignee_id: int | None = None
    category: str = Field(default="", max_length=64)
    sent: int = 0
    answered_by_faq: int = 0
    helpful: int = 0
    not_helpful: int = 0


class ReportDuration(SQLModel, table=True):
    """Duration histograms: how many tickets of the day took ``bucket`` seconds
    (the bucket's lower bound, see reports_rollup.bucket_width) per metric, for
    the combinations of consultant, channel, queue and category that
    reports_rollup.SLOTS keeps (-1 or "" where the histogram is over all)."""

    __tablename__ = "report_duration"
    __table_args__ = (sa.Index("ix_report_duration", "metric", "assignee", "channel", "queue",
                               "category", "day", "bucket", "n"),
                      sa.Index("ix_report_duration_day", "day"))

    id: int | None = Field(default=None, primary_key=True)
    day: date
    metric: int
    assignee: int  # -1 for every consultant
    channel: str = Field(default="", max_length=20)  # "" for every channel
    queue: int = -1  # -1 for every queue
    category: str = Field(default="", max_length=64)  # "" for every category
    bucket: int
    n: int


class ReportDirty(SQLModel, table=True):
    """Days (or tickets whose days) the summary rows must be recomputed for."""

    __tablename__ = "report_dirty"

    id: int | None = Field(default=None, primary_key=True)
    day: date | None = None
    ticket_id: int | None = None
