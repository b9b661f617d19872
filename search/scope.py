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
