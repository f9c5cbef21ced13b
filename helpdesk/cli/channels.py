"""``tanya-ptsp channels status``: each channel runner's health, as administrators
see it on the channels page and integrations read it from ``GET /api/v1/channels``."""

from __future__ import annotations

import argparse
from datetime import datetime

from helpdesk.channel_state import ChannelStates, health_json
from helpdesk.cli.common import config_from, open_store, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("channels", help="channel health")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    status = actions.add_parser("status", help="each channel's health: last success, "
                                               "last error, counts")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=run_status)


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def run_status(args: argparse.Namespace) -> int:
    config = config_from(args)
    store = open_store(config)
    try:
        rows = [health_json(state) for state in ChannelStates(store).all()]
    finally:
        store.dispose()
    # Exit status 1 while a channel is failing, so monitoring can call this.
    status = 0 if all(row["ok"] for row in rows) else 1
    if args.json:
        print_json(rows)
        return status
    if not rows:
        print("no channel has reported yet (is `tanya-ptsp serve` running with a channel "
              "enabled?)")
        return 0
    for row in rows:
        state = "ok" if row["ok"] else "ERROR"
        print(f"{row['key']}: {state}")
        print(f"  last success: {row['last_success_at'] or 'never'}")
        if row["last_error"]:
            print(f"  last error:   {row['last_error_at']}  {row['last_error']}")
        if row["counts"]:
            counts = ", ".join(f"{k} {v}" for k, v in sorted(row["counts"].items()))
            print(f"  counts:       {counts}")
    return status
