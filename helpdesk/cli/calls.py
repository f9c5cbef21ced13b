"""``tanya-ptsp import-calls``: the phone system's call logs into tickets."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from channels.phone import CallLogFormatError
from helpdesk.bootstrap import build_services
from helpdesk.cli.common import config_from, fail, open_store, print_json
from helpdesk.runners.calls import import_call_log


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("import-calls", help="import a call log (Asterisk Master.csv or "
                                                 "a generic CSV mapped in the config)")
    parser.add_argument("file", type=Path)
    parser.add_argument("--format", choices=("asterisk", "generic"),
                        help="default from channels.phone.format")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        return fail(f"{args.file}: no such file")
    config = config_from(args)
    services = build_services(config, store=open_store(config))
    started = time.monotonic()
    show = sys.stderr.isatty() and not args.json

    def progress(rows: int) -> None:
        if show:
            rate = rows / max(time.monotonic() - started, 1e-6)
            print(f"\r{rows:>9,} rows  {rate:>8,.0f} rows/s", end="", file=sys.stderr,
                  flush=True)

    try:
        summary = import_call_log(services, args.file, format=args.format, progress=progress)
    except CallLogFormatError as exc:
        return fail(f"{args.file}: {exc}", 2)
    finally:
        services.close()
    if show:
        print(file=sys.stderr)
    if args.json:
        print_json({"file": str(args.file), "imported": summary.imported,
                    "duplicates": summary.duplicates, "rejected": summary.rejected,
                    "skipped": summary.skipped,
                    "problems": [{"line": line, "reason": reason}
                                 for line, reason in summary.problems]})
        return 0
    for line, reason in summary.problems[:200]:
        print(f"{args.file}:{line}: {reason}", file=sys.stderr)
    if len(summary.problems) > 200:
        print(f"... and {len(summary.problems) - 200} more (see --json or the quarantine)",
              file=sys.stderr)
    print(f"{args.file}: {summary.imported} imported, {summary.duplicates} duplicates, "
          f"{summary.rejected} rejected, {summary.skipped} skipped "
          f"in {time.monotonic() - started:.1f} s")
    return 0
