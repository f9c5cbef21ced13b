"""Channel health for administrators and monitoring: ``tanya-ptsp channels status``
(text and --json) and ``GET /api/v1/channels`` give the same picture."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from channels.base import HealthReport
from helpdesk.bootstrap import build_services
from helpdesk.channel_state import ChannelStates
from helpdesk.cli import main
from helpdesk.config import Config
from helpdesk.store import Store
from helpdesk.web.app import create_app


@pytest.fixture
def config_file(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TANYA_CONFIG", "TANYA_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{sqlite_url}"\n', encoding="utf-8")
    return path


def report(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    states = ChannelStates(store)
    states.record_health(HealthReport("email:konsultasi", ok=True, detail="INBOX: up to UID 7",
                                      counts={"fetched": 7, "stored": 6, "quarantined": 1}))
    states.record_health(HealthReport("telegram", ok=True, counts={"stored": 3}))
    states.record_health(HealthReport("telegram", ok=False,
                                      detail="cannot reach api.telegram.org: timed out"))
    store.dispose()


def test_status_lists_each_channel_and_fails_while_one_is_down(
        config_file: Path, sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config_file), "channels", "status"]) == 0
    assert "no channel has reported yet" in capsys.readouterr().out
    report(sqlite_url)
    assert main(["--config", str(config_file), "channels", "status"]) == 1
    out = capsys.readouterr().out
    assert "email:konsultasi: ok" in out
    assert "fetched 7, quarantined 1, stored 6" in out
    assert "telegram: ERROR" in out
    assert "cannot reach api.telegram.org: timed out" in out


def test_status_json(config_file: Path, sqlite_url: str,
                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config_file), "channels", "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    report(sqlite_url)
    assert main(["--config", str(config_file), "channels", "status", "--json"]) == 1
    rows = json.loads(capsys.readouterr().out)
    assert [r["key"] for r in rows] == ["email:konsultasi", "telegram"]
    email, telegram = rows
    assert email["ok"] is True and email["last_error"] is None
    assert email["counts"] == {"fetched": 7, "stored": 6, "quarantined": 1}
    assert email["last_success_at"] is not None
    assert telegram["ok"] is False and telegram["last_error_at"] is not None
    assert telegram["last_success_at"] is not None  # it worked before it failed
    assert telegram["counts"] == {"stored": 3}


async def test_api_gives_the_same_json_behind_the_token(
        config: Config, config_file: Path, sqlite_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    report(sqlite_url)
    assert main(["--config", str(config_file), "channels", "status", "--json"]) == 1
    from_cli = json.loads(capsys.readouterr().out)
    services = build_services(config, store=Store(sqlite_url))
    transport = httpx.ASGITransport(app=create_app(services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            ok = await client.get("/api/v1/channels",
                                  headers={"Authorization": "Bearer test-token"})
            assert ok.status_code == 200
            assert ok.json() == from_cli
            missing = await client.get("/api/v1/channels")
            assert missing.status_code == 401
            wrong = await client.get("/api/v1/channels",
                                     headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
    finally:
        services.close()
    closed = build_services(replace(config, server=replace(config.server, api_token=None)),
                            store=Store(sqlite_url))
    transport = httpx.ASGITransport(app=create_app(closed))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            disabled = await client.get("/api/v1/channels",
                                        headers={"Authorization": "Bearer test-token"})
            assert disabled.status_code == 403
    finally:
        closed.close()
