"""ReadSide: what the searcher, the service and the CLI read from an index (one IndexReader, or shards as one).

`index.reader.IndexReader` and `search.shards.ShardedReader` both satisfy it structurally (no base class, no
cast); tests/search/test_readside.py checks both, at run time and under mypy.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from index.lexical import LexicalQuery

from index.manifest import Manifest
from index.passages import ArticleInfo, StoredPassage

Ranked = list[tuple[int, float]]  # (row, score), best first


class TermCounts(Protocol):
    """The lexical index as the highlighter asks it: in how many passages a term occurs."""

    def doc_freq(self, term: str) -> int: ...


@runtime_checkable
class ReadSide(Protocol):
    """A loaded index as the read side uses it: rows are the vector index's ints, and never leave search/."""

    @property
    def manifest(self) -> Manifest: ...  # model, dim and counts (the model check, /healthz)

    @property
    def generation(self) -> Path: ...  # the generation served (the live reloader compares it)

    @property
    def lexical(self) -> TermCounts | None: ...  # None: no lexical index (dense search only)

    @property
    def passages(self) -> int: ...

    @property
    def articles(self) -> int: ...

    @property
    def row_days(self) -> np.ndarray: ...  # each row's day since the epoch (NO_DAY: undated)

    @property
    def row_n(self) -> np.ndarray: ...  # each row's place in its article (0 = the lede)

    def search(self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[Ranked]: ...

    def search_lexical(
        self, query: LexicalQuery, k: int, allowed: np.ndarray | None = None, within_share: float = ...
    ) -> Ranked: ...

    def age_in_days(self, reference: datetime.date) -> Callable[[int], float | None]: ...

    def rows_dated(self, start: datetime.date | None = None, end: datetime.date | None = None) -> np.ndarray: ...

    def rows_from(self, sources: Iterable[str]) -> np.ndarray: ...

    def sources_of(self, rows: Sequence[int]) -> list[str]: ...  # each row's article's source, from memory

    def rows_holding(self, word: str) -> list[int]: ...  # the rows whose passage holds the word (lexical index)

    def rows_of_article(self, article_id: str) -> np.ndarray: ...

    def article_of(self, row: int) -> str: ...

    def passages_in_article(self, article_id: str) -> int: ...  # from memory, 0 when not stored

    def article(self, article_id: str) -> dict[str, Any] | None: ...

    def duplicate_group(self, article_id: str) -> str | None: ...

    def near_duplicates(self, article_id: str) -> list[ArticleInfo]: ...

    def sources(self) -> list[tuple[str, int]]: ...

    def fetch(self, rows: Sequence[int]) -> list[StoredPassage]: ...

    def vectors(self, rows: Iterable[int]) -> np.ndarray: ...  # the rows' stored vectors (unit length)

    def article_runs(self) -> tuple[np.ndarray, np.ndarray] | None: ...  # run starts, norms of vector sums

    def close(self) -> None: ...
