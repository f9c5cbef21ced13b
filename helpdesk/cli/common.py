"""What the commands share: configuration, the store, output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from helpdesk.config import Config, load_config
from helpdesk.migrate import upgrade
from helpdesk.store import Store


def config_from(args: argparse.Namespace) -> Config:
    return load_config(getattr(args, "config", None))


def open_store(config: Config, *, migrate: bool = True) -> Store:
    store = Store(config.database_url, echo=config.database.echo,
                  pool_size=config.database.pool_size)
    if migrate:
        upgrade(store)
    return store


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def fail(message: str, status: int = 1) -> int:
    print(f"tanya-ptsp: {message}", file=sys.stderr)
    return status
