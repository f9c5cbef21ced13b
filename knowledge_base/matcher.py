"""Suggesting FAQ answers for a resident's message.

The knowledge base would rather say nothing than send a wrong answer: below
``suggest_min`` nothing is shown, and only at ``auto_answer_min`` or above is an
answer considered safe to send without a consultant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from knowledge_base.entries import FaqEntry, FaqProblem
from knowledge_base.index import PhrasingIndex, ScoringWeights
from knowledge_base.normalization import Normalizer, default_normalizer, split_segments

__all__ = ["KnowledgeBase", "Suggestion", "find_conflicts"]

# Per segment, look at a few more phrasings than entries asked for, since several
# phrasings of one entry often fill the top places.
_PHRASINGS_PER_SEGMENT = 12
# Messages longer than this are cut: a pasted document must not stall the desk.
_MAX_MESSAGE_CHARS = 8_000


@dataclass(frozen=True, slots=True)
class Suggestion:
    entry_id: str
    question: str
    answer: str
    score: float
    matched_phrasing: str
    category: str


class KnowledgeBase:
    """An index over the enabled entries, built once; rebuild it when entries change."""

    def __init__(
        self,
        entries: Sequence[FaqEntry],
        *,
        suggest_min: float,
        auto_answer_min: float,
        normalizer: Normalizer | None = None,
        weights: ScoringWeights | None = None,
    ) -> None:
        if not 0 <= suggest_min <= auto_answer_min <= 100:
            raise ValueError(
                "thresholds must satisfy 0 <= suggest_min <= auto_answer_min <= 100, "
                f"got suggest_min={suggest_min}, auto_answer_min={auto_answer_min}"
            )
        self.entries: Sequence[FaqEntry] = tuple(entries)
        self.suggest_min = suggest_min
        self.auto_answer_min = auto_answer_min
        self.normalizer = normalizer if normalizer is not None else default_normalizer()
        self._active = [e for e in self.entries if e.enabled]
        self.index = PhrasingIndex(
            [(i, text) for i, e in enumerate(self._active) for text in e.all_phrasings],
            self.normalizer,
            weights,
            domain_texts=[f"{e.answer} {' '.join(e.tags)}" for e in self._active],
        )

    def scores(self, text: str) -> dict[int, tuple[float, int]]:
        """Best (score, phrasing index) per active entry index, over all segments."""
        best: dict[int, tuple[float, int]] = {}
        for number, segment in enumerate(split_segments(text[:_MAX_MESSAGE_CHARS])):
            content = self.normalizer.content(segment)
            # A lone keyword cut out of a longer message ("..., perlu pbg?") says too
            # little on its own; it still counts inside its whole sentence.
            if not content or (number > 0 and len(set(content)) < 2):
                continue
            for match in self.index.match(content, _PHRASINGS_PER_SEGMENT):
                entry_index = self.index.phrasings[match.phrasing_index].entry_index
                current = best.get(entry_index)
                if current is None or match.score > current[0]:
                    best[entry_index] = (match.score, match.phrasing_index)
        return best

    def suggest(self, text: str, limit: int = 3) -> list[Suggestion]:
        """Ranked suggestions scoring at least ``suggest_min``; [] when none does."""
        if limit <= 0:
            return []
        ranked = sorted(self.scores(text).items(), key=lambda item: item[1][0], reverse=True)
        suggestions: list[Suggestion] = []
        for entry_index, (score, phrasing_index) in ranked[:limit]:
            if score < self.suggest_min:
                break
            entry = self._active[entry_index]
            suggestions.append(
                Suggestion(
                    entry_id=entry.id,
                    question=entry.question,
                    answer=entry.answer,
                    score=round(min(score, 100.0), 1),
                    matched_phrasing=self.index.phrasings[phrasing_index].text,
                    category=entry.category,
                )
            )
        return suggestions

    def is_confident(self, suggestion: Suggestion) -> bool:
        """Whether the suggestion may be sent to the resident without a consultant."""
        return suggestion.score >= self.auto_answer_min


def find_conflicts(
    entries: Sequence[FaqEntry],
    auto_answer_min: float,
    *,
    sources: Mapping[str, str] | None = None,
    normalizer: Normalizer | None = None,
) -> list[FaqProblem]:
    """Pairs of enabled entries with phrasings that match each other confidently.

    Two phrasings conflict when each, sent as a message, would be answered by the
    other's entry at ``auto_answer_min`` or above: automatic answers between such
    entries are a coin toss, so the pair is refused. ``sources``
    maps entry ids to the file they came from, for the report.
    """
    active = [e for e in entries if e.enabled]
    kb = KnowledgeBase(
        active, suggest_min=0.0, auto_answer_min=auto_answer_min, normalizer=normalizer
    )
    index = kb.index
    # Directed scores between phrasings of different entries, at the threshold or above.
    directed: dict[tuple[int, int], float] = {}
    for number, phrasing in enumerate(index.phrasings):
        if not phrasing.content:
            continue
        for match in index.match(phrasing.content, _PHRASINGS_PER_SEGMENT):
            other = index.phrasings[match.phrasing_index]
            if other.entry_index != phrasing.entry_index and match.score >= auto_answer_min:
                directed[(number, match.phrasing_index)] = match.score
    # Phrasings that match each other both ways say the same thing in two entries.
    found: dict[tuple[int, int], tuple[float, str, str]] = {}
    for (number, other_number), score in directed.items():
        back = directed.get((other_number, number))
        if back is None:
            continue
        phrasing, other = index.phrasings[number], index.phrasings[other_number]
        pair = (
            min(phrasing.entry_index, other.entry_index),
            max(phrasing.entry_index, other.entry_index),
        )
        score = min(score, back)
        if pair not in found or score > found[pair][0]:
            low, high = sorted((phrasing, other), key=lambda p: p.entry_index)
            found[pair] = (score, low.text, high.text)
    problems: list[FaqProblem] = []
    for (first, second), (score, text, other_text) in sorted(found.items()):
        entry, rival = active[first], active[second]
        file = (sources or {}).get(entry.id, "<entries>")
        problems.append(
            FaqProblem(
                file,
                entry.id,
                f"conflicts with entry {rival.id!r}: {text!r} and {other_text!r} match "
                f"at {score:.0f}, at or above the auto-answer threshold {auto_answer_min:g}",
            )
        )
    return problems
