"""The ``tanya-ptsp`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from helpdesk.cli import calls, channels, db, demo, kb, quarantine, reports, serve
from helpdesk.config_loader import ConfigError

COMMANDS = (serve, db, kb, quarantine, channels, calls, demo, reports)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tanya-ptsp",
        description="Tanya PTSP: the omnichannel help desk of a one-stop permit service.")
    parser.add_argument("--config", metavar="PATH",
                        help="configuration file (default: $TANYA_CONFIG, else built-in "
                             "defaults with an SQLite database in ./var/)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
    except ConfigError as exc:
        print(f"tanya-ptsp: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status
