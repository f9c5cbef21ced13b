"""Demo data: a living help desk over the past 90 days, written in bulk.

Residents write on every channel about the FAQ's topics; the FAQ answers some
of them automatically and they say whether it helped; the rest are routed to
a queue and a consultant who answers, mostly within Jakarta business hours,
sometimes late enough to breach the SLA; some wait on the resident (pending),
most are resolved, some are rated. Every row is what the live help desk would
have written (tickets, messages, events, summary columns), so every page works
on it. Rows go in with multi-row INSERTs; the benchmark reuses the generator
and writes with COPY on PostgreSQL.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from helpdesk import demo_text as words
from helpdesk.business_calendar import BusinessCalendar, Interval
from helpdesk.sla import SlaPolicies

DEMO_DOMAIN = "demo.tanya-ptsp.id"
CHANNEL_SHARE = {"email": 30, "telegram": 30, "webchat": 25, "phone": 15}
# Median minutes to a first reply by channel (business time), log-normal spread.
FIRST_REPLY_MEDIAN = {"email": 80.0, "telegram": 25.0, "webchat": 15.0, "phone": 45.0}
HOUR_WEIGHTS = (1, 1, 0, 0, 1, 2, 4, 8, 14, 18, 19, 16, 11, 14, 16, 14, 11, 8, 7, 6, 6, 5, 3, 2)
RATINGS = (1, 2, 3, 4, 5)
Rows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class FaqTopic:
    id: str
    category: str
    question: str
    phrasings: tuple[str, ...]
    answer: str


@dataclass
class Plan:
    """What the generator needs to know about the help desk it fills."""

    now: datetime
    days: int
    queues: dict[str, int]
    consultants: dict[str, list[tuple[int, str]]]
    faqs: list[FaqTopic]
    # Bench mode: two messages and three events per ticket, same figures.
    light: bool = False


@dataclass
class Ids:
    contact: int
    identity: int
    ticket: int


@dataclass
class _State:
    contacts: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)


def arrival_times(rng: random.Random, calendar: BusinessCalendar, now: datetime, days: int,
                  count: int) -> list[datetime]:
    """``count`` moments over the last ``days`` days, busy on working days at
    the counters' hours, quiet at night, on weekends and holidays; sorted."""
    today = calendar.local_date(now)
    all_days = [today - timedelta(days=i) for i in range(days)]
    weights = [_day_weight(calendar, d) for d in all_days]
    chosen = rng.choices(all_days, weights, k=count)
    hours = rng.choices(range(24), HOUR_WEIGHTS, k=count)
    out = []
    for day, hour in zip(chosen, hours, strict=True):
        local = datetime(day.year, day.month, day.day, hour, rng.randrange(60),
                         rng.randrange(60), tzinfo=calendar.zone)
        moment = local.astimezone(UTC)
        out.append(moment if moment < now else now - timedelta(minutes=rng.randrange(1, 300)))
    out.sort()
    return out


def _day_weight(calendar: BusinessCalendar, day: date) -> float:
    if calendar.holiday_name(day) is not None:
        return 0.3
    return {5: 0.35, 6: 0.25}.get(day.weekday(), 1.0)


def _lognormal(rng: random.Random, median: float, sigma: float = 1.0) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


class Generator:
    """Turns arrival times into the rows of whole ticket histories."""

    def __init__(self, plan: Plan, calendar: BusinessCalendar, policies: SlaPolicies,
                 rng: random.Random) -> None:
        self.plan = plan
        self.calendar = calendar
        self.policies = policies
        self.rng = rng
        self.state = _State()
        self.channels = list(CHANNEL_SHARE)
        self.channel_weights = list(CHANNEL_SHARE.values())

    def batches(self, times: list[datetime], ids: Ids, size: int = 5000) -> Iterator[Rows]:
        for start in range(0, len(times), size):
            rows: Rows = {"contact": [], "contact_identity": [], "ticket": [], "message": [],
                          "event": []}
            for created in times[start:start + size]:
                self.ticket(rows, ids, created)
            yield rows

    def _contact(self, rows: Rows, ids: Ids, channel: str, created: datetime) -> tuple[int, int,
                                                                                        str]:
        pool = self.state.contacts.setdefault(channel, [])
        if pool and self.rng.random() < 0.2:  # a resident who asked before
            return self.rng.choice(pool)
        rng = self.rng
        name = words.resident_name(rng)
        contact_id, identity_id = ids.contact, ids.identity
        ids.contact += 1
        ids.identity += 1
        if channel == "email":
            value = f"{name.lower().replace(' ', '.')}.{contact_id}@surel.contoh.id"
        elif channel == "telegram":
            value = str(5_000_000_000 + contact_id)
        elif channel == "webchat":
            value = f"wc-{contact_id:010x}"
        else:
            value = f"+62812{contact_id % 100_000_000:08d}"
        rows["contact"].append({"id": contact_id, "name": name, "created_at": created})
        rows["contact_identity"].append({
            "id": identity_id, "contact_id": contact_id, "kind": channel, "value": value,
            "display_name": name, "created_at": created})
        found = (contact_id, identity_id, name)
        if len(pool) < 5000:
            pool.append(found)
        return found

    def ticket(self, rows: Rows, ids: Ids, created: datetime) -> None:
        rng, cal, now = self.rng, self.calendar, self.plan.now
        channel = rng.choices(self.channels, self.channel_weights)[0]
        topic = rng.choice(self.plan.faqs)
        contact_id, identity_id, name = self._contact(rows, ids, channel, created)
        ticket_id = ids.ticket
        ids.ticket += 1
        queue = {"pengaduan": "pengaduan", "penanaman_modal": "investasi"}.get(
            topic.category, "umum")
        if channel == "phone":
            queue = "telepon-balik"
        priority = 1 if queue == "pengaduan" else 2
        target = self.policies.target_for(queue, priority, channel)
        phrasing = rng.choice(topic.phrasings or (topic.question,))
        text = (rng.choice(words.PHONE_TEXTS) if channel == "phone"
                else words.resident_message(phrasing, channel, name, rng))
        subject = (topic.question if channel == "email" else text.split("\n")[0])[:120]
        messages, events = rows["message"], rows["event"]
        light = self.plan.light

        def message(direction: str, author: str, body: str, at: datetime,
                    user: int | None = None) -> None:
            messages.append({
                "ticket_id": ticket_id, "direction": direction, "channel": channel,
                "external_id": f"demo:{ticket_id}:{len(messages)}", "author_kind": author,
                "author_user_id": user, "identity_id": identity_id if direction == "in" else None,
                "subject": subject, "text": body, "html": None, "meta": {"demo": True},
                "created_at": at})

        def event(kind: str, at: datetime, actor: str = "system", user: int | None = None,
                  **data: Any) -> None:
            if light and kind not in ("ticket.created", "ticket.assigned", "ticket.status"):
                return
            events.append({"ticket_id": ticket_id, "kind": kind, "actor": actor,
                           "actor_user_id": user, "data": data, "created_at": at})

        def status(at: datetime, actor: str, before: str, after: str,
                   user: int | None = None) -> None:
            event("ticket.status", at, actor, user, **{"from": before, "to": after})

        ticket: dict[str, Any] = {
            "id": ticket_id, "subject": subject, "status": "new", "channel": channel,
            "contact_id": contact_id, "queue_id": self.plan.queues.get(queue),
            "assignee_id": None, "priority": priority,
            "category": "telepon" if channel == "phone" else topic.category,
            "conversation_key": None if channel == "email" else f"{channel}:demo-{ticket_id}",
            "linked_ticket_id": None, "merged_into_id": None, "created_at": created,
            "updated_at": created, "last_message_at": created, "first_response_at": None,
            "resolved_at": None, "closed_at": None, "awaiting_until": None,
            "auto_answer_entry": None, "answered_by_faq": False, "sla_due_at": None,
            "resolution_due_at": None, "first_response_breached": False,
            "resolution_breached": False, "satisfaction": None,
            "first_response_seconds": None, "first_response_business_seconds": None,
            "resolution_seconds": None, "resolution_business_seconds": None,
        }
        rows["ticket"].append(ticket)
        message("in", "resident", text, created)
        event("ticket.created", created, "intake", channel=channel, subject=subject)
        event("message.received", created, "resident", channel=channel)
        pauses: list[Interval] = []
        routed_at = created
        if channel != "phone" and rng.random() < 0.35:
            # Answer first: the FAQ answer, then the resident's yes, no or silence.
            answered = created + timedelta(seconds=rng.randint(2, 20))
            ticket["auto_answer_entry"] = topic.id
            if not light:
                message("out", "bot", topic.answer[:800], answered)
            event("message.queued", answered, "bot")
            status(answered, "knowledge", "new", "pending")
            outcome = rng.choices(("yes", "no", "silence"), (55, 25, 20))[0]
            said = answered + timedelta(minutes=_lognormal(rng, 6, 0.8))
            if outcome == "silence":
                said = answered + timedelta(minutes=30)
            if said > now:
                ticket.update(status="pending", awaiting_until=answered + timedelta(minutes=30))
                return
            if outcome != "silence":
                event("faq.feedback", said, "resident", entry=topic.id,
                      helpful=outcome == "yes", via="button")
            if outcome == "yes":
                status(said, "resident", "pending", "resolved")
                ticket.update(status="resolved" if now - said < timedelta(days=7) else "closed",
                              answered_by_faq=True, resolved_at=said, updated_at=said)
                return
            pauses.append((answered, said))
            routed_at = said
            status(said, "knowledge", "pending", "open")
        consultants = self.plan.consultants.get(queue) or self.plan.consultants["umum"]
        agent_id, agent = rng.choice(consultants)
        ticket["assignee_id"] = agent_id
        event("ticket.routed", routed_at, "router", queue=queue)
        event("ticket.assigned", routed_at, "router", user=agent_id, to=agent_id)
        sla_due = cal.add_minutes(created, target.first_response_minutes, pauses)
        ticket["sla_due_at"] = sla_due
        ticket["resolution_due_at"] = cal.add_minutes(created, target.resolution_minutes, pauses)
        first = cal.add_minutes(routed_at, _lognormal(rng, FIRST_REPLY_MEDIAN[channel])) \
            + timedelta(seconds=rng.randrange(60))
        if first > now:
            ticket["first_response_breached"] = now > sla_due
            return
        reply = words.consultant_reply(topic.answer, name, agent, rng)
        message("out", "consultant", reply, first, agent_id)
        event("message.queued", first, "consultant", user=agent_id)
        status(first, "consultant", "new", "open", agent_id)
        ticket.update(status="open", first_response_at=first, updated_at=first,
                      first_response_breached=first > sla_due,
                      first_response_seconds=round((first - created).total_seconds()),
                      first_response_business_seconds=round(
                          cal.minutes_between(created, first, pauses) * 60))
        if first > sla_due:
            event("sla.breached", sla_due, "sla", target="first_response", policy=target.policy)
        ready = first
        if rng.random() < 0.25:
            # The consultant asks for a document; the clock waits on the resident.
            back = first + timedelta(hours=_lognormal(rng, 4, 1.0))
            status(first, "consultant", "open", "pending", agent_id)
            if back > now:
                ticket["status"] = "pending"
                return
            pauses.append((first, back))
            message("in", "resident", rng.choice(words.FOLLOW_UPS), back)
            status(back, "resident", "pending", "open")
            ready = back
        if rng.random() < 0.55 and ready is first:
            resolved = first + timedelta(minutes=rng.randint(1, 15))
        else:
            resolved = cal.add_minutes(ready, _lognormal(rng, 150, 1.1))
        if resolved > now:
            return
        res_due = cal.add_minutes(created, target.resolution_minutes, pauses)
        ticket["resolution_due_at"] = res_due
        status(resolved, "consultant", "open", "resolved", agent_id)
        late = resolved > res_due
        if late:
            event("sla.breached", res_due, "sla", target="resolution", policy=target.policy)
        ticket.update(status="resolved" if now - resolved < timedelta(days=7) else "closed",
                      resolved_at=resolved, updated_at=resolved, resolution_breached=late,
                      resolution_seconds=round((resolved - created).total_seconds()),
                      resolution_business_seconds=round(
                          cal.minutes_between(created, resolved, pauses) * 60))
        if channel != "phone" and rng.random() < 0.45:
            unhappy = late or ticket["first_response_breached"]
            weights = (14, 14, 22, 28, 22) if unhappy else (3, 4, 12, 36, 45)
            rating = rng.choices(RATINGS, weights)[0]
            ticket["satisfaction"] = rating
            event("satisfaction.rated", resolved + timedelta(minutes=rng.randint(2, 600)),
                  "resident", rating=rating, via="button")
