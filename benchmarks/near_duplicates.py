"""Near-duplicate groups of an index: how many, how large, a random sample of pairs to inspect, and a collapse check.

    python benchmarks/near_duplicates.py --index data/index --corpus ARTICLES... [--sample 40] [--seed 7]

Prints the groups the build found (index.dedup: MinHash of 5-word shingles, estimated Jaccard >= 0.8), then
`--sample` random pairs (an article and its group's first article) with their titles, sources, dates and the
exact Jaccard similarity of their shingle sets, read from the original files (`--corpus`), for a person to judge
("same story?"). Then it asks every RealTimeQA question (hybrid, k=10, as served) and counts result pages on
which two hits belong to one group (must be 0 with collapse on) and pages where collapse folded something.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import DATA_DIR, QUESTIONS, asked_on, read_queries, write_json
from index import dedup
from index.articles import Article, read_articles
from search.searcher import Searcher, SearchOptions


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--corpus", nargs="+", required=True, help="the files the index was built from (for texts)")
    p.add_argument("--sample", type=int, default=40)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    searcher = Searcher.open(args.index)
    reader = searcher.reader
    facts = reader.manifest.near_duplicates
    if facts is None:
        print(f"{args.index} was built before near-duplicate detection: rebuild it", file=sys.stderr)
        return 2
    groups = reader.duplicate_groups()
    sizes = Counter(len(m) for m in groups.values())
    print(
        f"{facts.groups:,} groups holding {facts.articles:,} of {reader.articles:,} articles "
        f"({facts.articles / reader.articles:.1%}); sizes: "
        + ", ".join(f"{n} x{size}" for size, n in sorted(sizes.items()))
    )

    pairs = sorted((group, member) for group, members in groups.items() for member in members if member != group)
    random.Random(args.seed).shuffle(pairs)
    sample = pairs[: args.sample]
    wanted = {a for pair in sample for a in pair}
    texts: dict[str, Article] = {}
    for record in read_articles(args.corpus):
        if isinstance(record, Article) and record.article_id in wanted:
            texts[record.article_id] = record
    rows = []
    print(f"\n{len(sample)} random pairs (seed {args.seed}): exact Jaccard of 5-word shingles, then both articles")
    for a, b in sample:
        x, y = texts[a], texts[b]
        sa, sb = dedup.shingles(x.text), dedup.shingles(y.text)
        jaccard = len(sa & sb) / len(sa | sb)
        rows.append({"a": a, "b": b, "jaccard": round(jaccard, 3), "same_text": x.text == y.text})
        print(f"{jaccard:.2f}{' =' if x.text == y.text else '  '} {x.source} {x.date} {x.title[:60]!r}")
        print(f"        {y.source} {y.date} {y.title[:60]!r}")

    queries = read_queries(DATA_DIR / f"{QUESTIONS}.queries.tsv")
    clashes = folded = 0
    for qid, text in queries.items():
        hits = searcher.search(text, SearchOptions(k=10, as_of=asked_on(qid), highlight=False)).hits
        stories = [reader.duplicate_group(h.passage.article_id) for h in hits]
        named = [s for s in stories if s is not None]
        clashes += len(named) != len(set(named))
        folded += any(h.similar for h in hits)
    print(
        f"\n{len(queries)} questions (hybrid, k=10, collapse on): {clashes} result pages with two hits of one group; "
        f"{folded} pages with a folded group"
    )
    write_json(
        {
            "facts": dataclasses.asdict(facts),
            "sizes": dict(sizes),
            "sample": rows,
            "questions": len(queries),
            "clashes": clashes,
            "pages_with_folded_groups": folded,
        },
        args.out,
        "near_duplicates",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
