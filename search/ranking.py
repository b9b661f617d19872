"""Rank fusion and grouping: pure functions over (row, score) lists, best first; no I/O.

Reciprocal rank fusion (Cormack et al. 2009) uses ranks only, so it needs no calibration between BM25 and
cosine scores. Normalised fusion rescales each list (min-max or z-score over its own candidates) and takes a
convex combination; a row missing from a list gets that list's floor, not zero evidence of relevance.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

Ranked = list[tuple[int, float]]
RRF_K = 60  # the constant from the RRF paper; larger flattens the weight of top ranks


def rrf(lists: Sequence[Ranked], weights: Sequence[float] | None = None, k0: int = RRF_K) -> Ranked:
    weights = weights or [1.0] * len(lists)
    fused: dict[int, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        for rank, (row, _) in enumerate(ranked, start=1):
            fused[row] = fused.get(row, 0.0) + w / (k0 + rank)
    return sorted(fused.items(), key=lambda x: (-x[1], x[0]))


def _minmax(scores: list[float]) -> Callable[[float], float]:
    lo, hi = min(scores), max(scores)
    return (lambda s: (s - lo) / (hi - lo)) if hi > lo else (lambda s: 1.0)


def _zscore(scores: list[float]) -> Callable[[float], float]:
    mean = statistics.fmean(scores)
    sd = statistics.pstdev(scores) if len(scores) > 1 else 0.0
    return (lambda s: (s - mean) / sd) if sd > 0 else (lambda s: 0.0)


NORMALISERS: dict[str, Callable[[list[float]], Callable[[float], float]]] = {"minmax": _minmax, "zscore": _zscore}


def normalised(lists: Sequence[Ranked], weights: Sequence[float], method: str = "minmax") -> Ranked:
    """Convex combination of per-list normalised scores; a row absent from a list scores that list's minimum."""
    fused: dict[int, float] = {}
    scales = []
    for ranked in lists:
        if ranked:
            norm = NORMALISERS[method]([s for _, s in ranked])
            scales.append(({row: norm(s) for row, s in ranked}, min(norm(s) for _, s in ranked)))
        else:
            scales.append(({}, 0.0))
    rows = {row for ranked in lists for row, _ in ranked}
    for row in rows:
        fused[row] = sum(w * scaled.get(row, floor) for (scaled, floor), w in zip(scales, weights, strict=True))
    return sorted(fused.items(), key=lambda x: (-x[1], x[0]))


def fuse(dense: Ranked, lexical: Ranked, method: str, dense_weight: float) -> Ranked:
    """The two retrievers' lists fused by `method` (rrf, minmax or zscore); the dense list gets `dense_weight`."""
    weights = (dense_weight, 1.0 - dense_weight)
    if method == "rrf":
        return rrf([dense, lexical], weights)
    return normalised([dense, lexical], weights, method)


def group_best(ranked: Ranked, key_of: Callable[[int], str]) -> list[tuple[int, float, int]]:
    """One entry per key (article): its best row and score, and how many more of its rows matched."""
    best: dict[str, tuple[int, float]] = {}
    extra: dict[str, int] = {}
    order: list[str] = []
    for row, score in ranked:
        key = key_of(row)
        if key in best:
            extra[key] += 1
        else:
            best[key], extra[key] = (row, score), 0
            order.append(key)
    return [(best[key][0], best[key][1], extra[key]) for key in order]


def focus_boost(
    grouped: list[tuple[int, float, int]],
    passages_of: Callable[[int], int],
    weight: float,
    matched_of: Callable[[int], int] | None = None,
) -> list[tuple[int, float, int]]:
    """Rescore articles by relevance (min-max over the candidates, in [0, 1]) plus `weight` x their focus: the
    share of their passages among the candidates, (1 + more) / (passages + 2), so an article wholly about the
    query outranks a live blog or roundup with one matching item (the +2 keeps a one-passage article from
    counting as wholly focused on the strength of its one match). `matched_of(row)`, when given, counts an
    article's matching passages instead of 1 + more (the searcher counts those holding the query's names)."""
    if not grouped or weight <= 0:
        return grouped
    norm = _minmax([score for _, score, _ in grouped])
    rescored = []
    for row, score, more in grouped:
        matched = 1 + more if matched_of is None else matched_of(row)
        rescored.append((row, norm(score) + weight * matched / (passages_of(row) + 2), more))
    return sorted(rescored, key=lambda x: (-x[1], x[0]))


def about_boost(
    grouped: list[tuple[int, float, int]],
    about: Callable[[int], float],
    weight: float,
    depth: int,
    eligible: Callable[[int], bool] | None = None,
) -> list[tuple[int, float, int]]:
    """The top `depth` articles gain `weight` x how much of each is about the query, `about(row)` (the searcher's
    mean cosine over all the article's passages), min-max over them; the rest keep their place below. A live
    blog whose one item matches scores low: its other passages are about other things. An article not
    `eligible` (not holding the query's names) counts as the least about it."""
    if not grouped or weight <= 0 or depth <= 0:
        return grouped
    head = grouped[:depth]
    values = [about(row) for row, _, _ in head]
    if eligible is not None:
        least = min(values)
        values = [v if eligible(row) else least for (row, _, _), v in zip(head, values, strict=True)]
    norm = _minmax(values)
    rescored = [(row, score + weight * norm(v), more) for (row, score, more), v in zip(head, values, strict=True)]
    return sorted(rescored, key=lambda x: (-x[1], x[0])) + grouped[depth:]


def recency_boost(
    grouped: list[tuple[int, float, int]], age_days: Callable[[int], float | None], weight: float, half_life: float
) -> list[tuple[int, float, int]]:
    """Rescore by relevance (min-max over the candidates, in [0, 1]) plus `weight` x 0.5 ** (age / half_life).

    An article `half_life` days old gets half the boost of one from the reference day; an undated one none.
    Ages below zero (after the reference day) count as zero.
    """
    if weight <= 0:
        return grouped
    return with_prior(grouped, lambda row: weight * recency_prior(age_days(row), half_life))


def recency_prior(age: float | None, half_life: float) -> float:
    """0.5 ** (age / half_life): 1 on the reference day (or after it), 0 for an undated article."""
    return 0.0 if age is None else 0.5 ** (max(age, 0.0) / half_life)


def prior_spread(
    rows: Sequence[int], age_days: Callable[[int], float | None], weight: float, half_life: float
) -> float:
    """How far apart the recency prior of `recency_boost` can push these candidates: `weight` x (largest prior -
    smallest prior). Near zero when every candidate is long past the half-life (or undated): the prior then
    reorders nothing but near-ties, and the ranking is relevance alone."""
    if weight <= 0 or not rows:
        return 0.0
    priors = [recency_prior(age_days(row), half_life) for row in rows]
    return weight * (max(priors) - min(priors))


def lede_prior(choice: dict[int, float], place: Callable[[int], int], weight: float) -> dict[int, float]:
    """`choice` plus `weight / (1 + n)` for a passage at place n of its article (0 = the lede).

    News is written as an inverted pyramid: the first paragraphs say who, what and where, and later ones carry
    background, quotes and reactions. So between an article's passages that match a question about equally,
    the earlier one more often holds the answer.
    """
    return {row: score + weight / (1 + place(row)) for row, score in choice.items()} if weight else choice


def pick_passages(
    grouped: list[tuple[int, float, int]], candidates: Ranked, key_of: Callable[[int], str], choice: dict[int, float]
) -> list[tuple[int, float, int]]:
    """Keep each article's rank and score, but show the passage of it that `choice` scores highest.

    Dense scores barely tell an article's passages apart (each embeds the same title), so the ranking's best
    passage is often not the one that answers; a balanced dense + lexical score picks it better.
    """
    best: dict[str, tuple[float, int]] = {}
    for row, _ in candidates:
        key, score = key_of(row), choice.get(row, float("-inf"))
        if key not in best or score > best[key][0]:
            best[key] = (score, row)
    return [(best.get(key_of(row), (0.0, row))[1], score, more) for row, score, more in grouped]


def with_prior(grouped: list[tuple[int, float, int]], prior: Callable[[int], float]) -> list[tuple[int, float, int]]:
    """Rescore by relevance (min-max over the candidates, in [0, 1]) plus `prior(row)`; ties by row."""
    if not grouped:
        return grouped
    norm = _minmax([score for _, score, _ in grouped])
    rescored = [(row, norm(score) + prior(row), more) for row, score, more in grouped]
    return sorted(rescored, key=lambda x: (-x[1], x[0]))


def period_prior(day: int | None, start: int, end: int, after_half_life: float, before_half_life: float = 0.0) -> float:
    """1 for a day in [start, end], 0.5 ** (days after end / after_half_life) after it (news of an event follows
    it), 0.5 ** (days before start / before_half_life) before it (0: none), 0 undated. Days from any fixed epoch."""
    if day is None:
        return 0.0
    if day < start:
        return 0.5 ** ((start - day) / before_half_life) if before_half_life > 0 else 0.0
    return 1.0 if day <= end else 0.5 ** ((day - end) / after_half_life)
