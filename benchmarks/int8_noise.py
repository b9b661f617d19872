"""Rank noise of int8 passage-path variants: how much their scores reorder a query's best passages against fp32.

    python benchmarks/int8_noise.py [--variants base,keep-ffn-in,...] [--passages 1500] [--out FILE]

Min cosine (issue 19's agreement gate) says how far one vector moves; retrieval cares how the scores of a query's
close passages move against each other. Passages: benchmarks/encoding.py's sample (`--passages` of them; the
calibration passages are others of the same sample). Queries: 400 article titles of the corpus drawn with seed 7,
query-like texts that are not the RealTimeQA questions the retrieval gate scores. For each variant, against torch
fp32: min cosine, mean 1 - cosine, the std of the score error over each query's 50 best passages (centred per
query: a shift shared by all passages reorders nothing), and the share of those passages' pairs whose order flips.
Variants are NNCF settings of the eager-attention export (index/int8_path.py), and `bf16`, the unquantised export.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import data
from benchmarks.encoding import Paths, machine, ov_model, sample_passages, static_runner

TOP = 50  # a query's best passages (by fp32) whose order is compared
QUERY_SEED = 7


def _ffn_out(layers: int) -> str:
    return rf".*layer\.[0-{layers - 1}]/output/dense/MatMul"


def variants() -> dict[str, tuple[tuple[str, ...], dict[str, Any]]]:
    """name -> (MatMul patterns kept in bf16 beyond the attention products, nncf.quantize options)."""
    import nncf
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters as Advanced
    from nncf.quantization.advanced_parameters import AdvancedSmoothQuantParameters as Smooth
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet as Ranges

    base = (_ffn_out(3),)  # index/int8_path.py's KEEP_BF16 today
    quantile = Ranges.MEAN_QUANTILE
    return {
        "base": (base, {}),
        "smooth-0.5": (base, {"advanced_parameters": Advanced(smooth_quant_alphas=Smooth(matmul=0.5))}),
        "smooth-0.99": (base, {"advanced_parameters": Advanced(smooth_quant_alphas=Smooth(matmul=0.99))}),
        "no-smooth": (base, {"advanced_parameters": Advanced(smooth_quant_alphas=Smooth(matmul=-1))}),
        "bias-correction": (base, {"fast_bias_correction": False}),
        "quantile-ranges": (base, {"advanced_parameters": Advanced(activations_range_estimator_params=quantile)}),
        "performance-preset": (base, {"preset": nncf.QuantizationPreset.PERFORMANCE}),
        "target-cpu": (base, {"target_device": nncf.TargetDevice.CPU}),
        "keep-ffn-out": ((_ffn_out(6),), {}),
        "keep-ffn-in": ((*base, r".*intermediate/dense/MatMul"), {}),
        "keep-qkv": ((*base, r".*attention/self/(query|key|value)/MatMul"), {}),
        "keep-attention-out": ((*base, r".*attention/output/dense/MatMul"), {}),
        "keep-layer-0": ((*base, r".*layer\.0/.*MatMul"), {}),
        "keep-layer-5": ((*base, r".*layer\.5/.*MatMul"), {}),
    }  # fmt: skip


def title_queries(count: int = 400) -> list[str]:
    from index.articles import read_articles

    articles = [a for a in read_articles([data.DATA_DIR / "corpus.jsonl.xz"]) if getattr(a, "title", "")]
    return [a.title for a in random.Random(QUERY_SEED).sample(articles, count)]


def noise(reference: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> dict[str, float]:
    cosines = np.sum(reference * vectors, axis=1)
    exact, approx = reference @ queries.T, vectors @ queries.T
    top = np.argsort(-exact, axis=0)[:TOP]
    error = np.take_along_axis(approx - exact, top, 0)
    first, second = np.triu_indices(TOP, 1)
    flips = []
    for j in range(queries.shape[0]):
        e, a = exact[top[:, j], j], approx[top[:, j], j]
        flips.append(np.mean(np.sign(e[first] - e[second]) != np.sign(a[first] - a[second])))
    return {
        "cos_min": round(float(cosines.min()), 5),
        "one_minus_cos_mean": round(float(1 - cosines.mean()), 6),
        "score_noise": round(float((error - error.mean(axis=0)).std()), 6),
        "pair_flips": round(float(np.mean(flips)), 4),
    }


def encoder(paths: Paths, name: str, calibration: list[str]) -> Callable[[Sequence[str]], np.ndarray]:
    from index import passage_paths as pp
    from index.embed import export_onnx
    from index.int8_path import KEEP_BF16, quantised_model

    eager = export_onnx(paths.dir, paths.fingerprint, attention="eager")
    if name == "bf16":
        model = ov_model(eager)
    else:
        keep, options = variants()[name]
        model = quantised_model(eager, paths.batches, calibration, (KEEP_BF16[0], *keep), **options)
    run = static_runner(model, paths.threads)
    return lambda texts: pp.RuntimePassages(paths.batches, run, 384).encode(texts, paths.batch)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default="bf16," + ",".join(variants()))
    parser.add_argument("--passages", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    texts, calibration = sample_passages(args.passages, 300)
    paths = Paths(args.threads, 32, calibration)
    fp32 = paths.build("torch-fp32")
    reference, queries = fp32(texts), fp32(title_queries())
    rows, result = [], {"machine": machine(), "passages": len(texts), "queries": len(queries), "variants": {}}
    for name in (n for n in args.variants.split(",") if n):
        figures = noise(reference, encoder(paths, name, calibration)(texts), queries)
        result["variants"][name] = figures
        rows.append([name, *figures.values()])
        print(json.dumps({name: figures}), file=sys.stderr)
    print(data.format_table(["variant", "cos min", "1 - cos mean", "score noise", "pair flips"], rows))
    print(f"wrote {data.write_json(result, args.out, 'int8_noise')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
