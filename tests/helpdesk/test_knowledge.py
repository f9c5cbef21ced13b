"""The FAQ base in the database and on the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.bootstrap import Services
from helpdesk.knowledge import KnowledgeService, load_starter_if_empty
from knowledge_base.defaults import starter_faq_dir
from knowledge_base.entries import FaqEntry, FaqFileError

ROOT = Path(__file__).resolve().parents[2]

ENTRY = FaqEntry(
    id="parkir-mpp", category="mal_pelayanan_publik",
    question="Apakah ada tempat parkir di Mal Pelayanan Publik?",
    phrasings=("parkir mpp dimana", "bisa parkir motor di mal pelayanan publik?",
               "tempat parkir kendaraan pengunjung mpp"),
    answer="Tanyakan ketersediaan parkir ke Tanya PTSP 1500164.")


def test_starter_faq_loads_once_and_suggests(services: Services) -> None:
    first = load_starter_if_empty(services.knowledge, starter_faq_dir())
    assert first is not None and first.added >= 60
    assert load_starter_if_empty(services.knowledge, starter_faq_dir()) is None
    found = services.knowledge.suggest("alamat mpp dmn ya kak")
    assert found and found[0].entry_id.startswith("mpp")


def test_an_edited_entry_reaches_every_worker(services: Services) -> None:
    load_starter_if_empty(services.knowledge, starter_faq_dir())
    other_worker = KnowledgeService(services.store, services.config.knowledge_base)
    assert not any(s.entry_id == "parkir-mpp" for s in other_worker.suggest("parkir mpp dimana"))
    services.knowledge.save(ENTRY)
    other_worker._checked = 0.0  # as if the version check interval had passed
    assert other_worker.suggest("parkir mpp dimana")[0].entry_id == "parkir-mpp"
    disabled = FaqEntry(**{**{f: getattr(ENTRY, f) for f in ENTRY.__slots__}, "enabled": False})
    services.knowledge.save(disabled)
    assert not any(s.entry_id == "parkir-mpp"
                   for s in services.knowledge.suggest("parkir mpp dimana"))


def test_an_entry_that_collides_with_another_is_refused(services: Services) -> None:
    load_starter_if_empty(services.knowledge, starter_faq_dir())
    before = services.knowledge.count()
    existing = services.knowledge.entries()[0]
    twin = FaqEntry(id="kembar", category=existing.category, question=existing.question,
                    phrasings=existing.phrasings, answer="Jawaban lain.")
    with pytest.raises(FaqFileError) as caught:
        services.knowledge.save(twin)
    assert "kembar" in str(caught.value)
    assert services.knowledge.count() == before


def cli(tmp_path: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TANYA_DATABASE_URL": f"sqlite:///{tmp_path / 'kb.db'}"}
    return subprocess.run([sys.executable, "-m", "helpdesk.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False)


def test_import_export_round_trip_and_idempotence(tmp_path: Path) -> None:
    first = cli(tmp_path, "kb", "import", str(starter_faq_dir()))
    assert first.returncode == 0, first.stderr
    assert "0 updated" in first.stdout and "0 unchanged" in first.stdout
    again = cli(tmp_path, "kb", "import", str(starter_faq_dir()))
    assert "0 added, 0 updated" in again.stdout
    out = tmp_path / "export"
    assert cli(tmp_path, "kb", "export", str(out)).returncode == 0
    back = cli(tmp_path, "kb", "import", str(out))
    assert "0 added, 0 updated" in back.stdout, back.stdout + back.stderr


def test_a_broken_file_is_refused_with_file_entry_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('category = "umum"\n[[entry]]\nid = "kosong"\nquestion = "Apa?"\n'
                   'phrasings = ["a", "b", "c"]\nanswer = ""\n')
    result = cli(tmp_path, "kb", "import", str(bad))
    assert result.returncode == 1
    assert str(bad) in result.stderr and "kosong" in result.stderr
    assert "answer" in result.stderr


def test_suggest_reads_one_message_per_line_and_prints_json(tmp_path: Path) -> None:
    cli(tmp_path, "kb", "import", str(starter_faq_dir()))
    result = cli(tmp_path, "suggest", "--json", "--limit", "2", "-",
                 stdin="brp lama proses pbg\ncuaca besok cerah ga ya\n")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2 and lines[1] == []
    assert {"id", "question", "answer", "score"} <= set(lines[0][0])


def test_eval_prints_accuracy(tmp_path: Path) -> None:
    result = cli(tmp_path, "kb", "eval", "--quiet", str(ROOT / "tests/data/kb_eval_tuning.tsv"))
    assert result.returncode == 0, result.stderr
    assert "top-1 accuracy" in result.stdout and "off-topic" in result.stdout
