"""Call logs from the phone system: tickets, callback threads, idempotent re-import,
bad rows reported by line while good rows import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import col, select

from helpdesk.bootstrap import Services
from helpdesk.models import Message, QuarantineItem, Queue, Ticket, User
from helpdesk.passwords import hash_password
from helpdesk.runners.calls import import_call_log

DATA = Path(__file__).resolve().parents[1] / "data" / "calls"


def test_calls_become_tickets_and_reimport_adds_nothing(services: Services) -> None:
    with services.store.write() as session:
        session.add(User(email="rina@ptsp.test", name="Rina", extension="201",
                         password_hash=hash_password("x")))
    first = import_call_log(services, DATA / "master_uniqueid_userfield.csv")
    assert (first.imported, first.duplicates, first.rejected) == (5, 0, 0)
    again = import_call_log(services, DATA / "master_uniqueid_userfield.csv")
    assert (again.imported, again.duplicates) == (0, 5)
    with services.store.read() as session:
        tickets = session.exec(select(Ticket).order_by(col(Ticket.id))).all()
        messages = session.exec(select(Message)).all()
        queues = {q.id: q.name for q in session.exec(select(Queue))}
        rina = session.exec(select(User).where(User.extension == "201")).one()
    assert len(messages) == 5
    answered = tickets[0]
    assert answered.status == "resolved" and answered.assignee_id == rina.id
    assert answered.first_response_at is not None
    callback = [t for t in tickets if queues.get(t.queue_id or 0) == "telepon-balik"]
    # Two missed calls from one number: one callback ticket holding both.
    assert len(callback) == 1
    with services.store.read() as session:
        on_callback = session.exec(select(Message).where(
            Message.ticket_id == callback[0].id)).all()
    assert len(on_callback) == 2
    assert "PBG" in messages[0].text  # the userfield note is kept


def test_bad_rows_are_reported_by_line_and_kept_while_good_rows_import(
        services: Services) -> None:
    summary = import_call_log(services, DATA / "master_malformed.csv")
    assert summary.imported == 2 and summary.rejected == 6
    lines = [line for line, _ in summary.problems]
    assert lines == sorted(lines) and 2 in lines
    with services.store.read() as session:
        held = session.exec(select(QuarantineItem)).all()
    assert len(held) == 6 and all(h.reason.startswith("line ") for h in held)


def test_the_same_caller_written_three_ways_is_one_contact(services: Services) -> None:
    import_call_log(services, DATA / "master_basic.csv")
    with services.store.read() as session:
        tickets = session.exec(select(Ticket)).all()
    siti = [t for t in tickets if "81234567890" in t.subject]
    assert len({t.contact_id for t in siti}) == 1


def test_the_command_prints_a_summary_and_json(tmp_path: Path) -> None:
    env = {**os.environ, "TANYA_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}"}
    command = [sys.executable, "-m", "helpdesk.cli", "import-calls", "--json",
               str(DATA / "master_malformed.csv")]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["imported"] == 2 and summary["rejected"] == 6
    assert {"line", "reason"} <= set(summary["problems"][0])
    plain = subprocess.run([*command[:-2], str(DATA / "master_malformed.csv")],
                           capture_output=True, text=True, env=env, check=False)
    assert "0 imported, 2 duplicates, 6 rejected" in plain.stdout
    assert "master_malformed.csv:2:" in plain.stderr
    missing = subprocess.run([*command[:-1], "nope.csv"], capture_output=True, text=True,
                             env=env, check=False)
    assert missing.returncode == 1 and "no such file" in missing.stderr


async def test_a_watched_folder_imports_new_and_grown_logs(services: Services,
                                                         tmp_path: Path) -> None:
    from helpdesk.runners.calls import CallLogFolder

    folder = tmp_path / "cdr"
    folder.mkdir()
    watcher = CallLogFolder(services, folder, interval=0.1)
    assert await watcher.scan_once() == 0
    lines = (DATA / "master_uniqueid_userfield.csv").read_text().splitlines(keepends=True)
    log = folder / "Master.csv"
    log.write_text("".join(lines[:2]))
    assert await watcher.scan_once() == 2
    assert await watcher.scan_once() == 0  # unchanged: not read again
    log.write_text("".join(lines))  # the phone system appended three calls
    assert await watcher.scan_once() == 3
    health = {s.key: s for s in services.channel_states.all()}["phone:folder"]
    assert health.ok
