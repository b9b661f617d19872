"""How an interpreted query ranks (search/interpret.py reads it): the text each retriever gets, the period prior,
and the exact-name evidence of the candidates (docs/queries.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from index.lexical import LexicalQuery, Proximity
from index.rows import EPOCH, NO_DAY
from search import ranking
from search.interpret import Understood
from search.options import RankingConfig

AgeOf = Callable[[int], float | None]


def query_forms(query: str, understood: Understood | None, c: RankingConfig) -> tuple[str, LexicalQuery]:
    """The text the encoder reads and the query BM25 runs: the query as typed, or (interpret=true) with its
    phrases and word order counted, less its time words when `drop_time_words`."""
    if understood is None:
        return query, query
    text = understood.text if c.drop_time_words else query
    return text, Proximity(text, understood.phrases, c.phrase_boost, c.phrase_slop, c.pair_boost, c.pair_slop)


def time_prior(
    understood: Understood, row_days: np.ndarray, age: AgeOf, recency: float, half_life: float, c: RankingConfig
) -> Callable[[int], float]:
    """A row's prior: recency (as ranking.recency_boost) plus period_weight for a date in the query's period."""
    assert understood.time is not None
    start, end = ((d - EPOCH).days for d in (understood.time.start, understood.time.end))

    def prior(row: int) -> float:
        day = None if row_days[row] == NO_DAY else int(row_days[row])
        in_period = ranking.period_prior(day, start, end, c.period_after_days, c.period_before_days)
        return recency * ranking.recency_prior(age(row), half_life) + c.period_weight * in_period

    return prior


def _pattern(phrase: str) -> re.Pattern[str]:
    """A phrase as written, between word edges; a phrase with a capital letter ("New START") must match its case,
    which BM25's lower-cased, stemmed terms cannot tell from "a new start"."""
    words = r"\s+".join(re.escape(w) for w in phrase.split())
    flags = 0 if any(ch.isupper() for ch in phrase) else re.IGNORECASE
    return re.compile(rf"(?<!\w){words}(?!\w)", flags)


def cased(phrase: str) -> bool:
    """Whether a phrase holds an acronym (a word of two or more capitals: "New START", "LIV Golf"): its case
    tells it from ordinary words, which BM25's lower-cased terms cannot."""
    return any(sum(ch.isupper() for ch in word) >= 2 for word in phrase.split())


def name_shares(texts: Sequence[str], phrases: Sequence[str]) -> list[float]:
    """For each text, the share of `phrases` it holds verbatim (case as written, see _pattern)."""
    patterns = [_pattern(p) for p in phrases]
    return [sum(bool(p.search(text)) for p in patterns) / len(patterns) for text in texts] if patterns else []


def with_names(ranked: ranking.Ranked, shares: dict[int, float], weight: float) -> ranking.Ranked:
    """Scores min-max normalised over the list, plus `weight` x the row's share of phrases held verbatim."""
    if not ranked:
        return ranked
    norm = ranking.NORMALISERS["minmax"]([s for _, s in ranked])
    rescored = [(row, norm(s) + weight * shares.get(row, 0.0)) for row, s in ranked]
    return sorted(rescored, key=lambda x: (-x[1], x[0]))
