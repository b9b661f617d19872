"""The OpenVINO static int8 passage path: quantised (NNCF) on a sample of an archive's own passages, kept with it.

Its vectors depend on which passages calibrated it, so the calibration set is chosen deterministically from the
passages being built (the CALIBRATION with the smallest salted hash of their text), the quantised model is saved
at `<index>/models/<path name>/` (so `index add`, the service's write process and other machines embed with exactly
that model), and the path's name carries a hash of the calibration texts and SETTINGS: the manifest's
`model.passages` and the embedding cache key name it, so vectors of different calibrations never mix.
Measured in docs/encoding.md.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index import passage_paths
from index.errors import ModelError

PREFIX = "openvino-int8"  # asked for as `--dtype openvino-int8`; recorded as `openvino-int8-<identity>`
CALIBRATION = 300  # passages that calibrate the quantiser
HELD_OUT = 64  # the next passages by the same hash: `auto` checks the model's agreement with fp32 on them
SALT = "dateline-int8-calibration-19"  # fixed: the same archive gives the same sample on every machine
# Left in bf16 (docs/encoding.md): the attention's two activation-by-activation products, and the feed-forward
# output projections of the first FFN_BF16_LAYERS layers (int8 there cost the most agreement with fp32); the count
# was chosen on validation passages, and neither 2 nor 3 passes the retrieval gate yet (docs/encoding.md).
FFN_BF16_LAYERS = 3
KEEP_BF16 = (r".*attention/self/MatMul.*", rf".*layer\.[0-{FFN_BF16_LAYERS - 1}]/output/dense/MatMul")
SETTINGS = f"nncf transformer preset; eager attention; bf16 {KEEP_BF16}; batch 16; step {passage_paths.STATIC_STEP}"
MODEL_FILE = "model.xml"  # OpenVINO IR: model.xml and model.bin
Export = Callable[[Path, str, str], Path]  # (model folder, fingerprint, attention) -> ONNX file (index/embed.py)
Quantise = Callable[[list[str], Path], None]  # (calibration texts, folder) -> writes MODEL_FILE there


def is_int8(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}-")


def calibration_sample(texts: Iterable[str], count: int = CALIBRATION) -> list[str]:
    """The `count` distinct texts with the smallest salted SHA-256, smallest first: the same set whatever order the
    texts come in, in memory for `count` texts only (an archive's passages stream through)."""
    heap: list[tuple[bytes, str]] = []  # (inverted hash, text): the largest hash kept is on top
    kept: set[bytes] = set()
    for text in texts:
        key = hashlib.sha256(f"{SALT}\n{text}".encode()).digest()
        inverted = bytes(255 - b for b in key)
        if key in kept or (len(heap) == count and inverted <= heap[0][0]):
            continue
        kept.add(key)
        if len(heap) == count:
            kept.discard(bytes(255 - b for b in heapq.heapreplace(heap, (inverted, text))[0]))
        else:
            heapq.heappush(heap, (inverted, text))
    return [text for _, text in sorted(heap, reverse=True)]


def identity(fingerprint: str, sample: list[str]) -> str:
    """A short hash of the weights, the settings and the calibration texts: what makes the quantised model."""
    h = hashlib.sha256(f"{fingerprint}\n{SETTINGS}\n".encode())
    for text in sample:
        h.update(hashlib.sha256(text.encode()).digest())
    return h.hexdigest()[:12]


def model_folder(index_dir: Path, path: str) -> Path:
    return Path(index_dir) / "models" / path


def calibrated(index_dir: Path, fingerprint: str, texts: Iterable[str], quantise: Quantise) -> tuple[str, list[str]]:
    """The int8 path for these passages (`openvino-int8-<identity>`), its model made in the index's models folder
    by `quantise` unless a model of that identity is already there (written whole or not at all); and up to
    HELD_OUT other passages of `texts`, to check it on."""
    sample = calibration_sample(texts, CALIBRATION + HELD_OUT)
    sample, held_out = sample[:CALIBRATION], sample[CALIBRATION:]
    if not sample:
        raise ModelError(f"{PREFIX}: no passages to calibrate on")
    path = f"{PREFIX}-{identity(fingerprint, sample)}"
    folder = model_folder(index_dir, path)
    passage_paths.atomic(folder, lambda made: quantise(sample, made))
    return path, held_out


def need_nncf() -> None:
    """ModelError naming what to install when the int8 path cannot be made here."""
    for package in ("openvino", "onnx", "nncf"):
        if not passage_paths.installed(package):
            raise ModelError(f"passage path {PREFIX} needs {package}: pip install {package} (or the bench extra)")


def quantised_model(
    onnx: Path, batches: passage_paths.Batches, sample: list[str], keep: Sequence[str], **options: Any
) -> Any:
    """NNCF post-training int8 of an ONNX model (transformer preset), calibrated on `sample` in batches of 16, the
    MatMuls matching `keep` left unquantised (bf16 at run time); `options` go to nncf.quantize (benchmarks only)."""
    import nncf

    feeds = [
        {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        for _, ids, mask in batches(sample, 16)
    ]
    return nncf.quantize(
        passage_paths.read_openvino(onnx), nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER,
        subset_size=len(feeds), ignored_scope=nncf.IgnoredScope(patterns=list(keep)), **options,
    )  # fmt: skip


def quantise(eager_onnx: Path, batches: passage_paths.Batches, sample: list[str], folder: Path) -> None:
    """The path's model: int8 of the eager-attention export, calibrated on `sample`, saved as IR in `folder`."""
    model = quantised_model(eager_onnx, batches, sample, KEEP_BF16)
    folder.mkdir(parents=True)
    passage_paths.save_openvino(model, folder / MODEL_FILE)


def runner(index_dir: Path | None, path: str, threads: int, max_tokens: int) -> passage_paths.Runner:
    """The saved int8 model of an index, compiled per static shape; ModelError when it is not there."""
    model_file = model_folder(index_dir, path) / MODEL_FILE if index_dir else None
    if model_file is None or not model_file.is_file():
        where = model_file or f"<index>/models/{path}/{MODEL_FILE}"
        raise ModelError(f"passage path {path}: its quantised model {where} is missing (rebuild the index)")
    if not passage_paths.installed("openvino"):
        raise ModelError(f"passage path {path} needs openvino: pip install openvino")
    return passage_paths.static_runner(passage_paths.read_openvino(model_file), threads, max_tokens)


def documents(
    path: str, index_dir: Path | None, model_dir: Path, sizes: tuple[int, int], threads: int
) -> Callable[[Sequence[str], int], np.ndarray]:
    """Embeds with an index's calibrated model; bare `openvino-int8` (not yet calibrated) embeds nothing.
    `sizes`: the model's (max tokens, dimension)."""
    if path == PREFIX:
        need_nncf()
        return _uncalibrated
    run = runner(index_dir, path, threads, sizes[0])
    return passage_paths.RuntimePassages(passage_paths.Batches(model_dir, sizes[0]), run, sizes[1]).encode


def _uncalibrated(texts: Sequence[str], batch_size: int) -> np.ndarray:
    raise ModelError(f"{PREFIX} embeds only once calibrated on the archive's passages (a build does it)")


def calibrate(
    index_dir: Path, model_dir: Path, fingerprint: str, texts: Iterable[str], export: Export, max_tokens: int
) -> tuple[str, list[str]]:
    """`calibrated` with the real quantiser: NNCF on the model's eager-attention ONNX export (`export`)."""

    def make(sample: list[str], folder: Path) -> None:
        onnx = export(model_dir, fingerprint, "eager")
        quantise(onnx, passage_paths.Batches(model_dir, max_tokens), sample, folder)

    return calibrated(index_dir, fingerprint, texts, make)
