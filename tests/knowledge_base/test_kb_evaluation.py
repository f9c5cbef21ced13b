from pathlib import Path

import pytest

from knowledge_base.evaluation import EvalFileError, evaluate, parse_eval_lines, read_eval_file
from knowledge_base.matcher import KnowledgeBase

DATA = Path(__file__).resolve().parents[1] / "data"


def test_eval_lines_are_parsed() -> None:
    cases = parse_eval_lines(
        ["# comment", "", "mpp-alamat\talamat mpp?", "none\twkwk", "a|b\tsatu\\ndua"]
    )
    assert [(c.line, c.expected, c.text) for c in cases] == [
        (3, ("mpp-alamat",), "alamat mpp?"),
        (4, (), "wkwk"),
        (5, ("a", "b"), "satu\ndua"),
    ]


@pytest.mark.parametrize("line", ["tanpa tab", "none|x\tteks", "id\t  "])
def test_bad_eval_lines_name_the_line(line: str) -> None:
    with pytest.raises(EvalFileError, match=r"f\.tsv:1"):
        parse_eval_lines([line], "f.tsv")


def test_labels_must_name_known_entries(kb: KnowledgeBase) -> None:
    with pytest.raises(EvalFileError, match="line 1: tidak-ada"):
        evaluate(kb, parse_eval_lines(["tidak-ada\tapa"]))


def test_report_counts_and_format(kb: KnowledgeBase) -> None:
    cases = parse_eval_lines(
        ["mpp-alamat\talamat mpp dmn", "lkpm-apa\talamat mpp dmn", "none\twkwk"]
    )
    report = evaluate(kb, cases)
    assert report.top1 == 0.5
    assert report.false_suggestion_rate == 0.0
    assert [m.case.line for m in report.misses] == [2]
    text = report.format()
    assert "top-1 accuracy:" in text and "top-3 accuracy:" in text
    assert "off-topic suggested:" in text and "line 2: expected lkpm-apa" in text


def test_evaluation_files_are_big_enough() -> None:
    cases = [
        *read_eval_file(DATA / "kb_eval_tuning.tsv"),
        *read_eval_file(DATA / "kb_eval_heldout.tsv"),
    ]
    assert len(cases) >= 200
    assert sum(c.off_topic for c in cases) >= 40


def test_heldout_accuracy(kb: KnowledgeBase) -> None:
    """The held-out half was written before tuning and is only measured."""
    report = evaluate(kb, read_eval_file(DATA / "kb_eval_heldout.tsv"))
    assert report.top1 >= 0.85, report.format()
    assert report.false_suggestion_rate <= 0.05, report.format()
    assert report.wrong_auto_answers == 0, report.format()
