"""Selective filters on a whole index: do they still return k hits when k exist, and what does BM25 pay for them?

    python benchmarks/filters.py --index data/index [--query "..."] [--from 2023-02-13 --to 2023-02-19]
                                 [--source college.usatoday.com] [-k 10] [--questions 60] [--out FILE.json]

Part 1 prints the share of passages each filter passes, then for every mode the number of hits, whether every
hit passes the filter, how many articles pass it at all, and the search time. Filters are applied inside the
retrievers (an ID selector in FAISS; in BM25 a term set over the rows, or widening), never to a fixed top k
after the fact.

Part 2 times the two ways BM25 can apply a filter, over filters from 0.03% to 80% of the passages (the sources
and date windows of the index) and the first `--questions` RealTimeQA questions (100 candidates each, as a
hybrid search asks): inside the lexical index (a term set over `row`, its cost grows with the rows that pass)
and widening (search everything for k, 4k, 16k, ... until k pass: its cost grows as fewer pass). It checks
that both return the same rows and prints the median time of each, and the one the reader chooses
(`IndexReader.lexical_filters_inside`). Needs an index built with indexed rows (`row_terms` in the manifest's
lexical part).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import DATA_DIR, QUESTIONS, format_table, read_queries, write_json
from index.reader import IndexReader
from index.rows import EPOCH, NO_DAY
from search.searcher import MODES, Searcher, SearchOptions

DEPTH = 100  # BM25 candidates a hybrid search asks for


def filter_masks(reader: IndexReader) -> dict[str, np.ndarray]:
    """Real filters of every selectivity: sources large to small, and date windows of a week to a year."""
    masks: dict[str, np.ndarray] = {}
    sources = [name for name, _ in reader.sources()]
    for name in sources[:3] + sources[len(sources) // 2 : len(sources) // 2 + 1] + sources[-12:-11]:
        masks[f"source={name}"] = reader.rows_from([name])
    dated = reader.row_days[reader.row_days != NO_DAY]
    if len(dated):
        middle = EPOCH + dt.timedelta(days=int(np.median(dated)))
        for days in (7, 30, 45, 60, 90, 365):
            masks[f"{days} days from {middle}"] = reader.rows_dated(middle, middle + dt.timedelta(days=days - 1))
    return dict(sorted(masks.items(), key=lambda kv: float(kv[1].mean())))


def time_lexical_filters(reader: IndexReader, questions: list[str]) -> list[dict[str, Any]]:
    assert reader.lexical is not None
    rows = []
    for name, mask in filter_masks(reader).items():
        inside_ms, widened_ms, same = [], [], 0
        allowed = np.flatnonzero(mask).tolist()
        for q in questions:
            t = time.perf_counter()
            inside = reader.lexical.search_within(q, DEPTH, allowed)
            inside_ms.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            widened = reader.search_lexical_widened(q, DEPTH, mask)
            widened_ms.append((time.perf_counter() - t) * 1e3)
            same += [r for r, _ in inside] == [r for r, _ in widened]
        rows.append(
            {
                "filter": name,
                "share": float(mask.mean()),
                "rows": len(allowed),
                "inside_p50_ms": statistics.median(inside_ms),
                "widened_p50_ms": statistics.median(widened_ms),
                "same_rows": same,
                "questions": len(questions),
                "chosen": "inside" if reader.lexical_filters_inside(mask) else "widened",
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--query", default="why did Russia suspend the New START treaty?")
    p.add_argument("--from", dest="start", type=dt.date.fromisoformat, default=dt.date(2023, 2, 13))
    p.add_argument("--to", dest="end", type=dt.date.fromisoformat, default=dt.date(2023, 2, 19))
    p.add_argument("--source", default="college.usatoday.com")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--data", type=Path, default=DATA_DIR)
    p.add_argument("--questions", type=int, default=60, help="questions timed per filter in part 2")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    searcher = Searcher.open(args.index)
    reader = searcher.reader
    filters = {
        f"{args.start}..{args.end}": (reader.rows_dated(args.start, args.end), {"start": args.start, "end": args.end}),
        f"source={args.source}": (reader.rows_from([args.source]), {"sources": [args.source]}),
    }
    report: dict[str, Any] = {"benchmark": "filters", "index": str(args.index), "passages": reader.passages}
    report["searches"] = []
    for name, (mask, options) in filters.items():
        articles = len({reader.article_of(int(row)) for row in mask.nonzero()[0]})
        print(f"{name}: {mask.mean():.3%} of {reader.passages:,} passages, {articles:,} articles")
        for mode in MODES:
            result = searcher.search(args.query, SearchOptions(k=args.k, mode=mode, **options))  # type: ignore[arg-type]
            inside = all(mask[h.passage.row] for h in result.hits)
            print(f"  {mode:<8} {len(result.hits):>3} hits, all inside the filter: {inside}, {result.took_ms:.0f} ms")
            report["searches"].append(
                {"filter": name, "mode": mode, "hits": len(result.hits), "inside": inside, "ms": result.took_ms}
            )

    if reader.lexical is None or not reader.lexical.row_terms:
        print("part 2 skipped: this index's lexical rows are not indexed (rebuild it, or add to it once)")
    elif not (args.data / f"{QUESTIONS}.queries.tsv").exists():
        print(f"part 2 skipped: no questions at {args.data}")
    else:
        questions = list(read_queries(args.data / f"{QUESTIONS}.queries.tsv").values())[: args.questions]
        rows = time_lexical_filters(reader, questions)
        report["lexical_filters"] = rows
        print(f"\nBM25 with a filter, {DEPTH} candidates, median of {len(questions)} questions:")
        table = [
            [r["filter"], f"{r['share']:.2%}", r["inside_p50_ms"], r["widened_p50_ms"], r["same_rows"], r["chosen"]]
            for r in rows
        ]
        print(format_table(["filter", "share", "inside ms", "widened ms", "same rows", "reader uses"], table))
    print(f"(wrote {write_json(report, args.out, 'filters')})")
    searcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
