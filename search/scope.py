"""Which rows a request covers and what counts as one story: shared by the searcher and coverage."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from search.readside import ReadSide

T = TypeVar("T")


def effective_end(end: datetime.date | None, as_of: datetime.date | None) -> datetime.date | None:
    """The last day a request covers: `end`, capped by `as_of` (the archive as it stood that day)."""
    if as_of is None:
        return end
    return as_of if end is None else min(end, as_of)


def allowed_rows(
    reader: ReadSide,
    start: datetime.date | None,
    end: datetime.date | None,
    sources: Sequence[str] | None,
    article: str | None = None,
) -> np.ndarray | None:
    """The rows the filters let through (None: every row)."""
    allowed = reader.rows_dated(start, end) if (start or end) else None
    if sources:
        by_source = reader.rows_from(sources)
        allowed = by_source if allowed is None else allowed & by_source
    if article is not None:
        of_article = reader.rows_of_article(article)
        allowed = of_article if allowed is None else allowed & of_article
    return allowed


def story_of(reader: ReadSide, row: int) -> str:
    """What collapse groups by: the article's near-duplicate group, else the article itself."""
    article_id = reader.article_of(row)
    return reader.duplicate_group(article_id) or article_id


def first_per(items: Sequence[T], key: Callable[[T], str]) -> list[T]:
    """The first (best) item per key, in order."""
    seen: set[str] = set()
    kept: list[T] = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            kept.append(item)
    return kept


def as_arrays(ranked: Sequence[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """(row, score) pairs as a row array and a score array."""
    rows = np.fromiter((row for row, _ in ranked), dtype=np.int64, count=len(ranked))
    return rows, np.fromiter((score for _, score in ranked), dtype=np.float64, count=len(ranked))


def best_per_run(reader: ReadSide, rows: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    """The first (best) of best-first rows per run of one article's consecutive rows (`article_runs`), at numpy
    speed: coverage may match every passage of the index. Without runs (no flat vectors), every row is kept."""
    runs = reader.article_runs()
    if runs is not None and len(rows):
        run = np.searchsorted(runs[0], rows, side="right") - 1
        first = np.sort(np.unique(run, return_index=True)[1])
        rows, scores = rows[first], scores[first]
    return list(zip(rows.tolist(), scores.tolist(), strict=True))
