"""N index shards searched in parallel as one index, with an exact top-k merge.

A ShardedReader offers the read side that Searcher uses (vector and BM25 search, filters, fetch), over shards
built separately (`python -m index build --engine ray --shards N`, or one build per part of an archive). A
global row is the shard's offset plus its local row; rows still never leave the read side.

- Dense search is exact: each shard returns its own top k, and the best k of those N x k are the best k of the
  union (each shard's true top k contains every global top-k row it holds). Scores are the same floats as one
  index's: an inner product does not depend on what else is in the index. The per-shard search is as exact as
  the shard's index type (Flat: exact; HNSW: as an HNSW graph is).
- BM25 across shards is exact too: the shards' lexical indexes are searched as one tantivy index (their segments
  pooled, index/lexical.py PooledLexical), so IDF and the average passage length are those of all shards, as
  Elasticsearch's dfs_query_then_fetch makes them; scores equal one index's. Shards whose lexical indexes cannot
  be pooled (built with another schema) fall back to each shard's own BM25, merged by score. Hybrid follows.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import IndexCorrupt, IndexMissing, ShardMismatch
from index.generations import LEXICAL, resolve_generation
from index.lexical import LexicalQuery, PooledLexical
from index.manifest import Counts
from index.passages import ArticleInfo, StoredPassage
from index.reader import LEXICAL_WITHIN_SHARE, IndexReader, settle_ties
from search.searcher import Searcher

SHARD_GLOB = "shard-*"  # index.distributed writes <index>/shard-00, shard-01, ...

Ranked = list[tuple[int, float]]


def shard_paths(index: Path) -> list[Path]:
    """The shard folders of a sharded index, in order; [] when `index` is not one."""
    return sorted(p for p in Path(index).glob(SHARD_GLOB) if p.is_dir())


def merge_top_k(lists: Sequence[Ranked], k: int) -> Ranked:
    """The best k of several best-first (row, score) lists, ties by row: exact when each holds its part's top k."""
    merged = [hit for ranked in lists for hit in ranked]
    merged.sort(key=lambda hit: (-hit[1], hit[0]))
    return merged[:k]


class ShardedReader:
    """Shards as one read side (search.readside.ReadSide); searches run on every shard at once (FAISS and
    tantivy release the GIL, so threads search in parallel)."""

    def __init__(self, readers: Sequence[IndexReader]) -> None:
        if not readers:
            raise IndexMissing("no shards to search; build them with: python -m index build --engine ray --shards N")
        self.shards = list(readers)
        first = self.shards[0].manifest
        for reader in self.shards[1:]:
            m = reader.manifest
            if m.model.fingerprint != first.model.fingerprint or m.dim != first.dim:
                raise ShardMismatch(
                    f"{reader.generation} was built with another model than {self.shards[0].generation}; "
                    "rebuild the shards with one model"
                )
        declared = {(r.manifest.shard.build, r.manifest.shard.of) for r in self.shards if r.manifest.shard}
        if declared and (len(declared) > 1 or next(iter(declared))[1] != len(self.shards)):
            raise ShardMismatch(
                f"the shards come from different builds or miss some ({sorted(declared)}, {len(self.shards)} "
                "found): rebuild them together"
            )
        sizes = [len(r.row_days) for r in self.shards]  # rows, deleted ones included (a row per vector)
        self.offsets = [0, *np.cumsum(sizes).tolist()]
        self.generation = joined(r.generation for r in self.shards)
        self.manifest = dataclasses.replace(  # the first shard's, with the generations and counts of all
            first,
            generation="+".join(r.manifest.generation for r in self.shards),
            counts=Counts(sum(r.articles for r in self.shards), sum(sizes), sum(sizes), 0),
        )
        self.row_days = np.concatenate([r.row_days for r in self.shards])
        self.row_n = np.concatenate([r.row_n for r in self.shards])
        lexicals = [r.lexical for r in self.shards]
        self.lexical = _ShardedLexical([x for x in lexicals if x is not None]) if all(lexicals) else None
        self._pooled = _pool(self.shards) if self.lexical is not None else None
        self._pool = ThreadPoolExecutor(max_workers=len(self.shards), thread_name_prefix="shard")

    @classmethod
    def open(cls, paths: Iterable[Path], verify: bool = False) -> ShardedReader:
        """Open shard index folders, or one folder holding `shard-NN` folders."""
        paths = [Path(p) for p in paths]
        if len(paths) == 1 and shard_paths(paths[0]):
            paths = shard_paths(paths[0])
        return cls([IndexReader(p, verify=verify) for p in paths])

    @property
    def passages(self) -> int:
        return sum(r.passages for r in self.shards)

    @property
    def articles(self) -> int:
        return self.manifest.counts.articles

    def _locate(self, row: int) -> tuple[int, int]:
        shard = bisect.bisect_right(self.offsets, row) - 1
        if not 0 <= shard < len(self.shards):
            raise IndexCorrupt(f"row {row} is outside the {self.passages} passages of the shards")
        return shard, row - self.offsets[shard]

    def _by_shard(self, rows: Sequence[int]) -> Iterator[tuple[int, list[int], list[int]]]:
        """(shard, positions in `rows`, the shard's own rows) for each shard holding some of `rows`."""
        wanted: dict[int, tuple[list[int], list[int]]] = {}
        for at, row in enumerate(rows):
            shard, local = self._locate(row)
            positions, local_rows = wanted.setdefault(shard, ([], []))
            positions.append(at)
            local_rows.append(local)
        for shard, (positions, local_rows) in wanted.items():
            yield shard, positions, local_rows

    def _part(self, allowed: np.ndarray | None, shard: int) -> np.ndarray | None:
        return None if allowed is None else allowed[self.offsets[shard] : self.offsets[shard + 1]]

    def _each(self, work: Callable[[int, IndexReader], Any]) -> list[Any]:
        return list(self._pool.map(lambda i: work(i, self.shards[i]), range(len(self.shards))))

    def search(
        self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top-k (row, score) per query vector over all shards: each shard's top k, merged exactly."""
        per_shard = self._each(lambda i, r: r.search(query_vectors, k, self._part(allowed, i)))
        out = []
        for q in range(len(query_vectors)):
            lists = [[(row + self.offsets[i], s) for row, s in found[q]] for i, found in enumerate(per_shard)]
            out.append(merge_top_k(lists, k))
        return out

    def search_lexical(
        self, query: LexicalQuery, k: int, allowed: np.ndarray | None = None, within_share: float = LEXICAL_WITHIN_SHARE
    ) -> list[tuple[int, float]]:
        """Top-k (row, BM25) among `allowed` rows over all shards, with BM25 over all of them (module docstring).

        A filter passing under `within_share` of the rows is applied inside the pooled index (the shards' local rows
        that pass, checked again per shard); otherwise the search widens (k, 4k, 16k, ...) until k rows pass or the
        matches run out."""
        return settle_ties(lambda n: self._search_lexical(query, n, allowed, within_share), k, self.passage_key)

    def passage_key(self, row: int) -> tuple[str, int]:
        shard, local = self._locate(row)
        return self.shards[shard].passage_key(local)

    def _search_lexical(
        self, query: LexicalQuery, k: int, allowed: np.ndarray | None, within_share: float
    ) -> list[tuple[int, float]]:
        if self._pooled is None:
            per_shard = self._each(lambda i, r: r.search_lexical(query, k, self._part(allowed, i), within_share))
            return merge_top_k([[(row + self.offsets[i], s) for row, s in hits] for i, hits in enumerate(per_shard)], k)
        within = None
        if allowed is not None and self._pooled.index.row_terms and float(allowed.mean()) < within_share:
            within = sorted({int(row - self.offsets[i]) for i, row in self._locate_all(np.flatnonzero(allowed))})
        want = k
        while True:
            hits = self._pooled.hits(query, want, within)
            found = [(row + self.offsets[part], score) for part, row, score in hits]
            passed = found if allowed is None else [(row, score) for row, score in found if allowed[row]]
            if len(passed) >= k or len(hits) < want:
                return passed[:k]
            want *= 4

    def _locate_all(self, rows: np.ndarray) -> Iterator[tuple[int, int]]:
        """(shard, global row) of each global row."""
        shards = np.searchsorted(self.offsets, rows, side="right") - 1
        return zip(shards.tolist(), rows.tolist(), strict=True)

    def article_of(self, row: int) -> str:
        shard, local = self._locate(row)
        return self.shards[shard].article_of(local)

    def age_in_days(self, reference: datetime.date) -> Callable[[int], float | None]:
        ages = [r.age_in_days(reference) for r in self.shards]

        def age(row: int) -> float | None:
            shard, local = self._locate(row)
            return ages[shard](local)

        return age

    def rows_from(self, sources: Iterable[str]) -> np.ndarray:
        sources = list(sources)
        return np.concatenate([r.rows_from(sources) for r in self.shards])

    def rows_dated(self, start: datetime.date | None = None, end: datetime.date | None = None) -> np.ndarray:
        return np.concatenate([r.rows_dated(start, end) for r in self.shards])

    def sources_of(self, rows: Sequence[int]) -> list[str]:
        found = [""] * len(rows)
        for shard, positions, local in self._by_shard(rows):
            for at, source in zip(positions, self.shards[shard].sources_of(local), strict=True):
                found[at] = source
        return found

    def rows_holding(self, word: str) -> list[int]:
        found = self._each(lambda i, r: [row + self.offsets[i] for row in r.rows_holding(word)])
        return [row for rows in found for row in rows]

    def every_score(self, query_vector: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray | None:
        """Every row's exact cosine (IndexReader.every_score per shard, joined); None if a shard keeps no flat
        vectors."""
        parts = self._each(lambda i, r: r.every_score(query_vector, self._part(allowed, i)))
        return None if any(p is None for p in parts) else np.concatenate(parts)

    def article_runs(self) -> tuple[np.ndarray, np.ndarray] | None:
        """IndexReader.article_runs per shard, joined (an article lives in one shard); None if a shard has none."""
        parts = self._each(lambda i, r: r.article_runs())
        if any(p is None for p in parts):
            return None
        found = [p for p in parts if p is not None]
        starts = [run_starts + self.offsets[i] for i, (run_starts, _) in enumerate(found)]
        return np.concatenate(starts), np.concatenate([norms for _, norms in found])

    def has_article(self, article_id: str) -> bool:
        return any(r.has_article(article_id) for r in self.shards)

    def article(self, article_id: str) -> dict[str, Any] | None:
        """An article's metadata and passage count, from the shard that holds it (an article lives in one)."""
        return next((found for r in self.shards if (found := r.article(article_id)) is not None), None)

    def passages_in_article(self, article_id: str) -> int:
        return sum(r.passages_in_article(article_id) for r in self.shards)  # an article lives in one shard

    def rows_of_article(self, article_id: str) -> np.ndarray:
        return np.concatenate([r.rows_of_article(article_id) for r in self.shards])

    # Near-duplicates are grouped within each shard (its build sees only its articles): copies that land in
    # different shards are not folded together.
    def duplicate_group(self, article_id: str) -> str | None:
        return next((g for r in self.shards if (g := r.duplicate_group(article_id)) is not None), None)

    def near_duplicates(self, article_id: str) -> list[ArticleInfo]:
        return next((found for r in self.shards if (found := r.near_duplicates(article_id))), [])

    def sources(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for r in self.shards:
            for name, n in r.sources():
                counts[name] = counts.get(name, 0) + n
        return sorted(counts.items(), key=lambda x: (-x[1], x[0]))

    def fetch(self, rows: Sequence[int]) -> list[StoredPassage]:
        """Passages in the order of `rows`, each carrying its global row."""
        found: dict[int, StoredPassage] = {}
        for shard, _, local_rows in self._by_shard(rows):
            for p in self.shards[shard].fetch(local_rows):
                found[p.row + self.offsets[shard]] = dataclasses.replace(p, row=p.row + self.offsets[shard])
        return [found[r] for r in rows if r in found]

    def iter_passages(self) -> Iterator[StoredPassage]:
        for shard, reader in enumerate(self.shards):
            for p in reader.iter_passages():
                yield dataclasses.replace(p, row=p.row + self.offsets[shard])

    def vectors(self, rows: Iterable[int]) -> np.ndarray:
        return np.stack([self.shards[s].vectors([local])[0] for s, local in map(self._locate, rows)])

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        if self._pooled is not None:
            self._pooled.close()
        for reader in self.shards:
            reader.close()


class _ShardedLexical:
    """What the searcher asks of the lexical side besides search (done per shard above): counts and IDF."""

    def __init__(self, parts: Sequence[Any]) -> None:
        self.parts = list(parts)

    def count(self) -> int:
        return sum(p.count() for p in self.parts)

    def doc_freq(self, term: str) -> int:
        return sum(p.doc_freq(term) for p in self.parts)


def _pool(shards: Sequence[IndexReader]) -> PooledLexical | None:
    """The shards' lexical indexes as one (None when their layouts differ: each shard's own BM25 then)."""
    layouts = {(m.fields, m.row_terms) if m else None for m in (r.manifest.lexical for r in shards)}
    if len(layouts) != 1 or None in layouts:
        return None
    fields, row_terms = next(iter(layouts))  # type: ignore[misc]
    return PooledLexical.open([r.generation / LEXICAL for r in shards], list(fields), row_terms)


def open_searcher(
    paths: Iterable[Path],
    model: str | None = None,
    threads: int | None = 1,
    query_encoder: str = "auto",
    rerank_model: str | None = None,
) -> Searcher[ShardedReader]:
    """A Searcher over shards: every mode, filter and grouping, run on the merged candidate lists."""
    return Searcher.over(ShardedReader.open(paths), model, threads, rerank_model, query_encoder)


def joined(generations: Iterable[Path]) -> Path:
    """Shards' generations named as one (ShardedReader.generation; what the live reloader compares)."""
    return Path(", ".join(str(g) for g in generations))


def resolve_shards(index: Path) -> Path:
    """The generations a folder of shards serves now (each shard's `current`), joined as ShardedReader names them."""
    return joined(resolve_generation(p) for p in shard_paths(index))
