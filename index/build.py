"""Full build: read -> split -> embed (through the cache) -> write a new generation -> commit atomically."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index import int8_path
from index import vectors as vecs
from index.articles import Article, Passage, Problem, input_files, read_articles
from index.cache import EmbeddingCache
from index.embed import Encoder
from index.errors import BuildFailed
from index.intake import Intake, bad_input, show_problems, skip_reasons
from index.manifest import Origin
from index.split import SplitSettings, embedding_text, split_article, title_budget
from index.writer import IndexWriter

CHUNK_PASSAGES = 1024  # passages embedded per call: large enough to sort by length, small enough to stream


@dataclass
class BuildReport:
    read: int = 0
    indexed: int = 0
    passages: int = 0
    embedded: int = 0  # passages embedded by the model in this build
    cached: int = 0  # passages whose vectors came from the embedding cache
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    embed_seconds: float = 0.0
    generation: str = ""

    @property
    def skipped(self) -> int:
        return sum(p.lost for p in self.problems)

    @property
    def passed_over(self) -> int:
        """Records that hold no article by design (WARC requests, non-HTML responses): not counted as read."""
        return sum(p.expected for p in self.problems)

    def reasons(self) -> list[tuple[str, int]]:
        return skip_reasons(self.problems)

    def summary(self) -> str:
        rate = self.passages / self.seconds if self.seconds else 0.0
        lines = [
            f"read {self.read:,} articles: indexed {self.indexed:,}, skipped {self.skipped:,}",
            f"{self.passages:,} passages ({self.embedded:,} embedded, {self.cached:,} from cache) in "
            f"{self.seconds:,.1f} s: {rate:,.1f} passages/s",
        ]
        if self.passed_over:
            lines.append(f"passed over {self.passed_over:,} records that hold no article (by why below)")
        warnings = len(self.problems) - self.skipped - self.passed_over
        if warnings:
            lines.append(f"{warnings:,} warnings (record indexed, a field dropped)")
        lines += [f"  skipped {n:,}: {reason}" for reason, n in self.reasons()]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "indexed": self.indexed,
            "skipped": self.skipped,
            "passages": self.passages,
            "embedded": self.embedded,
            "cached": self.cached,
            "seconds": round(self.seconds, 2),
            "embed_seconds": round(self.embed_seconds, 2),
            "passages_per_s": round(self.passages / self.seconds, 1) if self.seconds else None,
            "skipped_by_reason": dict(self.reasons()),
        }


class Embedder:
    """Embeds passage texts through the cache, in length-sorted chunks."""

    def __init__(self, encoder: Encoder, cache: EmbeddingCache | None, report: Any, batch_size: int) -> None:
        """`report` counts `embedded`, `cached` and `embed_seconds` (a BuildReport or an UpdateReport)."""
        self.encoder, self.cache, self.report, self.batch_size = encoder, cache, report, batch_size

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.encoder.dim), dtype=np.float32)
        cached = self.cache.get_many(texts) if self.cache else [None] * len(texts)
        todo = [i for i, v in enumerate(cached) if v is None]
        for i, v in enumerate(cached):
            if v is not None:
                out[i] = v
        if todo:
            t0 = time.perf_counter()
            fresh = self.encoder.documents([texts[i] for i in todo], batch_size=self.batch_size)
            self.report.embed_seconds += time.perf_counter() - t0
            out[todo] = fresh
            if self.cache:
                self.cache.put_many([texts[i] for i in todo], fresh)
        self.report.embedded += len(todo)
        self.report.cached += len(texts) - len(todo)
        return out


def split_settings(encoder: Encoder, settings: SplitSettings | None) -> SplitSettings:
    """`settings`, or the model's own window; refused when they ask for more tokens than the model reads."""
    settings = settings or SplitSettings(max_tokens=encoder.info.max_tokens)
    if settings.max_tokens > encoder.info.max_tokens:
        raise BuildFailed(f"max_tokens {settings.max_tokens} exceeds the model's limit {encoder.info.max_tokens}")
    return settings


def build_index(
    inputs: Sequence[str | Path],
    index_dir: Path,
    encoder: Encoder,
    settings: SplitSettings | None = None,
    index_spec: str = vecs.DEFAULT_SPEC,
    cache_path: Path | None = None,
    strict: bool = False,
    progress: bool = True,
    batch_size: int = 32,
) -> BuildReport:
    """Build a new generation of `index_dir` from `inputs`; the live index changes only if this succeeds."""
    from tqdm import tqdm

    settings = split_settings(encoder, settings)
    files = input_files(inputs)  # raises InputError before any work for a missing path or unknown format
    total_bytes = sum(f.stat().st_size for f in files)
    report = BuildReport()
    started = time.perf_counter()
    if encoder.passages == int8_path.PREFIX:  # quantised on a sample of these passages, saved with the index
        encoder.calibrate(passage_texts(files, encoder, settings), index_dir)
    cache = EmbeddingCache(cache_path, encoder.info.cache_key, encoder.dim) if cache_path else None
    embed = Embedder(encoder, cache, report, batch_size)
    writer = IndexWriter(index_dir, encoder.dim)
    bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="indexing", disable=not progress, mininterval=1)
    try:
        pending = _Pending(writer, embed, report, bar, started)
        intake = Intake(report, show_problems(lambda line: bar.write(line, file=sys.stderr)))
        for article in intake.accept(read_articles(files, on_bytes=bar.update)):
            passages = split_article(article, encoder.count_tokens, settings)
            if not passages:
                intake.no_text(article)
                continue
            title, _ = title_budget(article.title, settings, encoder.count_tokens)
            pending.add(article, passages, [embedding_text(title, p.text) for p in passages])
        pending.flush()
        bar.close()
        refuse_failed(report, inputs, strict)
        report.seconds = time.perf_counter() - started
        build = {**report.as_dict(), "inputs": [str(p) for p in inputs]}
        final = writer.commit(Origin.built(encoder.describe(), settings, build), index_spec)
        report.generation = final.name
        report.seconds = time.perf_counter() - started
        return report
    except BaseException:
        bar.close()
        writer.abort()
        raise
    finally:
        if cache:
            cache.close()


def passage_texts(files: Sequence[Path], encoder: Encoder, settings: SplitSettings) -> Iterator[str]:
    """Every passage's embedding text in `files`, as the build splits them (a first pass, for calibration)."""
    for article in read_articles(files):
        if isinstance(article, Article):
            title, _ = title_budget(article.title, settings, encoder.count_tokens)
            yield from (embedding_text(title, p.text) for p in split_article(article, encoder.count_tokens, settings))


class _Pending:
    """Articles waiting to be embedded together (CHUNK_PASSAGES passages at a time), then written in order."""

    def __init__(self, writer: IndexWriter, embed: Embedder, report: BuildReport, bar: Any, started: float) -> None:
        self.writer, self.embed, self.report, self.bar, self.started = writer, embed, report, bar, started
        self.articles: list[tuple[Article, list[Passage], list[str]]] = []
        self.passages = 0

    def add(self, article: Article, passages: list[Passage], texts: list[str]) -> None:
        self.articles.append((article, passages, texts))
        self.passages += len(passages)
        if self.passages >= CHUNK_PASSAGES:
            self.flush()

    def flush(self) -> None:
        if not self.articles:
            return
        report = self.report
        vectors = self.embed([t for _, _, ts in self.articles for t in ts])
        at = 0
        for article, passages, ts in self.articles:
            self.writer.add(article, passages, vectors[at : at + len(ts)])
            at += len(ts)
            report.indexed += 1
            report.passages += len(passages)
        self.articles.clear()
        self.passages = 0
        elapsed = time.perf_counter() - self.started
        self.bar.set_postfix_str(
            f"{report.indexed:,} articles, {report.passages:,} passages, {report.passages / elapsed:,.0f} passages/s",
            refresh=False,
        )


def refuse_failed(report: BuildReport, inputs: Sequence[str | Path], strict: bool) -> None:
    """BuildFailed when nothing could be indexed, or (with `strict`) when any record had a problem."""
    if report.indexed == 0:
        raise BuildFailed(f"no article could be indexed from {', '.join(map(str, inputs))}; the index is unchanged")
    bad = bad_input(report.problems)
    if strict and bad:
        raise BuildFailed(f"--strict: {len(bad)} problems (listed above); the index is unchanged")
