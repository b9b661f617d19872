"""The vector index: chosen by size; graph search with filters keeps to the filter and stays near exact."""

from __future__ import annotations

import numpy as np
import pytest

from index import vectors as vecs


@pytest.fixture(scope="module")
def clustered() -> np.ndarray:
    """Normalised vectors in 40 clusters (ANN indexes are meaningless on uniform random vectors)."""
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((40, 48))
    x = centres[rng.integers(0, 40, 4000)] + 0.35 * rng.standard_normal((4000, 48))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_while_small_a_graph_past_that() -> None:
    assert vecs.choose_spec(vecs.EXACT_MAX) == "Flat"
    assert vecs.choose_spec(vecs.EXACT_MAX + 1) == vecs.GRAPH_SPEC


def test_the_graph_finds_nearly_what_exact_search_finds(clustered: np.ndarray) -> None:
    exact, graph = vecs.build(clustered, "Flat"), vecs.build(clustered, "HNSW32")
    queries = clustered[:50] + 0.05
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    truth, found = vecs.search(exact, queries, 10)[1], vecs.search(graph, queries, 10)[1]
    recall = np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)])
    assert recall >= 0.95


@pytest.mark.parametrize("share", [0.01, 0.3])
def test_a_filtered_graph_search_returns_only_allowed_rows_and_k_of_them(clustered: np.ndarray, share: float) -> None:
    graph, exact = vecs.build(clustered, "HNSW32"), vecs.build(clustered, "Flat")
    allowed = np.random.default_rng(3).random(len(clustered)) < share
    queries = clustered[100:110]
    _scores, rows = vecs.search(graph, queries, 10, allowed)
    assert (rows >= 0).all() and allowed[rows].all()
    if share < vecs.EXACT_FILTER_SHARE:  # a selective filter is searched exactly
        assert (rows == vecs.search(exact, queries, 10, allowed)[1]).all()


def test_a_filter_that_passes_nothing_finds_nothing(clustered: np.ndarray) -> None:
    rows = vecs.search(vecs.build(clustered, "HNSW32"), clustered[:2], 5, np.zeros(len(clustered), bool))[1]
    assert (rows == -1).all()


@pytest.mark.parametrize("spec", ["Flat", "HNSW32"])
def test_every_score_is_the_inner_product_with_every_stored_vector(clustered: np.ndarray, spec: str) -> None:
    index = vecs.build(clustered[:600], spec)
    scores = vecs.every_score(index, clustered[7])
    assert scores is not None and np.allclose(scores, clustered[:600] @ clustered[7], atol=1e-5)


def test_every_score_is_none_for_an_index_that_keeps_no_flat_vectors(clustered: np.ndarray) -> None:
    assert vecs.every_score(vecs.build(clustered[:600], "IVF4,Flat"), clustered[0]) is None


@pytest.mark.parametrize("spec", ["Flat", "HNSW32"])
def test_run_norms_are_the_lengths_of_each_run_s_vector_sum_across_parts(clustered: np.ndarray, spec: str) -> None:
    """Runs of consecutive rows, one crossing the border of two parts: each run's sum, however the rows are stored."""
    x = clustered[:700]
    starts = np.array([0, 3, 4, 250, 399, 690], dtype=np.int64)  # 399..689 crosses the parts' border at 400
    expected = [np.linalg.norm(x[a:b].sum(axis=0)) for a, b in zip(starts, [*starts[1:], len(x)], strict=True)]
    for index in (vecs.build(x, spec), vecs.Parts([vecs.build(x[:400], spec), vecs.build(x[400:], spec)])):
        norms = vecs.run_norms(index, starts)
        assert norms is not None and np.allclose(norms, expected, atol=1e-4)
    assert vecs.run_norms(vecs.build(x, "IVF4,Flat"), starts) is None
