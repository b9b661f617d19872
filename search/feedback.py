"""Pseudo-relevance feedback for keyword queries: what the best first-pass hits share, added to the query.

A keyword query ("New START suspension") names a story in two or three words; the articles about it use others
("suspends", "nuclear arms treaty"), and a three-word query gives the encoder little to go on. So, in queries of at
most `short_max_words` words, the top `feedback_docs` articles of a first search are read: the stems that weigh
most in their shown passages join the BM25 query at `feedback_weight` (RM3: Lavrenko and Croft 2001, Pyserini's
expansion), and the query's vector moves `feedback_dense` towards their mean vector (Rocchio); then the search runs
again. A quiz question's many words carry their own context, and are left alone. Figures: docs/queries.md.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections import Counter
from collections.abc import Callable, Sequence
from operator import itemgetter

import numpy as np

from index.lexical import STOPWORDS, Proximity
from search import interpreted
from search.highlight import idf, stems_of
from search.options import Mode, RankingConfig
from search.readside import ReadSide


def short(query: str, c: RankingConfig) -> bool:
    """A keyword query: at most `short_max_words` words (a quiz question has more)."""
    return len(query.split()) <= c.short_max_words


def applies(query: str, mode: Mode, c: RankingConfig) -> bool:
    """Feedback runs in hybrid keyword queries: lexical mode keeps its promise that every hit holds a query word,
    and dense mode has no BM25 query to expand."""
    return (c.feedback_weight > 0 or c.feedback_dense > 0) and mode == "hybrid" and short(query, c)


def feedback_terms(
    texts: Sequence[str],
    query: str,
    doc_freq: Callable[[str], int],
    documents: int,
    terms: int,
    doc_weights: Sequence[float] | None = None,
    max_share: float = 0.1,
) -> list[tuple[str, float]]:
    """The `terms` stems (not the query's own, no numbers, in at most `max_share` of the passages) that weigh most
    in `texts` times their IDF, each text counting as its stems' shares times its weight (RM1; `doc_weights`, default
    equal); each with its share, scaled so the heaviest is 1 (BM25 weighs the term by its IDF again)."""
    own = set(stems_of(query))
    weights: dict[str, float] = {}
    for text, doc_weight in zip(texts, doc_weights or [1.0] * len(texts), strict=True):
        stems = [s for s in stems_of(text) if s not in own and s not in STOPWORDS and not s.isdigit()]
        for stem, count in Counter(stems).items():
            weights[stem] = weights.get(stem, 0.0) + doc_weight * count / len(stems)
    n = max(documents, 1)
    scored = []
    for stem, weight in heapq.nlargest(4 * terms, weights.items(), key=itemgetter(1)):  # as Counter.most_common
        df = doc_freq(stem)
        if 1 < df <= max_share * n:
            scored.append((weight * idf(df, n), stem, weight))
    top = sorted(scored, key=lambda x: (-x[0], x[1]))[:terms]
    heaviest = max((weight for _, _, weight in top), default=1.0)
    return [(stem, weight / heaviest) for _, stem, weight in top]


def expand(
    reader: ReadSide,
    c: RankingConfig,
    words: Proximity,
    grouped: Sequence[tuple[int, float, int]],
    lexical: Sequence[tuple[int, float]],
    vector: np.ndarray | None,
) -> tuple[Proximity, np.ndarray | None]:
    """`words` plus the feedback stems of the first pass's top articles (`grouped`: row, score, more) as BM25
    expansions, and `vector` moved towards those articles' shown passages, the n-th best weighing 1/n. Only
    articles BM25 found (`lexical`) are read: pseudo-relevant ones hold a query word. With acronym names in the
    query, only passages holding them (a live blog's other items, "a new start", say nothing of "New START")."""
    if reader.lexical is None:
        return words, vector
    matched = {reader.article_of(row) for row, _ in lexical}
    rows = [row for row, _, _ in grouped[: 2 * c.feedback_docs] if reader.article_of(row) in matched]
    texts = [f"{p.title}\n{p.text}" for p in reader.fetch(rows)]
    names = [p for p in words.phrases if interpreted.cased(p)]
    if names:
        held = [share > 0 for share in interpreted.name_shares(texts, names)]
        rows = [row for row, keep in zip(rows, held, strict=True) if keep]
        texts = [text for text, keep in zip(texts, held, strict=True) if keep]
    rows, texts = rows[: c.feedback_docs], texts[: c.feedback_docs]
    weights = [1 / n for n in range(1, len(rows) + 1)]
    terms = feedback_terms(texts, words.text, reader.lexical.doc_freq, reader.passages, c.feedback_terms, weights)
    words = dataclasses.replace(words, expansions=tuple((t, c.feedback_weight * w) for t, w in terms))
    if vector is not None and rows and c.feedback_dense > 0:
        mean = np.average(reader.vectors(rows), axis=0, weights=weights)
        moved = vector[0] + c.feedback_dense * mean
        vector = (moved / np.linalg.norm(moved))[None, :].astype(vector.dtype)
    return words, vector
