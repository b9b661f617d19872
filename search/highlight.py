"""Highlights: where a passage matches its query. Pure, apart from the stemmer (PyStemmer: the Snowball English
stemmer that tantivy's `en_stem` tokenizer applies, so a highlighted word is a word BM25 matched).

- terms: character spans (in the passage text) of words whose stem is a query word's stem, stopwords aside;
- sentences: the passage's sentences that match best, best first, each scored by the IDF-weighted share of the
  query's words it contains (1.0 = every query word). A hit found by meaning alone (no shared word) gets its
  sentences scored by embedding similarity instead (the searcher does that, in one batch; `Searcher._highlight`).
"""

from __future__ import annotations

import math
import re
import threading
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

import Stemmer

from index.lexical import query_terms
from index.split import sentence_spans

MAX_SENTENCES = 3
# Words in more than a tenth of the passages ("did", "after", "new") count towards a sentence's score by their
# small IDF but are not marked, unless the query has nothing rarer.
COMMON_SHARE = 0.1
_WORDS = re.compile(r"[^\W_]+")  # tantivy's simple tokenizer: runs of letters and digits
_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:  # a PyStemmer object keeps state between calls: one per thread
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    score: float


@dataclass(frozen=True, slots=True)
class Highlights:
    terms: list[tuple[int, int]]
    sentences: list[Sentence]


def stems_of(text: str) -> list[str]:
    """The text's words as the lexical index reads them: lower-cased, English-stemmed, in order."""
    return _stemmer().stemWords(_WORDS.findall(text.lower()))


def idf(df: int, documents: int) -> float:
    """BM25's inverse document frequency."""
    return math.log(1 + (documents - df + 0.5) / (df + 0.5))


def query_stems(query: str, doc_freq: Callable[[str], int], documents: int) -> dict[str, float]:
    """The query's stems with their BM25 IDF weights (stopwords dropped unless nothing else is left)."""
    stems = set(_stemmer().stemWords(_WORDS.findall(query_terms(query))))
    n = max(documents, 1)
    return {s: idf(doc_freq(s), n) for s in stems}


def marked_stems(stems: dict[str, float], documents: int) -> set[str]:
    """The stems worth marking in a text: all but the common ones (see COMMON_SHARE), or all if all are common."""
    floor = idf(int(COMMON_SHARE * max(documents, 1)), max(documents, 1))
    rare = {s for s, weight in stems.items() if weight > floor}
    return rare or set(stems)


def highlight(
    text: str, stems: dict[str, float], max_sentences: int = MAX_SENTENCES, marked: set[str] | None = None
) -> Highlights:
    """Term spans and best sentences of `text` for a query reduced to `stems` (see `query_stems`); only the
    stems in `marked` (default: all) get term spans."""
    if not stems:
        return Highlights([], [])
    marked = set(stems) if marked is None else marked
    words = list(_WORDS.finditer(text))
    word_stems = _stemmer().stemWords([m.group().lower() for m in words])
    hits = [(m.start(), m.end(), stem) for m, stem in zip(words, word_stems, strict=True) if stem in stems]
    terms = [(a, b) for a, b, stem in hits if stem in marked]
    total = sum(stems.values()) or 1.0
    starts = [a for a, _, _ in hits]
    sentences = []
    for start, end in sentence_spans(text) if hits else ():
        found = {stem for _, _, stem in hits[bisect_left(starts, start) : bisect_left(starts, end)]}
        if found:
            sentences.append(Sentence(start, end, round(sum(stems[s] for s in found) / total, 4)))
    sentences.sort(key=lambda s: (-s.score, s.start))
    return Highlights(terms, sentences[:max_sentences])
