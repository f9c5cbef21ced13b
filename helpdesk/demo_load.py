"""Filling a database with demo data: staff, queues, FAQ, then the tickets.

Refuses a database that already holds demo data (its consultants are known by
their e-mail domain) unless forced, so running it twice by mistake does not
double every figure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from helpdesk import demo_text as words
from helpdesk.business_calendar import BusinessCalendar
from helpdesk.demo import DEMO_DOMAIN, FaqTopic, Generator, Ids, Plan, Rows, arrival_times
from helpdesk.intake import ensure_queue
from helpdesk.models import FaqRecord, Role, User, UserQueue
from helpdesk.passwords import hash_password
from helpdesk.reports_filters import table
from helpdesk.reports_rollup import rebuild
from helpdesk.sla import SlaPolicies
from helpdesk.store import Store

QUEUES = {"umum": "Umum", "pengaduan": "Pengaduan", "investasi": "Penanaman modal",
          "telepon-balik": "Telepon balik"}
ORDER = ("contact", "contact_identity", "ticket", "message", "event")


class DemoExists(RuntimeError):
    """The database already holds demo data."""


@dataclass
class DemoResult:
    tickets: int
    messages: int
    events: int
    seconds: float
    staff: list[tuple[str, str, str]]  # (name, email, role)


def has_demo(store: Store) -> bool:
    with store.read() as session:
        found = session.exec(select(User.id).where(
            col(User.email).like(f"%@{DEMO_DOMAIN}")).limit(1)).first()
        return found is not None


def _staff(session: Session, password_hash: str) -> tuple[dict[str, int],
                                                           dict[str, list[tuple[int, str]]],
                                                           list[tuple[str, str, str]]]:
    queues = {name: ensure_queue(session, name) for name in QUEUES}
    for name, title in QUEUES.items():
        session.execute(sa.update(table("queue")).where(table("queue").c.name == name,
                                                        table("queue").c.title == name)
                        .values(title=title))
    people: list[tuple[str, str, str]] = []
    by_queue: dict[str, list[tuple[int, str]]] = {name: [] for name in QUEUES}
    rng = random.Random(7)
    for name, skills in words.CONSULTANTS:
        user = _user(session, name, Role.CONSULTANT, password_hash, capacity=rng.randint(8, 15))
        people.append((name, user.email, Role.CONSULTANT.value))
        for queue in skills:
            by_queue[queue].append((user.id or 0, name))
            if session.get(UserQueue, (user.id, queues[queue])) is None:
                session.add(UserQueue(user_id=user.id or 0, queue_id=queues[queue]))
    for name in words.SUPERVISORS:
        user = _user(session, name, Role.SUPERVISOR, password_hash, capacity=0)
        people.append((name, user.email, Role.SUPERVISOR.value))
    return queues, by_queue, people


def _user(session: Session, name: str, role: Role, password_hash: str, capacity: int) -> User:
    email = f"{name.lower().replace(' ', '.')}@{DEMO_DOMAIN}"
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        user = User(email=email, name=name, role=role, password_hash=password_hash,
                    capacity=capacity, presence="online" if role == Role.CONSULTANT else
                    "offline")
        session.add(user)
        session.flush()
    return user


def _topics(session: Session) -> list[FaqTopic]:
    rows = session.exec(select(FaqRecord).where(col(FaqRecord.enabled).is_(True))).all()
    return [FaqTopic(r.id, r.category, r.question, tuple(r.phrasings), r.answer) for r in rows]


def _next_ids(conn: Connection) -> Ids:
    def after(name: str) -> int:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(table(name).c.id), 0)))
                   .scalar_one()) + 1

    return Ids(contact=after("contact"), identity=after("contact_identity"),
               ticket=after("ticket"))


def insert_rows(conn: Connection, rows: Rows) -> None:
    """Multi-row INSERTs, parents first."""
    for name in ORDER:
        if rows.get(name):
            conn.execute(sa.insert(table(name)), rows[name])


def fix_sequences(conn: Connection) -> None:
    """PostgreSQL keeps serial counters apart from the rows: after explicit ids,
    move them past the largest id so the live help desk can insert again."""
    if conn.dialect.name != "postgresql":
        return
    for name in ORDER:
        conn.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {name}))"))


def load_demo(store: Store, calendar: BusinessCalendar, policies: SlaPolicies, *,
              tickets: int, password: str, now: datetime, days: int = 90, seed: int = 1500164,
              force: bool = False,
              progress: Callable[[int], None] | None = None) -> DemoResult:
    """Write ``tickets`` ticket histories over the last ``days`` days."""
    if has_demo(store) and not force:
        raise DemoExists("this database already holds demo data (use --force to add more)")
    started = time.perf_counter()
    with store.write() as session:
        queues, consultants, staff = _staff(session, hash_password(password))
        topics = _topics(session)
    if not topics:
        raise RuntimeError("the FAQ base is empty: the demo draws residents' questions from it")
    rng = random.Random(seed)
    plan = Plan(now=now, days=days, queues=queues, consultants=consultants, faqs=topics)
    generator = Generator(plan, calendar, policies, rng)
    times = arrival_times(rng, calendar, now, days, tickets)
    counts = {"message": 0, "event": 0}
    with store.write_engine.begin() as conn:
        ids = _next_ids(conn)
        for rows in generator.batches(times, ids):
            insert_rows(conn, rows)
            counts["message"] += len(rows["message"])
            counts["event"] += len(rows["event"])
            if progress is not None:
                progress(len(rows["ticket"]))
        fix_sequences(conn)
        rebuild(conn)  # the supervisor reports' summary rows, in one set-based pass
    return DemoResult(tickets=tickets, messages=counts["message"], events=counts["event"],
                      seconds=time.perf_counter() - started, staff=staff)
