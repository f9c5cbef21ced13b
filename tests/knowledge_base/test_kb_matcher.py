from dataclasses import replace

import pytest

from knowledge_base.entries import FaqEntry
from knowledge_base.matcher import KnowledgeBase, find_conflicts


def ids(kb: KnowledgeBase, text: str, limit: int = 3) -> list[str]:
    return [s.entry_id for s in kb.suggest(text, limit)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gmn cara ngurus ijin usaha min?", "izin-usaha-cara"),
        ("brp lama proses pbg", "lama-proses"),
        ("alamat mpp dmn ya kak", "mpp-alamat"),
        ("Berapa nomor call center Tanya PTSP?", "call-center-1500164"),
        ("saya lupa pasword jakevo", "jakevo-lupa-password"),  # typo
        ("izinku ditolak min, harus ngapain", "permohonan-ditolak"),
    ],
)
def test_informal_messages_find_their_entry(kb: KnowledgeBase, text: str, expected: str) -> None:
    [first, *_] = kb.suggest(text)
    assert first.entry_id == expected
    assert 0 <= first.score <= 100
    assert first.matched_phrasing
    assert first.answer and first.question and first.category


def test_an_exact_question_is_confident(kb: KnowledgeBase) -> None:
    [first, *_] = kb.suggest("Apa itu LKPM?")
    assert first.entry_id == "lkpm-apa"
    assert kb.is_confident(first)


@pytest.mark.parametrize(
    "text",
    ["cuaca besok di jakarta hujan gak", "wkwkwk", "selamat pagi min", "", "   ", "??"],
)
def test_off_topic_and_empty_messages_get_nothing(kb: KnowledgeBase, text: str) -> None:
    assert kb.suggest(text) == []


def test_suggestions_are_ranked_limited_and_above_the_threshold(kb: KnowledgeBase) -> None:
    suggestions = kb.suggest("izin usaha nib oss biaya lama proses", limit=2)
    assert len(suggestions) <= 2
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(s >= kb.suggest_min for s in scores)
    assert kb.suggest("alamat mpp", limit=0) == []


def test_question_inside_a_long_email_is_found(kb: KnowledgeBase) -> None:
    email = (
        "Kepada Yth. Bapak/Ibu petugas DPMPTSP,\n\n"
        "Perkenalkan, saya Siti, pemilik toko kelontong kecil di daerah Tebet. Usaha ini "
        "sudah berjalan tiga tahun dan sekarang saya ingin mendaftarkannya ke marketplace. "
        "Teman saya bilang saya perlu punya nomor induk berusaha terlebih dahulu. "
        "Bagaimana cara membuat NIB melalui OSS? Apakah ada yang perlu saya siapkan?\n\n"
        "Atas perhatiannya saya ucapkan terima kasih.\n\nHormat saya,\nSiti\n0812-3456-7890"
    )
    assert ids(kb, email)[0] == "nib-cara-daftar"


def test_two_questions_in_one_message_find_both_entries(kb: KnowledgeBase) -> None:
    found = ids(kb, "alamat mpp dmn ya? trus ptsp buka hari sabtu ga?")
    assert "mpp-alamat" in found
    assert "hari-libur" in found


def test_disabled_entries_are_never_suggested(starter_entries: list[FaqEntry]) -> None:
    entries = [replace(e, enabled=False) if e.id == "mpp-alamat" else e for e in starter_entries]
    kb = KnowledgeBase(entries, suggest_min=0, auto_answer_min=80)
    assert "mpp-alamat" not in ids(kb, "Di mana alamat Mal Pelayanan Publik DKI Jakarta?", 10)
    assert len(kb.entries) == len(entries)  # still listed, just not suggested


def test_an_empty_base_suggests_nothing() -> None:
    assert KnowledgeBase([], suggest_min=50, auto_answer_min=80).suggest("alamat mpp") == []


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="suggest_min"):
        KnowledgeBase([], suggest_min=90, auto_answer_min=80)


def test_find_conflicts_reports_near_duplicates(starter_entries: list[FaqEntry]) -> None:
    original = next(e for e in starter_entries if e.id == "mpp-alamat")
    copy = replace(original, id="mpp-lokasi", category="lain")
    problems = find_conflicts([*starter_entries, copy], 80, sources={"mpp-alamat": "mpp.toml"})
    assert len(problems) == 1
    assert problems[0].file == "mpp.toml"
    assert problems[0].entry == "mpp-alamat"
    assert "mpp-lokasi" in problems[0].reason
    # A disabled copy cannot be auto-answered, so it does not conflict.
    assert find_conflicts([*starter_entries, replace(copy, enabled=False)], 80) == []


def test_optional_stemming_keeps_answers_right(starter_entries: list[FaqEntry]) -> None:
    pytest.importorskip("Sastrawi")
    from knowledge_base.stemming import sastrawi_normalizer

    kb = KnowledgeBase(
        starter_entries, suggest_min=54, auto_answer_min=80, normalizer=sastrawi_normalizer()
    )
    assert ids(kb, "gmn cara mendaftarkan nib usaha saya")[0] == "nib-cara-daftar"
    assert kb.suggest("cuaca besok di jakarta hujan gak") == []
