"""Service settings, read from an injected environment mapping (never at import time)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from index.embed import QUERY_ENCODERS

DEFAULT_INDEX = "data/index"


class SettingsError(ValueError):
    """A setting with a value that cannot be used; the message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    index: Path = Path(DEFAULT_INDEX)
    model: str | None = None  # default: the model recorded in the index manifest
    threads: int = 1  # torch and FAISS threads per query: 1 is steadier under concurrent load on 2 cores
    rerank_model: str | None = None  # a cross-encoder folder; rerank=true is refused without one
    query_encoder: str = "auto"  # auto: int8 ONNX where the model has one that agrees with fp32; torch; onnx-int8

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        threads = environ.get("DATELINE_THREADS", "1")
        if not threads.isdigit() or int(threads) < 1:
            raise SettingsError(f"DATELINE_THREADS={threads!r}: expected a positive integer")
        query_encoder = environ.get("DATELINE_QUERY_ENCODER", "auto")
        if query_encoder not in QUERY_ENCODERS:
            raise SettingsError(
                f"DATELINE_QUERY_ENCODER={query_encoder!r}: expected one of {', '.join(QUERY_ENCODERS)}"
            )
        return cls(
            index=Path(environ.get("DATELINE_INDEX", DEFAULT_INDEX)),
            query_encoder=query_encoder,
            model=environ.get("DATELINE_MODEL") or None,
            threads=int(threads),
            rerank_model=environ.get("DATELINE_RERANK_MODEL") or None,
        )
