"""Service settings, read from an injected environment mapping (never at import time)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.cache import default_cache_path
from index.embed import QUERY_ENCODERS
from index.errors import SettingsError
from index.generations import DEFAULT_INDEX

MAX_BODY_BYTES = 16 * 1024 * 1024  # POST /articles bodies past this are refused with 413
MAX_BATCH = 1000  # articles per POST /articles; more is a 413


@dataclass(frozen=True, slots=True)
class Settings:
    index: Path = Path(DEFAULT_INDEX)
    model: str | None = None  # default: the model recorded in the index manifest
    threads: int = 1  # torch and FAISS threads per query: 1 is steadier under concurrent load on 2 cores
    rerank_model: str | None = None  # a cross-encoder folder; rerank=true is refused without one
    query_encoder: str = "auto"  # auto: int8 ONNX where the model has one that agrees with fp32; torch; onnx-int8
    api_key: str | None = field(default=None, repr=False)  # enables the write API (POST/DELETE /articles) and admin
    read_key: str | None = field(default=None, repr=False)  # when set, reads need it (or the API key)
    max_body_bytes: int = MAX_BODY_BYTES
    max_batch: int = MAX_BATCH
    write_wait_seconds: float = 30.0  # how long a write waits for another writer before a 503
    reload_seconds: float = 1.0  # how often the service checks `current` for a new generation; 0 = never
    cache: Path | None = None  # embedding cache for writes through the API (None: none)
    request_threads: int | None = None  # requests handled at once (the rest wait their turn); None: anyio's 40

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
            api_key=_key(environ, "DATELINE_API_KEY"),
            read_key=_key(environ, "DATELINE_READ_KEY"),
            max_body_bytes=_number(environ, "DATELINE_MAX_BODY_BYTES", MAX_BODY_BYTES, int),
            max_batch=_number(environ, "DATELINE_MAX_BATCH", MAX_BATCH, int),
            write_wait_seconds=_number(environ, "DATELINE_WRITE_WAIT", 30.0, float),
            reload_seconds=_number(environ, "DATELINE_RELOAD_SECONDS", 1.0, float, minimum=0),
            cache=default_cache_path(environ),
            request_threads=_number(environ, "DATELINE_REQUEST_THREADS", None, int),
        )


def _key(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    if value is None or value == "":
        return None
    if len(value) < 16 or value != value.strip():
        raise SettingsError(f"{name}: use a key of at least 16 characters without surrounding spaces")
    return value


def _number(environ: Mapping[str, str], name: str, default: float | None, kind: type, minimum: float = 1) -> Any:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise SettingsError(f"{name}={raw!r}: expected a number >= {minimum}")
    return value
