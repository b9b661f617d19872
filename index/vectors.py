"""The vector index: the ONLY module that imports faiss.

Vectors are L2-normalised, so inner product is cosine similarity and higher is better. A FAISS row is the
passage's row in the passage store; rows never leave the index package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

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
    flat = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(flat, faiss.IndexFlat):
        return None
    stored = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
    return stored @ np.ascontiguousarray(query, dtype=np.float32)


def is_exact(index: Any) -> bool:
    return not isinstance(index, faiss.IndexHNSW)


def count(index: Any) -> int:
    return int(index.ntotal)


def dim(index: Any) -> int:
    return int(index.d)
