"""benchmarks/int8_noise.py's measure: a shared score shift reorders nothing, a swap of close passages shows."""

from __future__ import annotations

import numpy as np

from benchmarks import int8_noise


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_identical_vectors_have_no_noise_and_no_flips() -> None:
    rng = np.random.default_rng(0)
    passages, queries = _unit(rng.normal(size=(80, 16))), _unit(rng.normal(size=(5, 16)))
    figures = int8_noise.noise(passages, passages.copy(), queries)
    assert figures["cos_min"] == 1.0 and figures["score_noise"] == 0.0 and figures["pair_flips"] == 0.0


def test_perturbed_vectors_flip_pairs_in_proportion_to_their_noise() -> None:
    rng = np.random.default_rng(1)
    passages, queries = _unit(rng.normal(size=(200, 32))), _unit(rng.normal(size=(8, 32)))
    small = int8_noise.noise(passages, _unit(passages + 0.01 * rng.normal(size=passages.shape)), queries)
    large = int8_noise.noise(passages, _unit(passages + 0.05 * rng.normal(size=passages.shape)), queries)
    assert 0 < small["score_noise"] < large["score_noise"]
    assert 0 < small["pair_flips"] < large["pair_flips"]
    assert large["cos_min"] < small["cos_min"] < 1.0
