"""The inverted index over FAQ phrasings, and how one piece of text is scored against it.

Cost per query must not grow with every phrasing in the base. The index maps each
content word to the phrasings that contain it (numpy arrays), so the word-overlap
score for all phrasings is a handful of vectorised additions; only a short list of
the best candidates is then compared character by character with rapidfuzz.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from knowledge_base.normalization import Normalizer

__all__ = ["IndexedPhrasing", "PhrasingIndex", "ScoringWeights", "SegmentMatch"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

# Typo correction only for words long enough that a one- or two-letter slip still
# leaves them recognisable; short words ("ga", "nib") are too easily confused.
_MIN_TYPO_LENGTH = 4
_TYPO_CACHE_LIMIT = 50_000
# Possessive and particle suffixes residents glue on ("izinku", "jakevonya").
_SUFFIXES = ("nya", "ku", "mu", "lah", "kah")


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How word overlap and character similarity are blended into a 0-100 score.

    ``recall_beta`` > 1 favours covering the phrasing's words over the message's
    extra words: residents add context the phrasing does not have.
    ``unknown_weight`` is the weight (as a fraction of the highest IDF) of a message
    word the FAQ never uses; off-topic messages are mostly such words.
    ``domain_weight`` is the weight of a word found only in answers: it belongs to
    the permit domain, so it says less against a match than a foreign word.
    """

    overlap: float = 0.9
    fuzzy: float = 0.1
    recall_beta: float = 1.0
    unknown_weight: float = 3.0
    domain_weight: float = 0.3
    typo_cutoff: float = 84.0
    shortlist: int = 24


@dataclass(frozen=True, slots=True)
class IndexedPhrasing:
    entry_index: int
    text: str
    content: tuple[str, ...]
    joined: str


@dataclass(frozen=True, slots=True)
class SegmentMatch:
    phrasing_index: int
    score: float


class PhrasingIndex:
    """Content words of every phrasing, with IDF weights computed per FAQ entry."""

    def __init__(
        self,
        phrasings: Sequence[tuple[int, str]],
        normalizer: Normalizer,
        weights: ScoringWeights | None = None,
        domain_texts: Sequence[str] = (),
    ) -> None:
        self.normalizer = normalizer
        self.weights = weights if weights is not None else ScoringWeights()
        self.phrasings: list[IndexedPhrasing] = []
        for entry_index, text in phrasings:
            content = tuple(normalizer.content(text))
            self.phrasings.append(
                IndexedPhrasing(entry_index, text, content, " ".join(sorted(set(content))))
            )

        vocabulary: dict[str, int] = {}
        entries_with: list[set[int]] = []
        postings: list[list[int]] = []
        for number, phrasing in enumerate(self.phrasings):
            for word in set(phrasing.content):
                word_id = vocabulary.setdefault(word, len(vocabulary))
                if word_id == len(postings):
                    postings.append([])
                    entries_with.append(set())
                postings[word_id].append(number)
                entries_with[word_id].add(phrasing.entry_index)
        self.vocabulary = vocabulary
        self._words_by_length: dict[int, list[str]] = {}
        for word in vocabulary:
            self._words_by_length.setdefault(len(word), []).append(word)

        entry_count = len({p.entry_index for p in self.phrasings}) or 1
        # Document frequency counts entries, not phrasings: an entry with eight
        # phrasings of "nib" must not make "nib" look common.
        self.idf: FloatArray = np.array(
            [math.log(1.0 + entry_count / len(e)) for e in entries_with], dtype=np.float64
        )
        self.max_idf = float(self.idf.max()) if len(self.idf) else 1.0
        self.postings: list[IntArray] = [np.array(p, dtype=np.int32) for p in postings]
        self.phrasing_weight: FloatArray = np.array(
            [sum(self.idf[vocabulary[w]] for w in set(p.content)) for p in self.phrasings],
            dtype=np.float64,
        )
        self._typo_cache: dict[str, str | None] = {}
        self.domain_words = frozenset(
            word for text in domain_texts for word in normalizer.content(text)
        ) - frozenset(vocabulary)

    def __len__(self) -> int:
        return len(self.phrasings)

    def correct(self, word: str) -> str | None:
        """The vocabulary word a resident most likely meant, or None."""
        if word in self.vocabulary:
            return word
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and word[: -len(suffix)] in self.vocabulary:
                return word[: -len(suffix)]
        if word in self.domain_words or len(word) < _MIN_TYPO_LENGTH or word.isdigit():
            return None
        if word in self._typo_cache:
            return self._typo_cache[word]
        choices: list[str] = []
        for length in range(len(word) - 2, len(word) + 3):
            choices.extend(self._words_by_length.get(length, ()))
        best = process.extractOne(
            word,
            choices,
            scorer=fuzz.ratio,
            score_cutoff=self.weights.typo_cutoff,
        )
        corrected: str | None = None
        if best is not None and Levenshtein.distance(word, best[0]) <= 2:
            corrected = best[0]
        if len(self._typo_cache) < _TYPO_CACHE_LIMIT:
            self._typo_cache[word] = corrected
        return corrected

    def resolve(self, content: Sequence[str]) -> tuple[list[str], float]:
        """Indexed (or corrected) words of a message, and the weight of the others."""
        known: list[str] = []
        other_weight = 0.0
        for word in content:
            corrected = self.correct(word)
            if corrected is None:
                if word in self.domain_words:
                    other_weight += self.weights.domain_weight
                elif not word.isdigit():
                    other_weight += self.weights.unknown_weight
            elif corrected not in known:
                known.append(corrected)
        return known, other_weight * self.max_idf

    def match(self, content: Sequence[str], limit: int) -> list[SegmentMatch]:
        """Best phrasings for one segment's content words, scores 0-100, best first."""
        if not self.phrasings:
            return []
        known, query_weight = self.resolve(content)
        if not known:
            return []
        weights = self.weights
        overlap = np.zeros(len(self.phrasings), dtype=np.float64)
        for word in known:
            word_id = self.vocabulary[word]
            weight = self.idf[word_id]
            overlap[self.postings[word_id]] += weight
            query_weight += weight

        # F-beta of IDF-weighted precision (o/q) and recall (o/p) simplifies to
        # (1 + b^2) o / (b^2 p + q): one vector expression, no division by zero.
        beta2 = weights.recall_beta**2
        matched = np.flatnonzero(overlap)
        f_score = (
            (1 + beta2) * overlap[matched] / (beta2 * self.phrasing_weight[matched] + query_weight)
        )
        if len(matched) > weights.shortlist:
            best = np.argpartition(-f_score, weights.shortlist - 1)[: weights.shortlist]
            matched, f_score = matched[best], f_score[best]
        query_joined = " ".join(sorted(set(known)))
        results: list[SegmentMatch] = []
        for candidate, token_f in zip(matched.tolist(), f_score.tolist(), strict=True):
            phrasing = self.phrasings[candidate]
            char_score = fuzz.ratio(query_joined, phrasing.joined)
            score = weights.overlap * token_f * 100.0 + weights.fuzzy * char_score
            results.append(SegmentMatch(candidate, score))
        results.sort(key=lambda m: m.score, reverse=True)
        return results[:limit]
