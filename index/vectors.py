"""The vector index: the ONLY module that imports faiss.

Vectors are L2-normalised, so inner product is cosine similarity and higher is better. A FAISS row is the
passage's row in the passage store; rows never leave the index package.

An index that grew by adds keeps its vectors in parts (`Parts`): the first from the build, then one per add,
each a FAISS index of consecutive rows, searched together and merged exactly; `merge_plan` says which newest
parts an add folds into one (log-structured, so a vector is rewritten O(log n) times, not on every add).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
from scipy import sparse

DEFAULT_SPEC = "auto"  # chosen by size: see choose_spec
EXACT_MAX = 50_000  # exact search over 50k 384-d vectors takes ~5 ms here; past that, a graph
GRAPH_SPEC = "HNSW32"  # keeps the full vectors, so filtered and exact re-searches stay possible
EF_SEARCH = 128  # HNSW candidates explored per query: recall@10 0.996 at 245k, ~0.97 at 1M here
EF_SEARCH_MAX = 2048
EXACT_FILTER_SHARE = 0.05  # a filter passing fewer rows than this is searched exactly, not through the graph


def faiss_version() -> str:
    return str(faiss.__version__)


def set_threads(n: int) -> None:
    """Serve with one thread: a single query on two threads takes a slower path and stalls under load."""
    faiss.omp_set_num_threads(n)


def choose_spec(n: int) -> str:
    """Exact search while it is fast enough (up to EXACT_MAX vectors), an HNSW graph past that."""
    return "Flat" if n <= EXACT_MAX else GRAPH_SPEC


def build(vectors: np.ndarray, spec: str = DEFAULT_SPEC) -> Any:
    """An index of `vectors` (float32, n x dim, normalised) from a FAISS index_factory spec, or "auto"."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if spec == "auto":
        spec = choose_spec(len(vectors))
    index = faiss.index_factory(vectors.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        index.train(vectors)
    index.add(vectors)
    return index


def write(index: Any, path: Path) -> None:
    faiss.write_index(index, str(path))


def read(path: Path) -> Any:
    return faiss.read_index(str(path))


def search(index: Any, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) per query; rows are -1 where fewer than k vectors qualify (callers drop them).

    `allowed` (a bool per row) restricts the search inside FAISS (an ID selector), so a selective filter still
    finds the best k rows that pass it instead of filtering a fixed top-k afterwards.
    """
    if isinstance(index, Parts):
        return index.search(queries, k, allowed)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    graph = isinstance(index, faiss.IndexHNSW)
    if allowed is not None and graph and allowed.mean() < EXACT_FILTER_SHARE:
        return _exact_subset(index, queries, k, np.flatnonzero(allowed))
    kwargs: dict[str, Any] = {}
    bitmap = None
    if allowed is not None:
        bitmap = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
        kwargs["sel"] = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
    if graph:
        # A filter hides part of the graph: explore proportionally more of it (half the rows pass -> 2x).
        share = float(allowed.mean()) if allowed is not None else 1.0
        ef = min(EF_SEARCH_MAX, int(max(EF_SEARCH, 4 * k) / max(share, EXACT_FILTER_SHARE)))
        params: Any = faiss.SearchParametersHNSW(efSearch=ef, **kwargs)  # type: ignore[attr-defined]
    elif kwargs:
        params = faiss.SearchParameters(**kwargs)  # type: ignore[call-arg]  # the stubs miss SWIG kwargs
    else:
        params = None
    scores, rows = index.search(queries, k, params=params) if params is not None else index.search(queries, k)
    del params, kwargs, bitmap  # the selector points into `bitmap`: both go together, after the search
    return scores, rows


def _exact_subset(index: Any, queries: np.ndarray, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k among a few rows (a selective filter), from the vectors the graph index keeps."""
    found_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    found_rows = np.full((len(queries), k), -1, dtype=np.int64)
    if len(rows) == 0:
        return found_scores, found_rows
    vectors = index.reconstruct_batch(rows.astype(np.int64))
    scores = queries @ vectors.T
    top = min(k, len(rows))
    best = np.argsort(-scores, axis=1, kind="stable")[:, :top]
    found_scores[:, :top] = np.take_along_axis(scores, best, axis=1)
    found_rows[:, :top] = rows[best]
    return found_scores, found_rows


def every_score(index: Any, query: np.ndarray) -> np.ndarray | None:
    """The inner product of one query vector with every stored vector (exact: one matrix product over the flat
    vectors Flat and HNSW indexes keep, read in place); None for an index that keeps no flat vectors."""
    blocks = _stored(index)
    if blocks is None:
        return None
    query = np.ascontiguousarray(query, dtype=np.float32)
    return np.concatenate([stored @ query for _, stored in blocks])


def run_norms(index: Any, starts: np.ndarray) -> np.ndarray | None:
    """The length of the sum of the stored vectors of each run of consecutive rows (runs begin at `starts`, ascending
    from 0, and end where the next begins); None for an index that keeps no flat vectors."""
    blocks = _stored(index)
    if blocks is None:
        return None
    sums = np.zeros((len(starts), dim(index)), dtype=np.float32)
    for offset, stored in blocks:
        if not len(stored):
            continue
        rows = np.arange(offset, offset + len(stored))
        runs = np.searchsorted(starts, rows, side="right") - 1
        first, last = int(runs[0]), int(runs[-1]) + 1
        # One sparse product (run x row indicator) sums every run at once; numpy's reduceat is 40x slower here.
        ones = np.ones(len(stored), dtype=np.float32)
        member = sparse.csr_matrix((ones, (runs - first, rows - offset)), shape=(last - first, len(stored)))
        sums[first:last] += member @ stored
    return np.linalg.norm(sums, axis=1)


def _stored(index: Any) -> list[tuple[int, np.ndarray]] | None:
    """Each part's flat vectors, read in place, with the row it begins at; None if some part keeps none."""
    if isinstance(index, Parts):
        found = [_stored(part) for part in index.parts]
        if any(f is None for f in found):
            return None
        return [(offset + o, stored) for offset, f in zip(index.offsets, found, strict=False) for o, stored in f or []]
    flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(flat, faiss.IndexFlat):
        return None
    return [(0, faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d))]


def is_exact(index: Any) -> bool:
    if isinstance(index, Parts):
        return all(map(is_exact, index.parts))
    return not isinstance(index, faiss.IndexHNSW)


def count(index: Any) -> int:
    return int(index.ntotal)


def dim(index: Any) -> int:
    return int(index.d)


# An add's new part is folded into the part before it while that one is at most this many times its size: parts
# grow geometrically, so there are O(log n) of them and each vector is rewritten O(log n) times.
MERGE_FACTOR = 4


def read_parts(paths: list[Path]) -> Any:
    """The vector files of a generation, in row order, as one index (a single file: its FAISS index itself)."""
    return joined([read(p) for p in paths])


def joined(parts: list[Any]) -> Any:
    """Loaded parts, in row order, as one index (a single part: itself)."""
    return parts[0] if len(parts) == 1 else Parts(parts)


def merge_plan(sizes: list[int]) -> int:
    """How many of the newest parts (of `sizes` vectors, in row order, the newest last) to fold into one."""
    n = 1
    while n < len(sizes) and sizes[-n - 1] <= MERGE_FACTOR * sum(sizes[-n:]):
        n += 1
    return n


class Parts:
    """FAISS indexes of consecutive rows searched as one: a part's rows follow the rows of the parts before it.
    Search is exact over the parts (each part's top k, merged: the best k of the union), as exact as each part."""

    def __init__(self, parts: list[Any]) -> None:
        self.parts = parts
        self.offsets = np.cumsum([0] + [count(p) for p in parts]).tolist()
        self.d = dim(parts[0])

    @property
    def ntotal(self) -> int:
        return int(self.offsets[-1])

    def _part(self, row: int) -> tuple[Any, int]:
        i = int(np.searchsorted(self.offsets, row, side="right")) - 1
        return self.parts[i], row - self.offsets[i]

    def reconstruct(self, row: int) -> np.ndarray:
        part, local = self._part(int(row))
        return part.reconstruct(local)

    def reconstruct_n(self, start: int, n: int) -> np.ndarray:
        return self.reconstruct_batch(np.arange(start, start + n))

    def reconstruct_batch(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of `rows` (any order), one FAISS call per part they fall in."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(rows), self.d), np.float32)
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        for i in np.unique(which):
            at = np.flatnonzero(which == i)
            out[at] = self.parts[i].reconstruct_batch(rows[at] - self.offsets[i])
        return out

    def search(self, queries: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        found_scores, found_rows = [], []
        for part, start, end in zip(self.parts, self.offsets, self.offsets[1:], strict=False):
            scores, rows = search(part, queries, k, None if allowed is None else allowed[start:end])
            found_scores.append(np.where(rows >= 0, scores, -np.inf))
            found_rows.append(np.where(rows >= 0, rows + start, -1))
        scores, rows = np.concatenate(found_scores, axis=1), np.concatenate(found_rows, axis=1)
        best = np.stack([np.lexsort((r, -s))[:k] for s, r in zip(scores, rows, strict=True)])
        return np.take_along_axis(scores, best, axis=1), np.take_along_axis(rows, best, axis=1)
