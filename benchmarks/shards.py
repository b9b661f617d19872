"""Two shards against one index over the same RealTimeQA articles: the same top 10 for every dev question?

    python benchmarks/shards.py [--filler 123] [--shards 2] [--modes lexical,hybrid,dense] [--out FILE.json]

Builds, in a temporary folder, one index of the articles the dev questions cite plus `--filler` others from the
head of the corpus, and the same articles routed into `--shards` shards as `build --shards` routes them, all with
the default model through the embedding cache (the vectors are the same floats in both). Then asks every dev
question in each mode as served (k=10, one hit per article; `--modes` takes benchmarks/quality.py's names,
e.g. hybrid-rrf-undated, and "hybrid", the tuned fusion, as of the question's day) of both and counts the
questions whose top 10 are identical (ids and scores, in order), and those identical up to the order of hits
with exactly equal scores (copies of one text: one index and its shards number rows differently, and equal
scores come in row order), and those with the same hits in the same order, every score within 1e-5 (float
rounding: see SCORE_TOLERANCE).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import (
    DATA_DIR,
    QUESTIONS,
    format_table,
    in_split,
    newest_day,
    read_qrels,
    read_queries,
    write_json,
)
from benchmarks.quality import Variant
from index.articles import Article, read_articles
from index.build import build_index
from index.cache import default_cache_path
from index.distributed import shard_of
from index.embed import Encoder
from index.reader import IndexReader
from search.searcher import Searcher
from search.shards import ShardedReader

CORPUS = DATA_DIR / "corpus.jsonl.xz"

Ranked = list[tuple[str, float]]
# Float32 rounding: FAISS sums an unfiltered flat search's products in blocks, so a vector's score can differ in
# its last bits with its place in the file (1e-7 measured); fusion and priors carry that into the final score.
SCORE_TOLERANCE = 1e-5


def slice_articles(filler: int) -> list[Article]:
    """The articles the dev questions cite, and the first `filler` others of the corpus, in corpus order."""
    qrels = read_qrels(DATA_DIR / f"{QUESTIONS}.qrels.tsv")
    cited = {doc for qid, docs in qrels.items() if in_split(qid, "dev") for doc in docs}
    found: list[Article] = []
    others = 0
    with contextlib.closing(read_articles([CORPUS])) as records:
        for record in records:
            if not isinstance(record, Article):
                continue
            if record.article_id in cited or others < filler:
                others += record.article_id not in cited
                found.append(record)
    return found


def write_jsonl(path: Path, articles: Sequence[Article]) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        for a in articles:
            record = {"id": a.article_id, "title": a.title, "text": a.text, "date": a.date, "source": a.source}
            out.write(json.dumps({**record, "url": a.url}) + "\n")
    return path


def same_up_to_ties(got: Ranked, expected: Ranked) -> bool:
    """Equal scores in order, and the same hits at every score but the last (a tie the cut at k may split)."""
    if [s for _, s in got] != [s for _, s in expected]:
        return False
    last = expected[-1][1] if expected else None
    return all(
        {i for i, s in got if s == score} == {i for i, s in expected if s == score}
        for score in {s for _, s in expected} - {last}
    )


def compare(single: Searcher[Any], sharded: Searcher[Any], modes: Sequence[str]) -> list[list[Any]]:
    """Per mode (benchmarks/quality.py's names; "hybrid": the tuned fusion), the dev questions whose top 10
    (passage ids and scores, in order) agree."""
    queries = read_queries(DATA_DIR / f"{QUESTIONS}.queries.tsv")
    questions = [(qid, q) for qid, q in queries.items() if in_split(qid, "dev")]
    later = newest_day(single.reader)
    rows = []
    for mode in modes:
        variant = Variant.parse(mode, later)
        identical = tied = rounded = 0
        overlap = 0.0
        for qid, query in questions:
            a = [(h.passage.passage_id, h.score) for h in variant.search(single, qid, query, 10).hits]
            b = [(h.passage.passage_id, h.score) for h in variant.search(sharded, qid, query, 10).hits]
            identical += a == b
            tied += same_up_to_ties(b, a)
            rounded += [i for i, _ in a] == [i for i, _ in b] and all(
                abs(x - y) <= SCORE_TOLERANCE for (_, x), (_, y) in zip(a, b, strict=True)
            )
            overlap += len({i for i, _ in a} & {i for i, _ in b}) / max(len(a), 1)
        rows.append([mode, len(questions), identical, tied, rounded, f"{overlap / len(questions):.3f}"])
    return rows


def compare_and_report(
    single: Searcher[Any],
    other: Searcher[Any],
    modes: Sequence[str],
    out: Path | None,
    tag: str,
    report: dict[str, Any],
) -> list[dict[str, Any]]:
    """Compare two searchers on the dev questions (closing both), print the table and write it into `report`
    (to `out` when given); returns its rows."""
    try:
        rows = compare(single, other, modes)
    finally:
        single.reader.close()
        other.reader.close()
    headers = ["mode", "dev questions", "identical top 10", "identical up to ties", "same hits ±1e-5", "mean overlap"]
    print(format_table(headers, rows))
    report["rows"] = [dict(zip(headers, r, strict=True)) for r in rows]
    if out:
        write_json(report, out, tag)
    return report["rows"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--filler", type=int, default=123, help="articles besides the dev questions' own")
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--modes", default="lexical,hybrid,dense")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    encoder = Encoder()
    articles = slice_articles(args.filler)
    with tempfile.TemporaryDirectory(prefix="dateline-shards-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        cache = default_cache_path()
        build_index(
            [write_jsonl(work / "all.jsonl", articles)], work / "one", encoder, cache_path=cache, progress=False
        )
        parts = []
        for shard in range(args.shards):
            mine = [a for a in articles if shard_of(a.article_id, args.shards) == shard]
            part = write_jsonl(work / f"{shard}.jsonl", mine)
            build_index([part], work / f"shard-{shard:02d}", encoder, cache_path=cache, progress=False)
            parts.append(work / f"shard-{shard:02d}")
        took = time.perf_counter() - started
        print(f"{len(articles)} articles: one index and {args.shards} shards built in {took:.0f} s")
        single = Searcher(IndexReader(work / "one"), encoder)
        sharded = Searcher(ShardedReader.open(parts), encoder)
        report = {"articles": len(articles), "shards": args.shards}
        compare_and_report(single, sharded, args.modes.split(","), args.out, "shards", report)


if __name__ == "__main__":
    main()
