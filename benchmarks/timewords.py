"""The query time tagger measured: periods found in the judged queries, time marked in time-free questions, speed.

    python benchmarks/timewords.py [--parsers rules,dateparser,ctparse]

`rules` is search/timewords.py (what Dateline uses); dateparser's search_dates and ctparse are scored the same
way where installed (ctparse is not a Dateline dependency: run this file with a Python that has it). A judged
query's period (benchmarks/judged/queries.jsonl) is found `exact` when the tagger's days equal the gold ones,
`overlap` when they share a day (a parser giving one day counts when that day is in the gold period). The
time-free questions are RealTimeQA dev questions and evidence sentences in which a reader finds no time
expression (benchmarks/judged/time_free.tsv, chosen by reading); a question is marked when the tagger finds
any time in it. Relative times count back from the judged query's
`as_of` day, or the question's quiz day.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import DATA_DIR, EVIDENCE, QUESTIONS, asked_on, format_table, read_queries, write_json

JUDGED_QUERIES = Path(__file__).resolve().parent / "judged" / "queries.jsonl"
TIME_FREE = Path(__file__).resolve().parent / "judged" / "time_free.tsv"  # qid, set, split; chosen by reading


def time_free(path: Path, data: Path) -> dict[str, dict[str, str]]:
    """split -> {qid: text} of the time-free questions and evidence sentences listed in `path`."""
    texts = read_queries(data / f"{QUESTIONS}.queries.tsv") | read_queries(data / f"{EVIDENCE}.queries.tsv")
    out: dict[str, dict[str, str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            qid, _set, split = line.split("\t")
            out.setdefault(split, {})[qid] = texts[qid]
    return out


Span = tuple[datetime.date, datetime.date]
Tagger = Callable[[str, datetime.date], Span | None]


def rules(text: str, ref: datetime.date) -> Span | None:
    from search.timewords import find_period

    found = find_period(text, ref)
    return (found.start, found.end) if found else None


def dateparser_tagger(text: str, ref: datetime.date) -> Span | None:
    from dateparser.search import search_dates

    base = datetime.datetime.combine(ref, datetime.time())
    found = search_dates(text, languages=["en"], settings={"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"})
    return (found[0][1].date(),) * 2 if found else None


def ctparse_tagger(text: str, ref: datetime.date) -> Span | None:
    from ctparse import ctparse  # type: ignore[import-not-found]

    found = ctparse(text, ts=datetime.datetime.combine(ref, datetime.time()), timeout=0.5)
    if found is None or found.resolution is None:
        return None
    res = found.resolution
    start = getattr(res, "start", res)
    if getattr(start, "year", None) is None:
        return None  # a duration or a time of day, no date
    day = datetime.date(start.year, start.month or 1, start.day or 1)
    return day, day


TAGGERS: dict[str, Tagger] = {"rules": rules, "dateparser": dateparser_tagger, "ctparse": ctparse_tagger}


def judged_periods(path: Path) -> list[tuple[str, str, datetime.date, Span]]:
    """(id, query, reference day, gold period) of every judged query with a period."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec.get("period"):
            ref = datetime.date.fromisoformat(rec["as_of"]) if rec.get("as_of") else datetime.date.today()
            gold = (
                datetime.date.fromisoformat(rec["period"]["from"]),
                datetime.date.fromisoformat(rec["period"]["to"]),
            )
            out.append((rec["id"], rec["query"], ref, gold))
    return out


def score(
    tagger: Tagger, periods: Sequence[tuple[str, str, datetime.date, Span]], free: dict[str, str]
) -> dict[str, Any]:
    exact = overlap = 0
    misses = []
    started = time.perf_counter()
    for qid, query, ref, (a, b) in periods:
        found = tagger(query, ref)
        exact += found == (a, b)
        hit = found is not None and found[0] <= b and a <= found[1]
        overlap += hit
        if not hit:
            misses.append(qid)
    marked = [qid for qid, text in free.items() if tagger(text, asked_on(qid) or datetime.date.today())]
    calls = len(periods) + len(free)
    per_call_us = (time.perf_counter() - started) / max(calls, 1) * 1e6
    n = max(len(periods), 1)
    return {
        "periods": len(periods),
        "exact": round(exact / n, 3),
        "found": round(overlap / n, 3),
        "missed": misses,
        "time_free": len(free),
        "marked": round(len(marked) / max(len(free), 1), 3),
        "marked_ids": marked,
        "us_per_query": round(per_call_us, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parsers", default="rules,dateparser,ctparse", help="taggers to compare (skipped if absent)")
    p.add_argument("--judged", type=Path, default=JUDGED_QUERIES, help="the judged queries (JSON lines)")
    p.add_argument("--time-free", type=Path, default=TIME_FREE, help="the time-free questions (TSV)")
    p.add_argument("--data", type=Path, default=DATA_DIR, help="the realtimeqa folder")
    p.add_argument("--out", type=Path, default=None, help="JSON report: a file or a folder")
    args = p.parse_args(argv)
    for path in (args.judged, args.time_free):
        if not path.is_file():
            print(f"error: {path} not found (benchmarks/judged/ holds both inputs)", file=sys.stderr)
            return 2
    periods = judged_periods(args.judged)
    free = time_free(args.time_free, args.data)
    results: dict[str, Any] = {}
    for name in args.parsers.split(","):
        try:
            results[name] = {split: score(TAGGERS[name], periods, free[split]) for split in ("dev", "test")}
        except ImportError as exc:
            print(f"note: {name} skipped ({exc})", file=sys.stderr)
    headers = ["tagger", "judged periods", "found", "exact", "time-free split", "questions", "marked", "us/query"]
    rows = [
        [name, r["periods"], r["found"], r["exact"], split, r["time_free"], r["marked"], r["us_per_query"]]
        for name, by_split in results.items()
        for split, r in by_split.items()
    ]
    print(format_table(headers, rows))
    for name, by_split in results.items():
        marked = [qid for r in by_split.values() for qid in r["marked_ids"]]
        print(f"{name}: missed {by_split['dev']['missed'] or 'none'}; marked {marked or 'none'}")
    print(f"(wrote {write_json({'benchmark': 'timewords', 'taggers': results}, args.out, 'timewords')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
