"""Routing rules: first match wins, keywords after Indonesian normalisation,
and every decision stored with the rule and the reasons."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from channels.base import Channel, Identity, IdentityKind, Inquiry
from helpdesk.config import Config, RoutingRuleConfig, load_config
from helpdesk.models import Event, Queue, Ticket
from helpdesk.routing import Router, RoutingInput
from helpdesk.store import Store
from tests.helpdesk.desk import Clock, desk
from tests.helpdesk.factories import T0, chat_inquiry, email_inquiry, phone_inquiry

ROUTER = Router(load_config(environ={}).routing.rules, "umum")

TABLE = [
    # (channel, text, FAQ categories, identities, flags) -> (rule, queue, priority, reason)
    ("email", "Ada PUNGUTAN LIAR di loket kecamatan!", (), (), (),
     "pengaduan-kata", "pengaduan", 1, "the message mentions 'pungli'"),
    ("telegram", "min sy mau komplen, pelayanannya lambat bgt, sy kecewa", (), (), (),
     "pengaduan-kata", "pengaduan", 1, "the message mentions 'kecewa'"),
    ("email", "bagaimana cara melapor?", (("pengaduan", 88.0),), (), (),
     "pengaduan-faq", "pengaduan", 1, "best FAQ suggestion is in category 'pengaduan'"),
    ("phone", "Panggilan tak terjawab", (), (), ("callback_needed",),
     "telepon-balik", "telepon-balik", None, "the message is marked callback_needed"),
    ("phone", "Panggilan dijawab", (), (), (), None, "umum", None, ""),
    ("webchat", "cara lapor lkpm gmn ya", (), (), (),
     "investasi-kata", "investasi", None, "the message mentions 'lkpm'"),
    ("email", "Mohon info penanaman modal asing", (), (), (),
     "investasi-kata", "investasi", None, "the message mentions 'investasi'"),
    ("email", "apa syarat PB UMKU?", (("penanaman_modal", 72.0),), (), (),
     "investasi", "investasi", None, "category 'penanaman_modal'"),
    ("email", "jam buka mpp?", (("waktu_layanan", 100.0),), (), (), None, "umum", None, ""),
]


@pytest.mark.parametrize(
    ("channel", "text", "categories", "identities", "flags", "rule", "queue", "priority",
     "reason"), TABLE, ids=[f"{row[0]}:{row[1][:24]}" for row in TABLE])
def test_rule_table(channel: str, text: str, categories: tuple[tuple[str, float], ...],
                    identities: tuple[tuple[str, str], ...], flags: tuple[str, ...],
                    rule: str | None, queue: str, priority: int | None, reason: str) -> None:
    decision = ROUTER.decide(RoutingInput(channel=channel, text=text,
                                          faq_categories=categories, identities=identities,
                                          flags=frozenset(flags)))
    assert (decision.rule, decision.queue, decision.priority) == (rule, queue, priority)
    assert reason in decision.explanation()
    if rule is None:
        assert decision.explanation() == "no rule matched; the default queue"


def test_all_conditions_of_a_rule_must_hold_and_the_first_match_wins() -> None:
    rules = (
        RoutingRuleConfig(name="dinas-pbg", email_domains=("jakarta.go.id",),
                          keywords=("pbg",), queue="instansi", priority=1),
        RoutingRuleConfig(name="pbg", keywords=("persetujuan bangunan gedung", "pbg"),
                          queue="bangunan", category="bangunan"),
        RoutingRuleConfig(name="vip", senders=("+6281234567890",), queue="vip"),
    )
    router = Router(rules, "umum")
    official = (("email", "kasi@dpmptsp.jakarta.go.id"),)
    decision = router.decide(RoutingInput("email", "status PBG kantor kami?",
                                          identities=official))
    assert decision.rule == "dinas-pbg"
    assert decision.reasons == ("the message mentions 'pbg'",
                                "the resident writes from dpmptsp.jakarta.go.id")
    resident = (("email", "budi@gmail.com"),)
    assert router.decide(RoutingInput("email", "status PBG?", identities=resident)).queue \
        == "bangunan"
    # Whole words only: "pbgx" is not "pbg".
    assert router.decide(RoutingInput("email", "kode pbgx")).rule is None
    caller = (("phone", "+6281234567890"),)
    assert router.decide(RoutingInput("phone", "halo", identities=caller)).queue == "vip"


def test_each_decision_is_stored_with_its_explanation(config: Config, store: Store) -> None:
    services = desk(config, store, Clock(T0))
    inquiries = [
        email_inquiry(1, text="Saya mau melaporkan pungli oleh oknum petugas"),
        chat_inquiry(2, "100002", text="cara lapor lkpm gmn"),
        email_inquiry(3, text="Mohon info jam layanan hari Sabtu"),
        Inquiry(channel=Channel.PHONE, external_id="cdr:9",
                sender=Identity(IdentityKind.PHONE, "+6281234500009"),
                text="Panggilan tak terjawab", received_at=T0,
                meta={"callback_needed": True}),
        phone_inquiry(4, "+6281234500004"),
    ]
    ids = [services.intake.receive(i).ticket_id for i in inquiries]
    with store.read() as session:
        queues = {q.id: q.name for q in session.exec(select(Queue))}
        routed = {}
        for ticket_id in ids:
            ticket = session.get_one(Ticket, ticket_id)
            event = session.exec(select(Event).where(
                Event.ticket_id == ticket_id, Event.kind == "ticket.routed")
                .order_by(col(Event.id))).one()
            routed[ticket_id] = (queues[ticket.queue_id or 0], ticket.priority,
                                 event.data["rule"], event.data["why"])
    got = [routed[i] for i in ids]
    # The FAQ recognised both questions, so the category rules decided.
    assert got[0][:3] == ("pengaduan", 1, "pengaduan-faq")
    assert got[0][3].startswith("rule 'pengaduan-faq': best FAQ suggestion is in category")
    assert got[1][:3] == ("investasi", 2, "investasi")
    assert got[2] == ("umum", 2, None, "no rule matched; the default queue")
    assert got[3][:3] == ("telepon-balik", 2, "telepon-balik")
    assert "callback_needed" in got[3][3]
    assert got[4][0] == "umum"  # the factory's phone inquiry carries no callback mark
