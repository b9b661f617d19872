"""`python -m search coverage "query" --index DIR [--interval week] [--csv]`: the series and top sources as a table."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from index.generations import DEFAULT_INDEX

if TYPE_CHECKING:
    from search.coverage import CoverageResult

BAR = 40  # characters of the longest bar


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m search coverage",
        description="How many articles match a query, per day, ISO week or month, and per source.",
    )
    p.add_argument("query", nargs="+", help="what the articles are about")
    p.add_argument("--index", default=os.environ.get("DATELINE_INDEX", DEFAULT_INDEX))
    p.add_argument("--mode", choices=("dense", "lexical", "hybrid"), default="hybrid", help="lexical: every word")
    p.add_argument("--interval", choices=("day", "week", "month"), default=None, help="default: from the range")
    p.add_argument("--from", dest="from_", default=None, metavar="YYYY-MM-DD", help="articles dated on or after")
    p.add_argument("--to", default=None, metavar="YYYY-MM-DD", help="articles dated on or before")
    p.add_argument("--source", action="append", default=None, help="only this source (repeat for more)")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="the archive as it stood that day")
    p.add_argument("--no-collapse", dest="collapse", action="store_false", help="count near-duplicate copies each")
    p.add_argument(
        "--cut", type=float, default=None, help="score a match's best passage needs (default: the tuned rule)"
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--csv", action="store_true", help="print the series as CSV (start,label,count)")
    out.add_argument("--export", choices=("csv", "jsonl"), default=None, help="print every matched article")
    return p


def coverage(argv: Sequence[str]) -> int:
    """Run the coverage subcommand; 2 on a bad request or an index that cannot be read."""
    from pydantic import ValidationError

    from index.errors import DatelineError
    from search.coverage import Coverage
    from search.coverage_schemas import CoverageRequest
    from search.searcher import Searcher

    args = _parser().parse_args(argv)
    fields = {"q": " ".join(args.query), "mode": args.mode, "interval": args.interval, "from": args.from_}
    fields |= {"to": args.to, "source": args.source, "as_of": args.as_of, "collapse": args.collapse, "cut": args.cut}
    try:
        request = CoverageRequest.model_validate(fields)
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    searcher = Searcher.open(Path(args.index), query_encoder=os.environ.get("DATELINE_QUERY_ENCODER", "auto"))
    try:
        counter = Coverage(searcher.reader, searcher.encoder)
        if args.export:
            from search import export

            for chunk in export.lines(counter.passages(counter.matches(request.q, request.options())), args.export):
                sys.stdout.write(chunk)
            return 0
        result = counter.count(request.q, request.options())
    except DatelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        searcher.close()
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("start", "label", "count"))
        writer.writerows((b.start.isoformat(), b.label, b.count) for b in result.series)
        return 0
    _table(result)
    return 0


def _table(result: CoverageResult) -> None:
    most = max((b.count for b in result.series), default=0)
    print(f"{result.interval or 'interval':<12} {'count':>7}")
    for b in result.series:
        print(f"{b.label:<12} {b.count:>7}  {'#' * (round(BAR * b.count / most) if most else 0)}")
    print(f"{'undated':<12} {result.undated:>7}")
    print(f"{'total':<12} {result.total:>7}  ({result.matching})")
    if result.top_sources:
        width = max(len(s) for s, _ in result.top_sources)
        print(f"\n{'source':<{width}} {'articles':>8}")
        for source, n in result.top_sources:
            print(f"{source:<{width}} {n:>8}")
