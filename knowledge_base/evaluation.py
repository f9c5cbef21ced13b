"""Measuring the matcher on labelled resident messages.

An evaluation file is UTF-8 TSV, one case per line: the expected entry id (or
``none`` for a message that must get no suggestion; several ids joined by ``|``
when the message asks several things) TAB the message, with ``\\n`` for a line
break. Lines starting with ``#`` and blank lines are ignored.

Top-1 counts a case when the first suggestion is one of the expected ids; top-3
when every expected id is among the first three. Off-topic cases count as false
suggestions when anything at all is suggested.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from knowledge_base.matcher import KnowledgeBase, Suggestion

__all__ = ["EvalCase", "EvalFileError", "EvalReport", "EvalResult", "evaluate", "read_eval_file"]

NONE_LABEL = "none"


class EvalFileError(ValueError):
    """An evaluation file line that cannot be read; the message names file and line."""


@dataclass(frozen=True, slots=True)
class EvalCase:
    line: int
    expected: tuple[str, ...]  # empty for off-topic
    text: str

    @property
    def off_topic(self) -> bool:
        return not self.expected


@dataclass(frozen=True, slots=True)
class EvalResult:
    case: EvalCase
    suggestions: tuple[Suggestion, ...]
    confident: bool

    @property
    def top1(self) -> bool:
        if self.case.off_topic:
            return not self.suggestions
        return bool(self.suggestions) and self.suggestions[0].entry_id in self.case.expected

    @property
    def top3(self) -> bool:
        if self.case.off_topic:
            return not self.suggestions
        found = {s.entry_id for s in self.suggestions[:3]}
        return all(e in found for e in self.case.expected)

    @property
    def wrong_auto_answer(self) -> bool:
        """A confident first suggestion that is not what the resident asked."""
        return self.confident and not (
            not self.case.off_topic and self.suggestions[0].entry_id in self.case.expected
        )


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass(frozen=True, slots=True)
class EvalReport:
    results: tuple[EvalResult, ...]
    suggest_min: float
    auto_answer_min: float
    misses: tuple[EvalResult, ...] = field(init=False)

    def __post_init__(self) -> None:
        misses = tuple(r for r in self.results if not (r.top1 and r.top3))
        object.__setattr__(self, "misses", misses)

    @property
    def on_topic(self) -> tuple[EvalResult, ...]:
        return tuple(r for r in self.results if not r.case.off_topic)

    @property
    def off_topic(self) -> tuple[EvalResult, ...]:
        return tuple(r for r in self.results if r.case.off_topic)

    @property
    def top1(self) -> float:
        """Share of on-topic messages whose first suggestion is right."""
        return _ratio(sum(r.top1 for r in self.on_topic), len(self.on_topic))

    @property
    def top3(self) -> float:
        return _ratio(sum(r.top3 for r in self.on_topic), len(self.on_topic))

    @property
    def false_suggestion_rate(self) -> float:
        """Share of off-topic messages that got any suggestion."""
        return _ratio(sum(not r.top1 for r in self.off_topic), len(self.off_topic))

    @property
    def auto_answer_rate(self) -> float:
        """Share of on-topic messages that would be answered automatically, rightly."""
        right = sum(r.confident and not r.wrong_auto_answer for r in self.on_topic)
        return _ratio(right, len(self.on_topic))

    @property
    def wrong_auto_answers(self) -> int:
        return sum(r.wrong_auto_answer for r in self.results)

    def format(self, *, show_misses: bool = True) -> str:
        on, off = len(self.on_topic), len(self.off_topic)
        lines = [
            f"cases: {len(self.results)} ({on} on-topic, {off} off-topic); "
            f"suggest_min {self.suggest_min:g}, auto_answer_min {self.auto_answer_min:g}",
            f"top-1 accuracy:        {self.top1:6.1%}  ({sum(r.top1 for r in self.on_topic)}/{on})",
            f"top-3 accuracy:        {self.top3:6.1%}  ({sum(r.top3 for r in self.on_topic)}/{on})",
            f"off-topic suggested:   {self.false_suggestion_rate:6.1%}  "
            f"({sum(not r.top1 for r in self.off_topic)}/{off})",
            f"auto-answered rightly: {self.auto_answer_rate:6.1%}  "
            f"wrong auto-answers: {self.wrong_auto_answers}",
        ]
        if show_misses and self.misses:
            lines.append(f"misses ({len(self.misses)}):")
            for result in self.misses:
                expected = "|".join(result.case.expected) or NONE_LABEL
                got = ", ".join(f"{s.entry_id} {s.score:.0f}" for s in result.suggestions) or "-"
                text = result.case.text.replace("\n", " ")
                if len(text) > 90:
                    text = text[:87] + "..."
                lines.append(f"  line {result.case.line}: expected {expected}; got {got}")
                lines.append(f"    {text}")
        return "\n".join(lines)


def parse_eval_lines(lines: Sequence[str], source: str = "<eval>") -> list[EvalCase]:
    cases: list[EvalCase] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.rstrip("\r\n")
        if not stripped.strip() or stripped.lstrip().startswith("#"):
            continue
        label, tab, message = stripped.partition("\t")
        if not tab or not message.strip():
            raise EvalFileError(f"{source}:{number}: expected 'entry-id<TAB>message'")
        labels = tuple(part.strip() for part in label.split("|") if part.strip())
        if not labels:
            raise EvalFileError(f"{source}:{number}: empty label")
        if NONE_LABEL in labels and len(labels) > 1:
            raise EvalFileError(f"{source}:{number}: 'none' cannot be combined with ids")
        expected = () if labels == (NONE_LABEL,) else labels
        text = message.replace("\\n", "\n").replace("\\t", "\t").strip()
        cases.append(EvalCase(number, expected, text))
    return cases


def read_eval_file(path: Path | str) -> list[EvalCase]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise EvalFileError(f"{path}: cannot read: {error}") from error
    return parse_eval_lines(text.splitlines(), str(path))


def evaluate(kb: KnowledgeBase, cases: Sequence[EvalCase], *, limit: int = 3) -> EvalReport:
    """Run every case through ``kb.suggest``; refuses labels naming unknown entries."""
    known = {entry.id for entry in kb.entries}
    unknown = sorted({f"line {c.line}: {e}" for c in cases for e in c.expected if e not in known})
    if unknown:
        raise EvalFileError("labels name entries the knowledge base lacks: " + "; ".join(unknown))
    results: list[EvalResult] = []
    for case in cases:
        suggestions = tuple(kb.suggest(case.text, limit=max(limit, len(case.expected))))
        confident = bool(suggestions) and kb.is_confident(suggestions[0])
        results.append(EvalResult(case, suggestions, confident))
    return EvalReport(tuple(results), kb.suggest_min, kb.auto_answer_min)
