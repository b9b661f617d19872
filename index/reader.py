"""IndexReader: a loaded generation, for vector and lexical search and passage fetch.

Rows are append-only within a line of generations: a deleted passage leaves its vector in `vectors.faiss`
(HNSW cannot remove one) and only its store row and lexical document go; the reader masks such rows out of
every vector search. So `vectors` (FAISS ntotal) = `passages` (store rows) + `deleted`, and `compact` rewrites
the generation without them.
"""

from __future__ import annotations

import datetime
import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from index import lexical
from index import vectors as vecs
from index.errors import IndexCorrupt
from index.generations import LEXICAL, REBUILD, check_files, file_identity, lease, resolve_generation, vector_files
from index.manifest import Manifest
from index.passages import ArticleInfo, StoredPassage
from index.rows import EPOCH, NO_DAY, RowTable
from index.segments import Segments

# A filter passing under this share of the rows is applied inside the lexical index (a term set over `row`; its
# cost grows with the rows that pass); a broader one widens the search instead (its cost grows as fewer pass).
# Both grow with the index, so the crossover is a share (measured in benchmarks/filters.py; docs/ranking.md).
LEXICAL_WITHIN_SHARE = 0.03

Ranked = list[tuple[int, float]]  # (row, score), best first


def settle_ties(search: Callable[[int], Ranked], k: int, key: Callable[[int], Any]) -> Ranked:
    """The top k of `search(n)` (best-first (row, score), n at most) with equal scores ordered by `key(row)`: asks
    for more while hits tie with the k-th past the end, so which of equal passages make the cut does not depend
    on row numbers (one index, its shards and its segments number rows differently)."""
    if k <= 0:
        return []
    want = k + 1
    while True:
        hits = search(want)
        if len(hits) < want or hits[-1][1] < hits[k - 1][1]:
            break
        want *= 4
    scores = np.fromiter((s for _, s in hits), dtype=np.float64, count=len(hits))
    starts = np.flatnonzero(np.diff(scores) == 0)  # hit i ties with hit i + 1
    for i in reversed(starts.tolist()):  # each run of ties, sorted once from its first hit
        if i == 0 or scores[i - 1] != scores[i]:
            end = i + 1
            while end < len(hits) and scores[end] == scores[i]:
                end += 1
            hits[i:end] = sorted(hits[i:end], key=lambda hit: key(hit[0]))
    return hits[:k]


class IndexReader:
    """A loaded generation: vector search and passage fetch. Thread-safe (one SQLite connection per thread).

    Use as `with IndexReader(path) as reader:`, or call `close()`: it holds a lease on its generation.

    `reuse`, the reader of an earlier generation of the same index (the one served until now), lends what this
    generation shares with it: the loaded vector parts of the same files (hard links: same inode, size and
    mtime), and its row table when this generation is an edit of that one (only the edit's rows are read). So
    a reload after an add loads about the batch, not the archive. Both readers stay whole and independent."""

    def __init__(self, path: Path, verify: bool = False, reuse: IndexReader | None = None) -> None:
        self.generation = resolve_generation(Path(path))
        self._lease = lease(self.generation)  # released in close(): pruning skips a generation someone reads
        self._local = threading.local()
        self._stores: list[Segments] = []  # every thread's, so close() closes them all
        self._stores_lock = threading.Lock()
        self._runs: tuple[int, tuple[np.ndarray, np.ndarray] | None] | None = None  # article_runs(), per row count
        try:
            self.manifest = Manifest.read(self.generation)
            check_files(self.generation, self.manifest.files, full=verify)
            self._parts: dict[tuple[int, ...], Any] = {}  # file identity -> its loaded vector part, for reuse
            self.index = self._load_vectors(reuse._parts if reuse is not None else {})
            self.rows = self._load_rows(reuse)
            self.lexical = self._load_lexical()
            self._group_of, self._members = self._load_near_duplicates()
        except BaseException:
            self.close()
            raise

    def _load_vectors(self, loaded: dict[tuple[int, ...], Any]) -> Any:
        """The vector index (parts already `loaded` from the same files reused), refused unless its size and
        dimension and the store's agree with the manifest."""
        try:
            for name in vector_files(self.manifest.files):
                key = file_identity(self.generation / name)
                self._parts[key] = loaded[key] if key in loaded else vecs.read(self.generation / name)
            index = vecs.joined(list(self._parts.values()))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{self.generation}: a vector file is unreadable ({exc}); {REBUILD}") from exc
        counts = self.manifest.counts
        stored = self._db().counts()[1]
        ntotal = vecs.count(index)
        if not (ntotal == counts.vectors and stored == counts.passages):
            raise IndexCorrupt(
                f"{self.generation}: {ntotal} vectors, {stored} stored passages, manifest says "
                f"{counts.vectors} and {counts.passages}; {REBUILD}"
            )
        if vecs.dim(index) != self.manifest.dim:
            raise IndexCorrupt(f"{self.generation}: vector dimension differs from the manifest; {REBUILD}")
        return index

    def _load_rows(self, reuse: IndexReader | None) -> RowTable:
        """The row table: extended from `reuse`'s when this generation is an add or delete made from its
        generation (rows kept their numbers), else read whole."""
        ntotal = vecs.count(self.index)
        update = self.manifest.update or {}
        if (
            reuse is None
            or update.get("kind") not in ("add", "delete")
            or update.get("base") != reuse.generation.name
            or ntotal < len(reuse.row_days)
        ):
            return RowTable.load(self._db(), ntotal, self.generation)
        return reuse.rows.extended(self._db(), ntotal, self.manifest.counts.passages, self.generation)

    def _load_lexical(self) -> lexical.LexicalIndex | None:
        meta = self.manifest.lexical
        if meta is None:
            return None
        try:
            found = lexical.LexicalIndex(self.generation / LEXICAL, list(meta.fields), meta.row_terms)
        except (ValueError, OSError) as exc:
            raise IndexCorrupt(f"{self.generation / LEXICAL} is unreadable ({exc}); {REBUILD}") from exc
        if found.count() != self.rows.stored:
            raise IndexCorrupt(
                f"{self.generation}: lexical index holds {found.count()} passages, store {self.rows.stored}; {REBUILD}"
            )
        return found

    def _load_near_duplicates(self) -> tuple[dict[str, str], dict[str, list[str]]]:
        """article -> its group (the group's first article id), group -> its articles; empty before grouping."""
        group_of: dict[str, str] = {}
        members: dict[str, list[str]] = {}
        if self.manifest.near_duplicates is not None:
            for article_id, group_id in self._db().near_duplicate_groups():
                group_of[article_id] = group_id
                members.setdefault(group_id, []).append(article_id)
        return group_of, members

    def _db(self) -> Segments:
        """This thread's read-only connections to the passage store's segments."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = Segments.open(self.generation, self.manifest.files, any_thread=True)
            self._local.store = store
            with self._stores_lock:
                self._stores.append(store)
        return store

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close every thread's store connection and release the generation; call when no search is running."""
        with self._stores_lock:
            for store in self._stores:
                store.close()
            self._stores.clear()
        if not self._lease.closed:
            self._lease.close()

    # --- per-row facts --------------------------------------------------------------------------------------

    @property
    def row_days(self) -> np.ndarray:
        return self.rows.days

    @property
    def row_n(self) -> np.ndarray:
        return self.rows.n

    @property
    def live(self) -> np.ndarray | None:
        return self.rows.live

    @property
    def passages(self) -> int:
        return self.manifest.counts.passages

    @property
    def articles(self) -> int:
        return self.manifest.counts.articles

    def article_of(self, row: int) -> str:
        return self.rows.article_of[row]

    def article_runs(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Where each run of one article's rows begins (an article's passages are consecutive rows) and the length
        of the sum of the run's vectors, for coverage's test of an article as a whole; None without flat vectors.
        Computed once per row count: an add appends rows, a delete leaves the runs as they were."""
        ids, cached = self.rows.article_of, self._runs
        if cached is None or cached[0] != len(ids):
            named = np.asarray(ids, dtype=object)
            starts = np.flatnonzero(np.concatenate(([True], named[1:] != named[:-1])) if len(ids) else named[:0])
            norms = vecs.run_norms(self.index, starts)
            cached = self._runs = (len(ids), None if norms is None else (starts, norms))
        return cached[1]

    def passages_in_article(self, article_id: str) -> int:
        """How many passages the article has (0 when it is not stored), from memory."""
        return self.rows.passages_in.get(article_id, 0)

    def age_in_days(self, reference: datetime.date) -> Callable[[int], float | None]:
        """row -> its article's age in days on `reference` (None where undated), for the recency boost."""
        day = (reference - EPOCH).days
        days = self.rows.days
        return lambda row: None if days[row] == NO_DAY else float(day - days[row])

    def sources_of(self, rows: Sequence[int]) -> list[str]:
        """The source of each row's article ("" where it has none), from memory: no passage is fetched."""
        names = self.rows.source_names
        return [names[code] if code >= 0 else "" for code in self.rows.sources[np.asarray(rows, dtype=np.int64)]]

    def rows_holding(self, word: str) -> list[int]:
        """The rows of the passages (title and text) holding `word` as the lexical index reads words; [] without
        a lexical index."""
        return [] if self.lexical is None else self.lexical.rows_with(word)

    def rows_from(self, sources: Iterable[str]) -> np.ndarray:
        """A bool per row: its article comes from one of `sources` (exact names, case-insensitive)."""
        codes = self.rows.source_codes
        wanted = [codes[s.casefold()] for s in sources if s.casefold() in codes]
        return np.isin(self.rows.sources, np.array(wanted, dtype=np.int32))

    def rows_dated(self, start: datetime.date | None = None, end: datetime.date | None = None) -> np.ndarray:
        """A bool per row: its article is dated within [start, end] (undated articles never pass a date filter)."""
        mask = self.rows.days != NO_DAY
        if start is not None:
            mask &= self.rows.days >= (start - EPOCH).days
        if end is not None:
            mask &= self.rows.days <= (end - EPOCH).days
        return mask

    def rows_of_article(self, article_id: str) -> np.ndarray:
        """A bool per row: the passage belongs to `article_id`."""
        mask = np.zeros(len(self.rows.days), dtype=bool)  # one per vector, deleted rows included
        mask[self._db().rows_of(article_id)] = True
        return mask

    # --- search ---------------------------------------------------------------------------------------------

    def search(
        self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top-k (row, score) per query vector among `allowed` rows, best first; FAISS's -1 padding is dropped.

        Deleted rows (still in the vector index until compaction) never pass."""
        if self.live is not None:
            allowed = self.live if allowed is None else allowed & self.live
        scores, rows = vecs.search(self.index, query_vectors, k, allowed)
        return [
            [(int(r), float(s)) for r, s in zip(row_ids, row_scores, strict=True) if r >= 0]
            for row_ids, row_scores in zip(rows, scores, strict=True)
        ]

    def every_score(self, query_vector: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray | None:
        """Every row's exact cosine to one query vector (-inf where not allowed or deleted); None if the vector
        index keeps no flat vectors to score (coverage then widens `search` instead)."""
        scores = vecs.every_score(self.index, query_vector)
        if scores is None:
            return None
        mask = self.live if allowed is None else (allowed if self.live is None else allowed & self.live)
        if mask is not None:
            scores[~mask] = -np.inf
        return scores

    def search_lexical(
        self,
        query: lexical.LexicalQuery,
        k: int,
        allowed: np.ndarray | None = None,
        within_share: float = LEXICAL_WITHIN_SHARE,
    ) -> list[tuple[int, float]]:
        """Top-k (row, BM25 score) among `allowed` rows, best first, equal scores in passage order (`settle_ties`);
        [] for an index built without one.

        A filter passing under `within_share` of the rows is applied inside the lexical index (indexes built with
        `row` indexed); otherwise the search widens (k, 4k, 16k, ...) until k rows pass or the matches run out.
        """
        if self.lexical is None:
            return []
        return settle_ties(lambda n: self._search_lexical(query, n, allowed, within_share), k, self.passage_key)

    def passage_key(self, row: int) -> tuple[str, int]:
        """What orders passages of equal score: their article and place in it (not the row, which depends on how
        the index was built)."""
        return self.rows.article_of[row], int(self.rows.n[row])

    def _search_lexical(
        self, query: lexical.LexicalQuery, k: int, allowed: np.ndarray | None, within_share: float
    ) -> list[tuple[int, float]]:
        assert self.lexical is not None
        if allowed is None:
            return self.lexical.search(query, k)
        if self.lexical_filters_inside(allowed, within_share):
            return self.lexical.search_within(query, k, np.flatnonzero(allowed).tolist())
        return self.search_lexical_widened(query, k, allowed)

    def lexical_filters_inside(self, allowed: np.ndarray, within_share: float = LEXICAL_WITHIN_SHARE) -> bool:
        """Whether `search_lexical` applies this filter inside the lexical index (few rows pass, `row` indexed)
        rather than widening the search."""
        return self.lexical is not None and self.lexical.row_terms and float(allowed.mean()) < within_share

    def search_lexical_widened(
        self, query: lexical.LexicalQuery, k: int, allowed: np.ndarray
    ) -> list[tuple[int, float]]:
        """Top-k among `allowed` rows by searching all rows for k, 4k, 16k, ... until k pass or none are left."""
        assert self.lexical is not None
        want = k
        while True:
            hits = self.lexical.search(query, want)
            passed = [(row, score) for row, score in hits if allowed[row]]
            if len(passed) >= k or len(hits) < want:
                return passed[:k]
            want *= 4

    # --- passages and articles ------------------------------------------------------------------------------

    def fetch(self, rows: Sequence[int]) -> list[StoredPassage]:
        """Passages with their article metadata, in the order of `rows`."""
        return self._db().fetch(rows)

    def iter_passages(self) -> Iterator[StoredPassage]:
        yield from self._db().iter_passages()

    def vectors(self, rows: Iterable[int]) -> np.ndarray:
        return np.stack([self.index.reconstruct(int(r)) for r in rows])

    def has_article(self, article_id: str) -> bool:
        return self._db().has_article(article_id)

    def article_ids(self) -> set[str]:
        return self._db().article_ids()

    def article(self, article_id: str) -> dict[str, Any] | None:
        """A stored article's metadata and passage count, or None."""
        return self._db().article(article_id)

    @functools.cached_property
    def _sources(self) -> list[tuple[str, int]]:
        return self._db().sources()

    def sources(self) -> list[tuple[str, int]]:
        """(source, number of articles) for every named source, most articles first (counted once: a generation
        never changes)."""
        return self._sources

    def duplicate_groups(self) -> dict[str, list[str]]:
        """Every near-duplicate group (its id) and its articles."""
        return {group: list(members) for group, members in self._members.items()}

    def duplicate_group(self, article_id: str) -> str | None:
        """The near-duplicate group of an article (an id shared by its near-copies), None when it has none."""
        return self._group_of.get(article_id)

    def near_duplicates(self, article_id: str) -> list[ArticleInfo]:
        """The other articles of `article_id`'s near-duplicate group, newest first."""
        group = self._group_of.get(article_id)
        if group is None:
            return []
        found = self._db().articles([a for a in self._members[group] if a != article_id])
        return sorted(found, key=lambda a: (a.date or "", a.article_id), reverse=True)
