"""Highlights: where a passage matches its query. Pure, apart from the stemmer (PyStemmer: the Snowball English
stemmer that tantivy's `en_stem` tokenizer applies, so a highlighted word is a word BM25 matched).

- terms: character spans (in the passage text) of words whose stem is a query word's stem, stopwords aside;
- sentences: the passage's sentences that match best, best first, each scored by the IDF-weighted share of the
  query's words it contains (1.0 = every query word). A hit found by meaning alone (no shared word) gets its
  sentences scored by embedding similarity instead (the searcher does that; see `Searcher._highlight`).
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import Stemmer

from index.lexical import STOPWORDS
from index.split import sentence_spans

MAX_SENTENCES = 3
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


def query_stems(query: str, doc_freq: Callable[[str], int], documents: int) -> dict[str, float]:
    """The query's stems with their BM25 IDF weights (stopwords dropped unless nothing else is left)."""
    words = [w.lower() for w in _WORDS.findall(query)]
    kept = [w for w in words if w not in STOPWORDS] or words
    stems = set(_stemmer().stemWords(kept))
    n = max(documents, 1)
    return {s: math.log(1 + (n - (df := doc_freq(s)) + 0.5) / (df + 0.5)) for s in stems}


def highlight(text: str, stems: dict[str, float], max_sentences: int = MAX_SENTENCES) -> Highlights:
    """Term spans and best sentences of `text` for a query reduced to `stems` (see `query_stems`)."""
    if not stems:
        return Highlights([], [])
    words = list(_WORDS.finditer(text))
    word_stems = _stemmer().stemWords([m.group().lower() for m in words])
    terms = [(m.start(), m.end()) for m, s in zip(words, word_stems, strict=True) if s in stems]
    total = sum(stems.values()) or 1.0
    sentences = []
    i = 0
    for start, end in sentence_spans(text):
        found: set[str] = set()
        while i < len(words) and words[i].start() < end:
            if words[i].start() >= start and word_stems[i] in stems:
                found.add(word_stems[i])
            i += 1
        if found:
            sentences.append(Sentence(start, end, round(sum(stems[s] for s in found) / total, 4)))
    sentences.sort(key=lambda s: (-s.score, s.start))
    return Highlights(terms, sentences[:max_sentences])


def best_by_similarity(
    text: str, similarity: Callable[[Sequence[str]], Sequence[float]], max_sentences: int = MAX_SENTENCES
) -> list[Sentence]:
    """The sentences of `text` ranked by `similarity` (e.g. cosine to the query embedding), best first."""
    spans = sentence_spans(text)
    if not spans:
        return []
    scores = similarity([text[a:b] for a, b in spans])
    ranked = sorted(zip(spans, scores, strict=True), key=lambda x: (-x[1], x[0][0]))
    return [Sentence(a, b, round(float(s), 4)) for (a, b), s in ranked[:max_sentences]]
