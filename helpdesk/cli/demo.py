"""``tanya-ptsp demo``: fill the database with 90 days of realistic demo data."""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

from helpdesk.business_calendar import BusinessCalendar
from helpdesk.cli.common import config_from, fail, open_store
from helpdesk.demo_load import DemoExists, load_demo
from helpdesk.knowledge import KnowledgeService, faq_source, load_starter_if_empty
from helpdesk.models import utcnow
from helpdesk.sla import SlaPolicies

PASSWORD_ENV = "TANYA_DEMO_PASSWORD"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="fill the database with 90 days of demo data")
    parser.add_argument("--tickets", type=int, default=5000, metavar="N",
                        help="how many tickets (default 5000)")
    parser.add_argument("--days", type=int, default=90, help="over how many days (default 90)")
    parser.add_argument("--force", action="store_true",
                        help="add demo data even if the database already has some")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.tickets < 1 or args.days < 1:
        return fail("--tickets and --days must be at least 1", 2)
    config = config_from(args)
    store = open_store(config)
    try:
        knowledge = KnowledgeService(store, config.knowledge_base, utcnow)
        loaded = load_starter_if_empty(knowledge,
                                       faq_source(config.knowledge_base, Path(config.base_dir)))
        if loaded is not None:
            print(f"Loaded {loaded.added} FAQ entries into the empty FAQ base")
        password = os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(9)
        calendar = BusinessCalendar(config.business_hours, config.app.timezone)
        done = 0

        def progress(n: int) -> None:
            nonlocal done
            done += n
            print(f"\r{done:,} / {args.tickets:,} tickets", end="", flush=True)

        try:
            result = load_demo(store, calendar, SlaPolicies(config.sla), tickets=args.tickets,
                               password=password, now=utcnow(), days=args.days,
                               force=args.force, progress=progress)
        except DemoExists:
            # Not an error: the README's run command runs demo before every serve.
            print("This database already holds the demo data; nothing added (use --force "
                  "to add more). The demo accounts keep the password shown when they were "
                  "created; an administrator can reset it.")
            return 0
        print(f"\rWrote {result.tickets:,} tickets, {result.messages:,} messages and "
              f"{result.events:,} events over {args.days} days in {result.seconds:.1f} s "
              f"({store.url.render_as_string(hide_password=True)})")
        print("Sign in as any of these (all with the same password):")
        for name, email, role in result.staff:
            print(f"  {email:<42} {role:<11} {name}")
        source = f"from {PASSWORD_ENV}" if os.environ.get(PASSWORD_ENV) else "generated"
        print(f"Password ({source}): {password}")
        print("Then: tanya-ptsp serve   and open /reports as a supervisor")
    finally:
        store.dispose()
    return 0
