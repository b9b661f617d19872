"""Selective filters on a whole index: do they still return k hits when k exist?

    python benchmarks/filters.py --index data/index [--query "..."] [--from 2023-02-13 --to 2023-02-19]
                                 [--source college.usatoday.com] [-k 10]

Prints the share of passages each filter passes, then for every mode the number of hits, whether every hit
passes the filter, how many articles pass it at all, and the search time. Filters are applied inside the
retrievers (an ID selector in FAISS, widened BM25), never to a fixed top k after the fact.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.searcher import MODES, Searcher


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--query", default="why did Russia suspend the New START treaty?")
    p.add_argument("--from", dest="start", type=dt.date.fromisoformat, default=dt.date(2023, 2, 13))
    p.add_argument("--to", dest="end", type=dt.date.fromisoformat, default=dt.date(2023, 2, 19))
    p.add_argument("--source", default="college.usatoday.com")
    p.add_argument("-k", type=int, default=10)
    args = p.parse_args(argv)

    searcher = Searcher.open(args.index)
    reader = searcher.reader
    filters = {
        f"{args.start}..{args.end}": (reader.rows_dated(args.start, args.end), {"start": args.start, "end": args.end}),
        f"source={args.source}": (reader.rows_from([args.source]), {"sources": [args.source]}),
    }
    for name, (mask, options) in filters.items():
        articles = len({reader.article_of(int(row)) for row in mask.nonzero()[0]})
        print(f"{name}: {mask.mean():.3%} of {reader.passages:,} passages, {articles:,} articles")
        for mode in MODES:
            result = searcher.search(args.query, args.k, mode=mode, **options)  # type: ignore[arg-type]
            inside = all(mask[h.passage.row] for h in result.hits)
            print(f"  {mode:<8} {len(result.hits):>3} hits, all inside the filter: {inside}, {result.took_ms:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
