"""A small hand-made history whose figures the tests work out by hand.

All times are Jakarta wall times (UTC+7) in the week of Monday 23 November 2026.
The report covers Monday 23 to Wednesday 25 November.

#1 email,    Mon 09:00, first reply Mon 09:30 (Ani), resolved Mon 11:00, rated 5
#2 telegram, Mon 10:00, first reply Mon 13:00 (Ani), resolved Tue 10:00, rated 3,
   first response breached
#3 webchat,  Mon 15:00, only the bot answered; resolved Mon 15:05 by the FAQ "yes"
#4 webchat,  Tue 08:30, the bot answered, the resident said "no", Budi replied 09:30
#5 phone,    Tue 20:00, no reply yet, assigned to Budi
#6 email,    Sun 22:00, first reply Mon 08:10 (Ani), resolved Mon 12:00: before the period
#7 email,    Mon 09:05, merged into #1: never counted
#8 email,    Thu 26 09:00: after the period
#1, #3 and #4 are in category "nib", the others in none ("").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from helpdesk.models import Contact, Event, FaqRecord, Queue, Ticket, User
from helpdesk.reports_filters import ReportFilter, T
from helpdesk.reports_rollup import refresh
from helpdesk.store import Store

WIB = timedelta(hours=7)
FIRST_DAY = date(2026, 11, 23)
LAST_DAY = date(2026, 11, 25)


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    """A Jakarta wall time in November 2026 as an aware UTC instant."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - WIB


@dataclass
class History:
    queue_id: int
    a: int
    b: int
    ids: dict[int, int]

    def report(self, **filters: Any) -> ReportFilter:
        return ReportFilter(first_day=FIRST_DAY, last_day=LAST_DAY, **filters)


def build_history(store: Store) -> History:
    with store.write() as session:
        queue = Queue(name="perizinan", title="Perizinan")
        a = User(email="ani@ptsp.example", name="Ani", role="consultant")
        b = User(email="budi@ptsp.example", name="Budi", role="consultant")
        contact = Contact(name="Warga")
        session.add_all([queue, a, b, contact])
        session.add(FaqRecord(id="nib-apa", category="nib", question="Apa itu NIB?",
                              answer="NIB adalah ...", phrasings=[]))
        session.flush()
        assert queue.id and a.id and b.id and contact.id
        ids: dict[int, int] = {}

        def ticket(n: int, channel: str, opened: datetime, **values: Any) -> None:
            row = Ticket(subject=f"Pertanyaan {n}", channel=channel, contact_id=contact.id or 0,
                         queue_id=queue.id, created_at=opened, updated_at=opened, **values)
            session.add(row)
            session.flush()
            assert row.id is not None
            ids[n] = row.id

        due = {"sla_due_at": wib(30, 9)}
        ticket(1, "email", wib(23, 9), assignee_id=a.id, status="resolved", category="nib",
               first_response_at=wib(23, 9, 30), resolved_at=wib(23, 11), satisfaction=5, **due)
        ticket(2, "telegram", wib(23, 10), assignee_id=a.id, status="resolved",
               first_response_at=wib(23, 13), resolved_at=wib(24, 10), satisfaction=3,
               first_response_breached=True, **due)
        ticket(3, "webchat", wib(23, 15), status="resolved", resolved_at=wib(23, 15, 5),
               auto_answer_entry="nib-apa", answered_by_faq=True, category="nib")
        ticket(4, "webchat", wib(24, 8, 30), assignee_id=b.id, status="open", category="nib",
               first_response_at=wib(24, 9, 30), auto_answer_entry="nib-apa", **due)
        ticket(5, "phone", wib(24, 20), assignee_id=b.id, status="new", **due)
        ticket(6, "email", wib(22, 22), assignee_id=a.id, status="resolved",
               first_response_at=wib(23, 8, 10), resolved_at=wib(23, 12), **due)
        ticket(7, "email", wib(23, 9, 5), merged_into_id=ids[1], status="closed")
        ticket(8, "email", wib(26, 9), status="new")
        session.add(Event(ticket_id=ids[3], kind="faq.feedback", actor="resident",
                          data={"helpful": True, "entry": "nib-apa"}, created_at=wib(23, 15, 5)))
        session.add(Event(ticket_id=ids[4], kind="faq.feedback", actor="resident",
                          data={"helpful": False, "entry": "nib-apa"},
                          created_at=wib(24, 8, 40)))
        set_business_seconds(session, ids)
        refresh(session.connection())  # the reports' summary rows
        return History(queue_id=queue.id, a=a.id, b=b.id, ids=ids)


# Business seconds as the SLA clock would have them (Mon-Thu 08:00-12:00 and
# 13:00-16:00): #1 30 min; #2 10:00-12:00 = 120 min; #4 08:30-09:30 = 60 min;
# #6 opened Sunday night, first reply Monday 08:10 = 10 min, resolved Monday
# 12:00 = 240 min; #1 resolved 11:00 = 120 min; #2 resolved Tuesday 10:00 =
# Monday 10:00-12:00 + 13:00-16:00 + Tuesday 08:00-10:00 = 120 + 180 + 120 = 420 min.
BUSINESS = {
    1: (30 * 60, 120 * 60),
    2: (120 * 60, 420 * 60),
    4: (60 * 60, None),
    6: (10 * 60, 240 * 60),
}


def set_business_seconds(session: Session, ids: dict[int, int]) -> None:
    for n, (fr, res) in BUSINESS.items():
        session.execute(sa.update(T).where(T.c.id == ids[n]).values(
            first_response_business_seconds=fr, resolution_business_seconds=res))
