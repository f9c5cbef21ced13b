from dataclasses import replace
from pathlib import Path

import pytest

from knowledge_base.defaults import AUTO_ANSWER_MIN, starter_faq_dir
from knowledge_base.entries import FaqEntry, FaqFileError, dump_faq_files, load_faq_files

GOOD = """category = "biaya"

[[entry]]
id = "biaya-izin"
question = "Berapa biaya mengurus izin?"
phrasings = ["Apakah pengurusan izin dikenakan biaya?", "ngurus izin bayar brp", "biaya izin"]
answer = "Cek tagihan resmi di JakEVO."
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[tuple[str, str | None, str]]:
    with pytest.raises(FaqFileError) as caught:
        load_faq_files(path)
    return [(p.file, p.entry, p.reason) for p in caught.value.problems]


def test_starter_content_is_complete(starter_entries: list[FaqEntry]) -> None:
    assert len(starter_entries) >= 60
    for entry in starter_entries:
        assert len(entry.phrasings) >= 3
        assert entry.answer.strip()
    answers = " ".join(e.answer for e in starter_entries)
    for fact in (
        "1500164",
        "komunikasiinformasi.dpmptsp@jakarta.go.id",
        "JakEVO",
        "Jl. HR Rasuna Said Kav. C-22, Kuningan, Jakarta Selatan",
        "PGC Cililitan",
        "Mal Metro Kebayoran",
        "10.00 sampai dengan 16.00",
        "Antar Jemput Izin Bermotor",
        "Muara Angke",
        "LKPM",
        "pungutan liar",
    ):
        assert fact in answers, fact


def test_starter_content_has_no_conflicts_at_the_default_threshold() -> None:
    load_faq_files(starter_faq_dir(), auto_answer_min=AUTO_ANSWER_MIN)


def test_a_valid_file_loads(tmp_path: Path) -> None:
    [entry] = load_faq_files(write(tmp_path / "biaya.toml", GOOD))
    assert entry.id == "biaya-izin"
    assert entry.category == "biaya"
    assert entry.enabled


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "rusak.toml", GOOD + "\n[[entry]\nid = 'x'\n")
    [(file, entry, reason)] = problems_of(path)
    assert file == str(path)
    assert entry is None
    assert "TOML syntax error" in reason and "line 9" in reason


def test_every_problem_is_reported_with_file_entry_and_reason(tmp_path: Path) -> None:
    write(tmp_path / "a.toml", GOOD)
    write(
        tmp_path / "b.toml",
        """category = "lain"

[[entry]]
id = "biaya-izin"
question = "Duplikat?"
phrasings = ["satu", "dua", "tiga"]
answer = "x"

[[entry]]
id = "kosong"
question = "Jawaban kosong?"
phrasings = ["satu", "dua", "tiga"]
answer = "   "

[[entry]]
id = "kurang"
question = "Kurang frasa?"
phrasings = ["satu", "dua"]
answer = "x"

[[entry]]
id = "tipe"
question = "Tipe salah?"
phrasings = "bukan daftar"
answer = "x"

[[entry]]
question = "Tanpa id?"
phrasings = ["satu", "dua", "tiga"]
answer = "x"
""",
    )
    found = problems_of(tmp_path)
    b = str(tmp_path / "b.toml")
    assert (b, "biaya-izin", f"duplicate id (first defined in {tmp_path / 'a.toml'})") in found
    assert (b, "kosong", "'answer' is empty") in found
    assert any(f == b and e == "kurang" and "at least 3 phrasings" in r for f, e, r in found)
    assert (b, "tipe", "'phrasings' must be a list of strings") in found
    assert (b, "#5", "missing key 'id'") in found
    message = str(FaqFileError([]))
    assert message == ""


def test_error_message_lists_one_problem_per_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.toml",
        'category = "x"\n[[entry]]\nid = "a"\nquestion = ""\nphrasings = []\nanswer = ""\n',
    )
    with pytest.raises(FaqFileError) as caught:
        load_faq_files(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems) >= 3
    assert all(line.startswith(f"{path}: entry 'a': ") for line in lines)


def test_conflicting_entries_are_refused(tmp_path: Path) -> None:
    clash = GOOD.replace('id = "biaya-izin"', 'id = "tarif-izin"').replace(
        'category = "biaya"', 'category = "tarif"'
    )
    write(tmp_path / "biaya.toml", GOOD)
    write(tmp_path / "tarif.toml", clash)
    load_faq_files(tmp_path)  # fine without the conflict check
    with pytest.raises(FaqFileError) as caught:
        load_faq_files(tmp_path, auto_answer_min=AUTO_ANSWER_MIN)
    [problem] = caught.value.problems
    assert problem.file == str(tmp_path / "biaya.toml")
    assert problem.entry == "biaya-izin"
    assert "tarif-izin" in problem.reason and "auto-answer threshold" in problem.reason


def test_dump_and_load_round_trip(tmp_path: Path, starter_entries: list[FaqEntry]) -> None:
    entries = [*starter_entries]
    entries[0] = replace(entries[0], enabled=False, links=("tel:1500164",), tags=("a", "b"))
    written = dump_faq_files(entries, tmp_path / "out")
    assert {p.stem for p in written} == {e.category for e in entries}
    assert load_faq_files(tmp_path / "out") == entries


def test_missing_directory_contents_are_reported(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [(str(tmp_path), None, "no *.toml FAQ files found")]
