"""What every rival runner shares: reading an export, timing questions, writing a run. Stdlib and numpy only,
so it loads in each rival's own virtual environment.

An export (written by `benchmarks/versus.py export`) is a folder:

    passages.jsonl       {"id": "<row>", "article": ..., "contents": "<title>\\n<text>"}, row order
    articles.jsonl       {"id": "<article id>", "contents": "<title>\\n<whole text>"}
    passage_vectors.npy  float32 (passages, dim), L2-normalised: the vectors Dateline's index holds
    queries.tsv          qid<TAB>question (no header)
    query_vectors.npy    float32 (questions, dim): the same model, fp32, in queries.tsv's order

A run is TREC's format (`qid Q0 docid rank score tag`, best first) with a JSON sidecar (`<run>.json`) naming the
system, its version and settings, the unit of its documents (passage or article), build seconds and per-question
milliseconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

DEPTH = 1000  # passages retrieved per question: enough to leave 100 articles after collapsing


def passages(export: Path) -> Iterator[dict[str, str]]:
    with open(export / "passages.jsonl", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def articles(export: Path) -> Iterator[dict[str, str]]:
    with open(export / "articles.jsonl", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def queries(export: Path) -> list[tuple[str, str]]:
    with open(export / "queries.tsv", encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f if line.strip()]  # type: ignore[misc]


def passage_vectors(export: Path) -> np.ndarray:
    return np.load(export / "passage_vectors.npy", mmap_mode="r")


def query_vectors(export: Path) -> np.ndarray:
    return np.load(export / "query_vectors.npy")


def run_questions(
    search: Callable[[int, str], list[tuple[str, float]]], questions: list[tuple[str, str]], warmup: int = 5
) -> tuple[dict[str, list[tuple[str, float]]], list[float]]:
    """search(i, question) -> [(docid, score)] best first, for each question; its milliseconds each, after
    `warmup` untimed searches."""
    for i, (_, text) in enumerate(questions[:warmup]):
        search(i, text)
    ranked, took = {}, []
    for i, (qid, text) in enumerate(questions):
        t0 = time.perf_counter()
        ranked[qid] = search(i, text)
        took.append((time.perf_counter() - t0) * 1e3)
    return ranked, took


def write_run(
    out: Path, tag: str, ranked: dict[str, list[tuple[str, float]]], meta: dict[str, Any], took: list[float]
) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
        for qid, hits in ranked.items():
            for rank, (docid, score) in enumerate(hits, start=1):
                f.write(f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n")
    meta = {**meta, "tag": tag, "query_ms": [round(t, 3) for t in took]}
    Path(f"{out}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def read_run(path: Path) -> tuple[dict[str, list[tuple[str, float]]], dict[str, Any]]:
    """A run written by write_run: qid -> [(docid, score)] best first, and its sidecar."""
    ranked: dict[str, list[tuple[str, float]]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            qid, _, docid, _rank, score, _tag = line.split()
            ranked.setdefault(qid, []).append((docid, float(score)))
    return ranked, json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
