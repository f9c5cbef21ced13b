"""Routing: which queue, priority and category a new ticket gets, and why.

Administrators write ordered rules in ``config.toml``; the first rule whose
conditions all hold decides, and a ticket no rule matches goes to the default
queue. Keywords are compared after the knowledge base's Indonesian
normalisation, so "ijin", "pungutan liar" or "LKPM" in any spelling meet the
rule's words. Every decision is stored as a ``ticket.routed`` event naming the
rule and the reasons, so a supervisor can see why a ticket landed where it did.

:class:`Router` is pure; :func:`route_ticket` applies a decision in a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session

from helpdesk.config import RoutingRuleConfig
from helpdesk.intake import ensure_queue
from helpdesk.models import Ticket
from helpdesk.policy_sql import add_event
from knowledge_base.normalization import Normalizer, default_normalizer


@dataclass(frozen=True, slots=True)
class RoutingInput:
    channel: str
    text: str
    subject: str = ""
    # (category, score) of the FAQ suggestions, best first.
    faq_categories: tuple[tuple[str, float], ...] = ()
    # (kind, value) of the resident's identities.
    identities: tuple[tuple[str, str], ...] = ()
    # Marks the channel set on the message (meta keys whose value is true).
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    queue: str
    priority: int | None  # None keeps the ticket's priority
    category: str
    rule: str | None  # None: no rule matched, the default queue
    reasons: tuple[str, ...] = field(default=())

    def explanation(self) -> str:
        if self.rule is None:
            return "no rule matched; the default queue"
        return f"rule {self.rule!r}: " + "; ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    config: RoutingRuleConfig
    # Each keyword as its normalised words, matched as a run of whole words.
    keywords: tuple[tuple[tuple[str, ...], str], ...]


class Router:
    def __init__(self, rules: Sequence[RoutingRuleConfig], default_queue: str, *,
                 normalizer: Normalizer | None = None) -> None:
        self.normalizer = normalizer or default_normalizer()
        self.default_queue = default_queue
        self.rules = tuple(
            _CompiledRule(rule, tuple((tuple(self.normalizer.tokens(k)), k)
                                      for k in rule.keywords if self.normalizer.tokens(k)))
            for rule in rules)

    def decide(self, item: RoutingInput) -> RoutingDecision:
        words: tuple[str, ...] | None = None  # normalised only if a rule asks
        best_category = item.faq_categories[0][0] if item.faq_categories else ""
        for compiled in self.rules:
            rule = compiled.config
            reasons: list[str] = []
            if rule.channels:
                if item.channel not in rule.channels:
                    continue
                reasons.append(f"channel is {item.channel}")
            if rule.flags:
                flag = next((f for f in rule.flags if f in item.flags), None)
                if flag is None:
                    continue
                reasons.append(f"the message is marked {flag}")
            if rule.faq_categories:
                found = next(((c, s) for c, s in item.faq_categories[:1]
                              if c in rule.faq_categories), None)
                if found is None:
                    continue
                reasons.append(f"best FAQ suggestion is in category {found[0]!r} "
                               f"(score {found[1]:.0f})")
            if compiled.keywords:
                if words is None:
                    words = tuple(self.normalizer.tokens(f"{item.subject}\n{item.text}"))
                if not words:  # nothing written (a call without notes) mentions nothing
                    continue
                hit = next((text for kw, text in compiled.keywords if _contains(words, kw)),
                           None)
                if hit is None:
                    continue
                reasons.append(f"the message mentions {hit!r}")
            if rule.identity_kinds or rule.email_domains or rule.senders:
                why = _contact_reason(rule, item.identities)
                if why is None:
                    continue
                reasons.append(why)
            return RoutingDecision(
                queue=rule.queue or self.default_queue,
                priority=rule.priority or None,
                category=rule.category or best_category,
                rule=rule.name, reasons=tuple(reasons) or ("the rule has no conditions",))
        return RoutingDecision(queue=self.default_queue, priority=None, category=best_category,
                               rule=None)


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    if n == 1:
        return phrase[0] in words
    return any(words[i:i + n] == phrase for i in range(len(words) - n + 1))


def _contact_reason(rule: RoutingRuleConfig,
                    identities: tuple[tuple[str, str], ...]) -> str | None:
    reasons: list[str] = []
    if rule.identity_kinds:
        kind = next((k for k, _ in identities if k in rule.identity_kinds), None)
        if kind is None:
            return None
        reasons.append(f"the resident has a {kind} identity")
    if rule.email_domains:
        domains = {d.lower().lstrip("@") for d in rule.email_domains}
        address = next((v for k, v in identities if k == "email"
                        and (v.rsplit("@", 1)[-1].lower() in domains
                             or any(v.lower().endswith("." + d) for d in domains))), None)
        if address is None:
            return None
        reasons.append(f"the resident writes from {address.rsplit('@', 1)[-1]}")
    if rule.senders:
        wanted = {s.lower() for s in rule.senders}
        sender = next((v for _, v in identities if v.lower() in wanted), None)
        if sender is None:
            return None
        reasons.append(f"the sender {sender} is listed")
    return "; ".join(reasons)


def route_ticket(session: Session, ticket: Ticket, decision: RoutingDecision, *,
                 now: datetime, extra: dict[str, Any] | None = None) -> None:
    """Apply a decision to the ticket and store it as a ``ticket.routed`` event."""
    data = apply_decision(ticket, decision, ensure_queue(session, decision.queue), extra)
    ticket.updated_at = now
    add_event(session, ticket_id=ticket.id, kind="ticket.routed", actor="router", data=data,
              created_at=now)


def apply_decision(ticket: Any, decision: RoutingDecision, queue_id: int,
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Set the ticket's queue, priority and category; returns the data of the
    ``ticket.routed`` event that explains them (a ticket or a bulk import's row)."""
    before = {"queue_id": ticket.queue_id, "priority": ticket.priority,
              "category": ticket.category}
    ticket.queue_id = queue_id
    if decision.priority is not None:
        ticket.priority = decision.priority
    if decision.category:
        ticket.category = decision.category[:64]
    data: dict[str, Any] = {
        "rule": decision.rule, "queue": decision.queue, "priority": ticket.priority,
        "category": ticket.category, "reasons": list(decision.reasons),
        "why": decision.explanation(), "before": before,
    }
    data.update(extra or {})
    return data
