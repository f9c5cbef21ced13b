"""Fixtures shared by the whole suite: configuration, stores on SQLite and on a
throwaway PostgreSQL cluster, and the assembled services."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from playwright.async_api import expect as async_expect
from playwright.sync_api import expect as sync_expect

from helpdesk.bootstrap import Services, build_services
from helpdesk.config import Config, load_config
from helpdesk.migrate import upgrade
from helpdesk.store import Store
from tests.servers.postgres import PostgresCluster

TEMPLATE_DB = "tanya_template"

# A shared 2-core machine can take more than Playwright's default 5 s to show a
# change; a real failure still fails, only later.
async_expect.set_options(timeout=15_000)
sync_expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster().start()
    try:
        url = cluster.create_database(TEMPLATE_DB)
        store = Store(url)
        upgrade(store)
        store.dispose()  # a template with open connections cannot be copied
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    store.dispose()
    return path


def make_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database on ``backend``; dropped after the test."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / f"db-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    cluster: PostgresCluster = request.getfixturevalue("pg_cluster")
    name = "t_" + uuid.uuid4().hex[:16]
    cluster.execute(f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE_DB}')
    request.addfinalizer(lambda: cluster.drop_database(name))
    return cluster.url_for(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database(request.param, request, tmp_path)


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return make_database("sqlite", request, tmp_path)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    yield store
    store.dispose()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    base = load_config(environ={})
    return replace(base, base_dir=str(tmp_path),
                   server=replace(base.server, api_token="test-token"))


@pytest.fixture
def services(config: Config, store: Store) -> Iterator[Services]:
    services = build_services(config, store=store)
    yield services
    services.close()
