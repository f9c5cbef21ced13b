"""``tanya-ptsp reports``: the supervisor reports' summary rows."""

from __future__ import annotations

import argparse
import time

import sqlalchemy as sa

from helpdesk.cli.common import config_from, open_store
from helpdesk.reports_rollup import DAY, rebuild, refresh


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("reports", help="supervisor reports: summary rows")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    full = actions.add_parser("rebuild", help="recompute every summary row from the tickets")
    full.set_defaults(handler=run_rebuild)
    dirty = actions.add_parser("refresh", help="recompute only the days changed since the "
                                               "last refresh (the dashboard does this too)")
    dirty.set_defaults(handler=run_refresh)


def run_rebuild(args: argparse.Namespace) -> int:
    store = open_store(config_from(args))
    try:
        started = time.perf_counter()
        with store.write() as session:
            conn = session.connection()
            rebuild(conn)
            rows = conn.execute(sa.select(sa.func.count()).select_from(DAY)).scalar_one()
        print(f"Rebuilt the report summary rows ({rows:,} day rows) in "
              f"{time.perf_counter() - started:.1f} s")
    finally:
        store.dispose()
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    store = open_store(config_from(args))
    try:
        with store.write() as session:
            cleared = refresh(session.connection())
        print(f"Recomputed the days of {cleared:,} changes")
    finally:
        store.dispose()
    return 0
