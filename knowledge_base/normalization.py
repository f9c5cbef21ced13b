"""Indonesian text normalisation shared by FAQ phrasings and resident messages.

Both sides go through the same steps, so "gmn cara ngurus ijin?" and the phrasing
"Bagaimana cara mengurus izin?" meet as the same tokens. The word lists live in
``knowledge_base/data/`` so that content editors can extend them without code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Protocol

__all__ = [
    "Normalizer",
    "Stemmer",
    "WordLists",
    "default_normalizer",
    "load_word_lists",
    "split_segments",
]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+")
# A token is a run of letters/digits; "-" and "'" inside words are handled below.
_WORD = re.compile(r"[0-9a-z]+(?:[-'][0-9a-z]+)*")
_REDUPLICATED_DIGIT = re.compile(r"^([a-z]{3,})2$")  # "syarat2" = "syarat-syarat"
_LETTER_RUN = re.compile(r"([a-z])\1{2,}")  # "bangeeet", "pagiii"
_MIN_NYA_WORD = 6
_WORD_CACHE_LIMIT = 100_000

# Sentence ends: . ! ? ; or a line break. A dot between digits or letters with no
# space after it ("10.00", "jakarta.go.id") does not end a sentence.
_SENTENCE_END = re.compile(r"(?:[.!?;]+(?=\s|$)|\n+|[!?]+)")
_CLAUSE_BREAK = re.compile(
    r",|\s(?:terus|trus|trs|lalu|kemudian|serta|selain itu|sekalian|and)\s"
    r"|\s(?:dan|juga)\s(?=(?:apa|apakah|bagaimana|gimana|gmn|berapa|brp|dimana|dmn|kapan|"
    r"kenapa|cara|bisa|bs|ada|boleh|kalau|kalo|klo)\b)",
    re.IGNORECASE,
)


class Stemmer(Protocol):
    """Anything with ``stem(word) -> str``, e.g. PySastrawi's stemmer.

    Off by default: measured on the tuning half, PySastrawi did not improve top-1
    and let more off-topic messages through, because the slang list already maps
    the informal verb forms residents use ("ngurus", "ngajuin") to the FAQ's words.
    """

    def stem(self, text: str) -> str: ...


@dataclass(frozen=True, slots=True)
class WordLists:
    """The data files, parsed. Replacement keys are tuples of canonical words."""

    replacements: Mapping[str, tuple[str, ...]]
    phrase_replacements: Mapping[tuple[str, ...], tuple[str, ...]]
    fillers: frozenset[tuple[str, ...]]
    stopwords: frozenset[str]
    nya_exceptions: frozenset[str]

    @property
    def longest_phrase(self) -> int:
        lengths = [len(p) for p in self.phrase_replacements] + [len(f) for f in self.fillers]
        return max(lengths, default=1)


def _data_lines(name: str) -> list[str]:
    text = resources.files("knowledge_base").joinpath("data", name).read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def parse_word_lists(
    slang_lines: Iterable[str],
    filler_lines: Iterable[str],
    stopword_lines: Iterable[str],
    nya_exception_lines: Iterable[str] = (),
) -> WordLists:
    replacements: dict[str, tuple[str, ...]] = {}
    phrases: dict[tuple[str, ...], tuple[str, ...]] = {}
    for line in slang_lines:
        source, _, target = line.partition("\t")
        if not target:
            raise ValueError(f"slang line without a TAB and a replacement: {line!r}")
        key = tuple(source.strip().lower().split())
        value = tuple(target.strip().lower().split())
        if len(key) == 1:
            replacements[key[0]] = value
        else:
            phrases[key] = value
    return WordLists(
        replacements=replacements,
        phrase_replacements=phrases,
        fillers=frozenset(tuple(line.lower().split()) for line in filler_lines),
        stopwords=frozenset(line.lower() for line in stopword_lines),
        nya_exceptions=frozenset(line.lower() for line in nya_exception_lines),
    )


@cache
def load_word_lists() -> WordLists:
    """The word lists shipped in ``knowledge_base/data``."""
    return parse_word_lists(
        _data_lines("slang.tsv"),
        _data_lines("fillers.txt"),
        _data_lines("stopwords.txt"),
        _data_lines("nya_exceptions.txt"),
    )


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _EMAIL.sub(" email ", text)
    return _URL.sub(" ", text)


class Normalizer:
    """Turns text into canonical content words.

    ``tokens`` keeps everything but greetings and fillers (for display and fuzzy
    comparison); ``content`` additionally drops stopwords (for the index).
    """

    def __init__(self, words: WordLists | None = None, stemmer: Stemmer | None = None) -> None:
        self.words = words if words is not None else load_word_lists()
        self._stemmer = stemmer
        self._stem_cache: dict[str, str] = {}
        # Residents reuse a small vocabulary; caching the per-word rewrite keeps
        # building a 5,000-phrasing index and long emails cheap.
        self._word_cache: dict[str, tuple[str, ...]] = {}

    def _split_word(self, word: str) -> list[str]:
        if "-" in word:
            parts = word.split("-")
            # "syarat-syarat" is one word repeated; "ber-ktp" is two.
            if len(set(parts)) == 1:
                return [parts[0]]
            return [p for p in parts if p]
        word = word.replace("'", "")
        match = _REDUPLICATED_DIGIT.match(word)
        if match:
            return [match.group(1)]
        return [_LETTER_RUN.sub(r"\1", word)]

    def _canonical(self, word: str) -> tuple[str, ...]:
        replaced = self.words.replacements.get(word)
        if replaced is not None:
            return replaced
        if (
            word.endswith("nya")
            and len(word) >= _MIN_NYA_WORD
            and word not in self.words.nya_exceptions
        ):
            base = word[:-3]
            return self.words.replacements.get(base, (base,))
        return (word,)

    def _rewrite_phrases(self, words: list[str]) -> list[str]:
        """Replace multi-word synonyms and drop fillers, longest match first."""
        longest = self.words.longest_phrase
        out: list[str] = []
        i = 0
        while i < len(words):
            for size in range(min(longest, len(words) - i), 1, -1):
                window = tuple(words[i : i + size])
                if window in self.words.fillers:
                    i += size
                    break
                target = self.words.phrase_replacements.get(window)
                if target is not None:
                    out.extend(target)
                    i += size
                    break
            else:
                if (words[i],) not in self.words.fillers:
                    out.append(words[i])
                i += 1
        return out

    def tokens(self, text: str) -> list[str]:
        words: list[str] = []
        cache = self._word_cache
        for raw in _WORD.findall(_fold(text)):
            canonical = cache.get(raw)
            if canonical is None:
                canonical = tuple(
                    word for part in self._split_word(raw) for word in self._canonical(part)
                )
                if len(cache) < _WORD_CACHE_LIMIT:
                    cache[raw] = canonical
            words.extend(canonical)
        return self._rewrite_phrases(words)

    def stem(self, word: str) -> str:
        if self._stemmer is None or word.isdigit():
            return word
        stemmed = self._stem_cache.get(word)
        if stemmed is None:
            stemmed = self._stemmer.stem(word) or word
            self._stem_cache[word] = stemmed
        return stemmed

    def content(self, text: str) -> list[str]:
        """Content words in order, duplicates kept, stopwords and fillers removed."""
        stop = self.words.stopwords
        return [self.stem(w) for w in self.tokens(text) if w not in stop]


@cache
def default_normalizer() -> Normalizer:
    return Normalizer()


def split_segments(text: str, *, max_sentences: int = 40) -> list[str]:
    """Pieces of a message worth matching on their own.

    A long email hides its question inside one sentence, and a chat message may ask
    two things. So the message is scored as: the whole (when short), each sentence,
    each pair of neighbouring sentences (a question often refers to the sentence
    before it: "Permohonan saya ditolak. Apa yang harus saya lakukan?") and each
    clause of a sentence. The caller takes the best score per FAQ entry.
    """
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
    sentences = sentences[:max_sentences]
    segments: list[str] = []
    seen: set[str] = set()

    def add(segment: str) -> None:
        segment = segment.strip()
        if segment and segment not in seen:
            seen.add(segment)
            segments.append(segment)

    if len(sentences) <= 3:
        add(" ".join(sentences))
    for index, sentence in enumerate(sentences):
        add(sentence)
        if index + 1 < len(sentences):
            add(f"{sentence} {sentences[index + 1]}")
        clauses = [c for c in _CLAUSE_BREAK.split(sentence) if c and c.strip()]
        if len(clauses) > 1:
            for clause in clauses:
                add(clause)
    return segments
