"""``tanya-ptsp quarantine``: input that could not become an inquiry."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from helpdesk.channel_state import Quarantine
from helpdesk.cli.common import config_from, fail, open_store, print_json
from helpdesk.models import QuarantineState


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("quarantine", help="held input that could not be turned "
                                               "into an inquiry")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list held items")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--all", action="store_true", help="include retried and discarded")
    listing.set_defaults(handler=run_list)
    show = actions.add_parser("show", help="show one item with its raw content")
    show.add_argument("id", type=int)
    show.set_defaults(handler=run_show)
    discard = actions.add_parser("discard", help="mark an item discarded")
    discard.add_argument("id", type=int)
    discard.set_defaults(handler=run_discard)
    retry = actions.add_parser("retry", help="parse an item again and store it if it "
                                             "now parses")
    retry.add_argument("id", type=int)
    retry.set_defaults(handler=run_retry)


def run_list(args: argparse.Namespace) -> int:
    store = open_store(config_from(args))
    items = Quarantine(store).list(None if args.all else QuarantineState.HELD)
    rows: list[dict[str, Any]] = [
        {"id": i.id, "channel": i.channel, "state": i.state, "reason": i.reason,
         "source": i.source_ref, "size": len(i.raw), "created_at": i.created_at.isoformat()}
        for i in items]
    if args.json:
        print_json(rows)
    elif not rows:
        print("the quarantine is empty")
    else:
        for r in rows:
            print(f"#{r['id']:<5} {r['created_at'][:19]}  {r['channel']:<9} {r['state']:<9} "
                  f"{r['reason']}")
    store.dispose()
    return 0


def run_show(args: argparse.Namespace) -> int:
    store = open_store(config_from(args))
    item = Quarantine(store).get(args.id)
    store.dispose()
    if item is None:
        return fail(f"no quarantine item {args.id}")
    print(f"item:    #{item.id}\nchannel: {item.channel}\nstate:   {item.state}\n"
          f"source:  {item.source_ref}\nreason:  {item.reason}\n"
          f"time:    {item.created_at.isoformat()}\n")
    sys.stdout.flush()
    sys.stdout.buffer.write(item.raw)
    sys.stdout.buffer.write(b"\n")
    return 0


def run_discard(args: argparse.Namespace) -> int:
    store = open_store(config_from(args))
    quarantine = Quarantine(store)
    if quarantine.get(args.id) is None:
        store.dispose()
        return fail(f"no quarantine item {args.id}")
    quarantine.mark(args.id, QuarantineState.DISCARDED)
    store.dispose()
    print(f"quarantine item #{args.id} discarded")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    import asyncio

    from helpdesk.bootstrap import build_services
    from helpdesk.runners.retry import NoSuchItem, retry_quarantined

    config = config_from(args)
    services = build_services(config, store=open_store(config))
    try:
        result = asyncio.run(retry_quarantined(services, args.id))
    except NoSuchItem as exc:
        return fail(str(exc))
    finally:
        services.close()
    if not result.stored:
        return fail(f"quarantine item #{args.id} is still held: {result.reason}")
    print(f"quarantine item #{args.id} retried: {result.reason}")
    return 0
