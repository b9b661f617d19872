"""benchmarks/encoding.py's arithmetic: FLOPs from the model's shapes, the attainable GEMM rate, round ratios."""

from __future__ import annotations

import pytest

from benchmarks import encoding

MINILM = {"hidden_size": 384, "intermediate_size": 1536, "num_hidden_layers": 6}


def test_a_full_minilm_window_costs_about_six_gflop_of_which_5_4_in_the_linear_layers() -> None:
    linear = 6 * 2 * 256 * (4 * 384 * 384 + 2 * 384 * 1536)
    assert linear / 1e9 == pytest.approx(5.44, abs=0.01)  # the issue's ~5.4 GFLOP per 256-token window
    assert encoding.encoder_flops([256], MINILM) == linear + 6 * 4 * 256 * 256 * 384
    assert encoding.encoder_flops([10, 20], MINILM) == encoding.encoder_flops([10], MINILM) + encoding.encoder_flops(
        [20], MINILM
    )


def test_the_attainable_rate_of_a_dtype_is_its_best_librarys() -> None:
    gemm = {
        "numpy-fp32": 244.0,
        "torch-fp32": 201.0,
        "openvino-fp32": 429.0,
        "torch-bf16": 879.0,
        "openvino-bf16": 808.0,
    }
    assert encoding._peak(gemm, "fp32") == 429.0 and encoding._peak(gemm, "bf16") == 879.0


def test_a_ratio_is_the_median_of_the_rounds_ratios_so_one_noisy_round_does_not_move_it() -> None:
    rates = {"a": [10.0, 20.0, 30.0], "b": [5.0, 10.0, 60.0]}
    assert encoding._ratio(rates, "a", "b") == 2.0
    assert encoding._ratio(rates, "a", "absent") is None
