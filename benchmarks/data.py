"""Benchmark inputs and outputs: RealTimeQA queries, qrels and answer spans; the dev/test split; percentiles; tables.

Files read (from `../shared/data/realtimeqa` beside the repository unless told otherwise):

    <set>.queries.tsv     header `qid<TAB>query`, then one query a line
    <set>.qrels.tsv       header `qid<TAB>doc_id<TAB>relevance`, then one judgement a line
    answer_spans.jsonl    {"qid", "doc_id", "answer", "spans": [[start, end], ...]}: offsets in the gold article text
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "realtimeqa"
OUT_DIR = REPO / "benchmarks" / "out"
QUESTIONS = "question2article"  # the main set: quiz questions as queries
EVIDENCE = "evidence2article"  # the quiz's evidence sentence as the query (easier)
ANSWER_SPANS = "answer_spans.jsonl"

Split = Literal["dev", "test", "all"]
SPLITS: tuple[Split, ...] = ("dev", "test", "all")
SPLIT_RULE = "dev: first hex digit of sha1(qid without 'e-') in 0-7; test: the rest"


class DataError(ValueError):
    """A benchmark input file that is missing or malformed; the message names path:line and the fix."""


@dataclass(frozen=True, slots=True)
class AnswerSpans:
    qid: str
    doc_id: str
    answer: str
    spans: tuple[tuple[int, int], ...]  # [start, end) character offsets in the gold article's text


def split_of(qid: str) -> Literal["dev", "test"]:
    """The question's split, fixed by its id alone; an evidence query (`e-<qid>`) goes with its question."""
    digest = hashlib.sha1(qid.removeprefix("e-").encode("utf-8")).hexdigest()
    return "dev" if digest[0] in "01234567" else "test"


def newest_day(reader: Any) -> datetime.date | None:
    """The date of an index's newest article (an IndexReader's `row_days`); None when no article is dated."""
    from index.rows import EPOCH, NO_DAY

    days = reader.row_days[reader.row_days != NO_DAY]
    return EPOCH + datetime.timedelta(days=int(days.max())) if len(days) else None


def asked_on(qid: str) -> datetime.date | None:
    """The day a quiz question was published (its id starts YYYYMMDD): the `as_of` a reader asked it on."""
    head = qid.removeprefix("e-")[:8]
    try:
        return datetime.date(int(head[:4]), int(head[4:6]), int(head[6:8]))
    except ValueError:
        return None


def in_split(qid: str, split: Split) -> bool:
    return split == "all" or split_of(qid) == split


def _tsv_rows(path: Path, header: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    if not path.is_file():
        raise DataError(f"{path} not found; pass --data DIR pointing at the realtimeqa folder")
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.rstrip("\r\n").split("\t")
            if line_no == 1:
                if fields != list(header):
                    raise DataError(f"{path}:1: header is {fields}, expected {list(header)}")
                continue
            if not line.strip():
                continue
            if len(fields) != len(header):
                raise DataError(f"{path}:{line_no}: {len(fields)} tab-separated fields, expected {len(header)}")
            yield line_no, fields


def read_queries(path: Path) -> dict[str, str]:
    """qid -> query, in file order."""
    queries: dict[str, str] = {}
    for line_no, (qid, query) in _tsv_rows(path, ("qid", "query")):
        if qid in queries:
            raise DataError(f"{path}:{line_no}: qid {qid} appears twice")
        queries[qid] = query
    return queries


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """qid -> {doc_id: relevance}; judgements with relevance <= 0 are kept but count as not relevant."""
    qrels: dict[str, dict[str, int]] = {}
    for line_no, (qid, doc_id, relevance) in _tsv_rows(path, ("qid", "doc_id", "relevance")):
        try:
            qrels.setdefault(qid, {})[doc_id] = int(relevance)
        except ValueError:
            raise DataError(f"{path}:{line_no}: relevance {relevance!r} is not an integer") from None
    return qrels


def read_answer_spans(path: Path) -> list[AnswerSpans]:
    if not path.is_file():
        raise DataError(f"{path} not found; pass --data DIR pointing at the realtimeqa folder")
    out: list[AnswerSpans] = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                spans = tuple((int(s), int(e)) for s, e in rec["spans"])
                out.append(AnswerSpans(str(rec["qid"]), str(rec["doc_id"]), str(rec["answer"]), spans))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}:{line_no}: unreadable answer-span record ({exc!r})") from None
    return out


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation between closest ranks, as numpy's default."""
    if not values:
        return math.nan
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0-100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarise(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p95, p99 and mean of latency samples (ms); None (JSON null) where there are no samples."""
    if not values:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "mean": None}
    stats = {f"p{p}": percentile(values, p) for p in (50, 95, 99)}
    mean = sum(values) / len(values)
    return {"count": len(values), **{k: round(v, 3) for k, v in stats.items()}, "mean": round(mean, 3)}


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: first column left-aligned, the rest right-aligned; floats with 3 decimals, None as '-'."""

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = (v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True)))
        return "  ".join(padded)

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def write_json(report: dict[str, Any], out: Path | None, name: str) -> Path:
    """Write `report` to `out`, or to <name>-<UTC time>.json in benchmarks/out/ (or in `out` when it is a folder);
    returns the path written."""
    stamped = f"{name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path = out / stamped if out is not None and out.is_dir() else out or OUT_DIR / stamped
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def index_facts(searcher: Any, index: Path) -> dict[str, Any]:
    """What a report says about the index it measured."""
    manifest = searcher.reader.manifest
    return {
        "index": str(index),
        "generation": manifest.generation,
        "model": manifest.model.name,
        "index_type": manifest.index.type,
        "passages": searcher.reader.passages,
        "articles": searcher.reader.articles,
    }
