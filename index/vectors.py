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


def search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) per query; rows are -1 where the index holds fewer than k vectors (callers drop them)."""
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k = max(1, min(k, index.ntotal)) if index.ntotal else 1
    scores, rows = index.search(queries, k)
    return scores, rows


def count(index: Any) -> int:
    return int(index.ntotal)


def dim(index: Any) -> int:
    return int(index.d)
