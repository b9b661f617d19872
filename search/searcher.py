"""Searcher.search(query, k) -> ranked hits with per-stage timings; no HTTP, so the CLI and benchmarks reuse it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from index.embed import MODELS, Encoder
from index.store import IndexReader, StoreError, StoredPassage


class ModelMismatch(StoreError):
    """The query model differs from the one the index was built with: scores would be meaningless."""


@dataclass(frozen=True, slots=True)
class Hit:
    rank: int
    score: float
    passage: StoredPassage


@dataclass(slots=True)
class SearchResult:
    query: str
    hits: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)  # per stage: embed, vector, fetch

    @property
    def took_ms(self) -> float:
        return sum(self.timings_ms.values())


class Searcher:
    """Ranks an index's passages for a query: embed it, search the vectors, fetch the passages."""

    def __init__(self, reader: IndexReader, encoder: Encoder) -> None:
        built = reader.manifest["model"]
        if encoder.info.fingerprint != built["fingerprint"] or encoder.dim != reader.manifest["dim"]:
            raise ModelMismatch(
                f"index {reader.generation} was built with model {built['name']} ({built['fingerprint']}), "
                f"not {encoder.info.name} ({encoder.info.fingerprint}); query with that model or rebuild the index"
            )
        self.reader, self.encoder = reader, encoder

    @classmethod
    def open(cls, index_path: Path, model: str | None = None, threads: int | None = 1) -> Searcher:
        """Load an index and the model it was built with (or `model`, which must be the same weights)."""
        reader = IndexReader(index_path)
        built = reader.manifest["model"]
        spec = model or (built["name"] if built["name"] in MODELS else built["path"])
        return cls(reader, Encoder(spec, dtype="float32", threads=threads))

    def search(self, query: str, k: int = 10) -> SearchResult:
        t0 = time.perf_counter()
        vector = self.encoder.queries([query])
        t1 = time.perf_counter()
        found = self.reader.search(vector, k)[0]
        t2 = time.perf_counter()
        passages = self.reader.fetch([row for row, _ in found])
        t3 = time.perf_counter()
        scores = dict(found)
        hits = [Hit(rank, scores[p.row], p) for rank, p in enumerate(passages, start=1)]
        timings = {"embed": (t1 - t0) * 1e3, "vector": (t2 - t1) * 1e3, "fetch": (t3 - t2) * 1e3}
        return SearchResult(query, hits, timings)

    def close(self) -> None:
        self.reader.close()
