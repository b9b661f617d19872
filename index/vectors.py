"""The vector index: the ONLY module that imports faiss.

Vectors are L2-normalised, so inner product is cosine similarity and higher is better. A FAISS row is the
passage's row in the passage store; rows never leave the index package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

DEFAULT_SPEC = "Flat"


def faiss_version() -> str:
    return str(faiss.__version__)


def set_threads(n: int) -> None:
    """Serve with one thread: a single query on two threads takes a slower path and stalls under load."""
    faiss.omp_set_num_threads(n)


def build(vectors: np.ndarray, spec: str = DEFAULT_SPEC) -> Any:
    """An index of `vectors` (float32, n x dim, normalised) from a FAISS index_factory spec."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
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
    if allowed is None:
        scores, rows = index.search(queries, k)
        return scores, rows
    bitmap = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
    selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
    params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]  # the stubs miss SWIG kwargs
    scores, rows = index.search(queries, k, params=params)
    del selector  # `bitmap` must outlive the selector that points into it
    return scores, rows


def count(index: Any) -> int:
    return int(index.ntotal)


def dim(index: Any) -> int:
    return int(index.d)
