"""Schema migrations (Alembic), applied by ``tanya-ptsp db upgrade`` and on serve."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from helpdesk.store import Store

MIGRATIONS = Path(__file__).with_name("migrations")


def _alembic_config(store: Store) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", store.url.render_as_string(hide_password=False))
    return cfg


def upgrade(store: Store, revision: str = "head") -> None:
    cfg = _alembic_config(store)
    with store.write_engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(store: Store) -> str | None:
    return ScriptDirectory.from_config(_alembic_config(store)).get_current_head()


def make_revision(store: Store, message: str) -> None:
    """Write a new migration from the difference between the models and ``store``."""
    cfg = _alembic_config(store)
    with store.write_engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.revision(cfg, message=message, autogenerate=True)
