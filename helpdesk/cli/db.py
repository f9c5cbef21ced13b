"""``tanya-ptsp db``: schema migrations."""

from __future__ import annotations

import argparse

from helpdesk.cli.common import config_from, open_store
from helpdesk.migrate import current_revision, head_revision


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("db", help="database schema")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="apply the pending migrations")
    up.set_defaults(handler=run_upgrade)
    show = actions.add_parser("status", help="show the schema revision")
    show.set_defaults(handler=run_status)


def run_upgrade(args: argparse.Namespace) -> int:
    config = config_from(args)
    store = open_store(config)
    try:
        print(f"database {store.url.render_as_string(hide_password=True)} is at revision "
              f"{current_revision(store)}")
    finally:
        store.dispose()
    return 0


def run_status(args: argparse.Namespace) -> int:
    config = config_from(args)
    store = open_store(config, migrate=False)
    try:
        current, head = current_revision(store), head_revision(store)
        state = "up to date" if current == head else f"behind (latest is {head})"
        print(f"revision {current}: {state}")
    finally:
        store.dispose()
    return 0
