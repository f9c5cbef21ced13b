"""``tanya-ptsp quarantine retry ID``: held input is parsed again with its
channel's parser; what now parses is stored through intake once, what does not
stays held with today's reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from helpdesk.bootstrap import Services, build_services
from helpdesk.cli import main
from helpdesk.config import Config
from helpdesk.models import Message, OutboxItem, OutboxStatus, QuarantineState, Ticket
from helpdesk.outbox import queue_reply
from helpdesk.runners.retry import NoSuchItem, StillHeld, install, retry_quarantined
from helpdesk.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "email"
GOOD = (DATA / "01-gmail-alternative-utf8.eml").read_bytes()
NO_FROM = (DATA / "22-no-from.eml").read_bytes()
REF = "email:konsultasi:INBOX:1795502373:"


@pytest.fixture
def config_file(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("TANYA_CONFIG", "TANYA_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\nurl = "{sqlite_url}"\n\n[app]\ndata_dir = "var"\n',
                    encoding="utf-8")
    return path


@pytest.fixture
def desk(config: Config, sqlite_url: str) -> Services:
    return build_services(config, store=Store(sqlite_url))


def held(services: Services, raw: bytes, reason: str, uid: int, channel: str = "email") -> int:
    return services.quarantine.keep(channel, raw, reason, f"{REF}{uid}")


def test_cli_stores_what_parses_now_and_keeps_what_does_not(
        desk: Services, config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixed = held(desk, GOOD, "could not parse: KeyError: 'charset'", 1)  # a parser bug, fixed
    broken = held(desk, NO_FROM, "no usable sender", 2)
    config = ["--config", str(config_file)]

    assert main([*config, "quarantine", "retry", str(fixed)]) == 0
    out = capsys.readouterr().out
    assert f"quarantine item #{fixed} retried: stored on ticket PTSP-" in out
    with desk.store.read() as session:
        message = session.exec(select(Message)).one()
        ticket = session.get_one(Ticket, message.ticket_id)
    assert message.external_id == "CAJ8fK2x9Qm3Lz0pWv1u7N5bT4yR6sE2dA8cF0gH1iJ@mail.gmail.com"
    assert message.meta["raw_ref"] == f"{REF}1"
    assert ticket.channel == "email"
    item = desk.quarantine.get(fixed)
    assert item is not None and item.state == QuarantineState.RETRIED
    assert item.resolved_at is not None

    assert main([*config, "quarantine", "retry", str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"quarantine item #{broken} is still held" in err
    assert "no usable sender address (no From or Reply-To header)" in err
    item = desk.quarantine.get(broken)
    assert item is not None and item.state == QuarantineState.HELD
    assert item.reason == "no usable sender address (no From or Reply-To header)"

    # Done is done: a second retry stores nothing more.
    assert main([*config, "quarantine", "retry", str(fixed)]) == 1
    assert "is retried, not held" in capsys.readouterr().err
    assert main([*config, "quarantine", "retry", "999"]) == 1
    assert "no quarantine item 999" in capsys.readouterr().err
    with desk.store.read() as session:
        assert len(session.exec(select(Message)).all()) == 1
    desk.close()


async def test_retry_of_mail_the_poller_also_stored_is_a_duplicate(desk: Services) -> None:
    first = held(desk, GOOD, "storing failed 5 times", 1)
    again = held(desk, GOOD, "storing failed 5 times", 7)
    stored = await retry_quarantined(desk, first)
    duplicate = await retry_quarantined(desk, again)
    assert stored.stored and not stored.duplicate
    assert duplicate.stored and duplicate.duplicate
    assert duplicate.ticket_number == stored.ticket_number
    assert duplicate.message_id == stored.message_id
    desk.close()


async def test_a_held_bounce_fails_its_reply_when_retried(desk: Services) -> None:
    inquiry_id = held(desk, GOOD, "parser bug", 1)
    ticket_number = (await retry_quarantined(desk, inquiry_id)).ticket_number
    with desk.store.write() as session:
        ticket = session.exec(select(Ticket)).one()
        reply = queue_reply(session, ticket, "Jawaban", now=desk.clock(),
                            mail_domain="ptsp.test")
        ours = reply.external_id
    bounce = (DATA / "28-dsn-rfc822-headers.eml").read_bytes().replace(
        b"tanya.1957c0ffee.feedfacecafebeef@ptsp.jakarta.go.id", ours.encode())
    result = await retry_quarantined(desk, held(desk, bounce, "parser bug", 2))
    assert result.stored and ticket_number
    with desk.store.read() as session:
        item = session.exec(select(OutboxItem)).one()
    assert item.status == OutboxStatus.FAILED
    assert item.last_error is not None and "5.2.2" in item.last_error
    desk.close()


async def test_channels_without_a_raw_parser_stay_held(desk: Services) -> None:
    item_id = held(desk, b'{"update_id": 1}', "junk update", 1, channel="telegram")
    result = await retry_quarantined(desk, item_id)
    assert not result.stored and "cannot be parsed again" in result.reason
    item = desk.quarantine.get(item_id)
    assert item is not None and item.state == QuarantineState.HELD
    with pytest.raises(NoSuchItem):
        await retry_quarantined(desk, 12345)
    desk.close()


async def test_the_admin_hook_reports_why_an_item_stays_held(desk: Services) -> None:
    install(desk)
    hook = desk.retry_quarantined  # type: ignore[attr-defined]
    with pytest.raises(StillHeld, match="no usable sender"):
        await hook(held(desk, NO_FROM, "no usable sender", 1))
    assert (await hook(held(desk, GOOD, "parser bug", 2))).stored
    desk.close()
