"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from helpdesk.migrate import current_revision, head_revision, upgrade
from helpdesk.store import Store


def test_migrated_schema_matches_the_models(store: Store) -> None:
    upgrade(store)  # already at head: a second run changes nothing
    assert current_revision(store) == head_revision(store)
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
