"""Retrieval quality on RealTimeQA: article-level nDCG@10, recall@10/100, MRR@10, and answer spans in top passages.

    python benchmarks/quality.py --index data/index [--split dev] [--modes dense,hybrid-rrf] [--only-indexed]

Every mode in --modes (default: dense, lexical, hybrid-rrf, hybrid-minmax, hybrid-zscore, hybrid-rerank when
DATELINE_RERANK_MODEL names a cross-encoder, and the `-undated` and `-later` rows) is scored in one run, with
the searcher's p50 latency for the same searches beside it.

Results are measured as served: one hit per article (`group=article`), the searcher's default depth, fusion
weight and recency. Each question is asked as of the day its quiz was published (the YYYYMMDD its id starts
with; the questions say "this week"): `as_of` keeps later articles out and recency counts back from that day.
An `-undated` mode asks without a date and without recency, to show what the date context is worth. A `-later`
mode asks every question as of the newest article in the index with the default recency: what a person asking
about a past event gets today, when the recency prior reaches none of the candidates.
nDCG@10, R@10, MRR@10 and the answer spans come from the k=10 search a user sees; R@100 from a k=100 search.
Gains are binary (qrels relevance > 0); a query whose gold article is not in the index is counted as
`missing` and scores as a miss, unless `--only-indexed` drops it (for partial indexes). The answer-span row
is the share of questions with a top-10 passage from the gold article whose [start, end) contains a whole
answer span.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import (
    ANSWER_SPANS,
    DATA_DIR,
    EVIDENCE,
    QUESTIONS,
    SPLIT_RULE,
    SPLITS,
    DataError,
    Split,
    asked_on,
    format_table,
    in_split,
    index_facts,
    newest_day,
    read_answer_spans,
    read_qrels,
    read_queries,
    summarise,
    write_json,
)
from search.options import FUSIONS, TUNED, SearchOptions

if TYPE_CHECKING:
    from search.searcher import Fusion, Mode, Searcher

When = Literal["quiz-day", "undated", "later"]
TOP = 10  # nDCG, MRR and recall cut-off; also the passages checked for an answer span
DEEP = 100  # the second recall cut-off


@dataclass(frozen=True, slots=True)
class Ranking:
    articles: list[str]  # the k=TOP search's articles, best first
    top_passages: list[tuple[str, int, int]]  # (article_id, start, end) of the passage shown for each
    deep: list[str]  # the k=DEEP search's articles, best first (for recall@DEEP)


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    mode: Mode
    fusion: Fusion = "rrf"
    rerank: bool = False
    when: When = "quiz-day"  # as of the question's day with the default recency; "undated": neither; "later":
    # as of `later` (the index's newest article's day), with the default recency
    later: datetime.date | None = None

    @classmethod
    def parse(cls, name: str, later: datetime.date | None = None) -> Variant:
        base, when = name, "quiz-day"
        for suffix in ("undated", "later"):
            if name.endswith(f"-{suffix}"):
                base, when = name.removesuffix(f"-{suffix}"), suffix
        if base in ("dense", "lexical"):
            return cls(name, base, when=when, later=later)  # type: ignore[arg-type]
        if base == "hybrid":  # as served: the tuned fusion
            return cls(name, "hybrid", TUNED.fusion, when=when, later=later)
        if base == "hybrid-rerank":
            return cls(name, "hybrid", TUNED.fusion, rerank=True, when=when, later=later)  # type: ignore[arg-type]
        mode, _, fusion = base.partition("-")
        if mode != "hybrid" or fusion not in FUSIONS:
            raise ValueError(
                f"unknown mode {name!r}; use dense, lexical, hybrid-rrf, hybrid-minmax, hybrid-zscore, "
                "hybrid-rerank, each optionally with -undated or -later"
            )
        return cls(name, "hybrid", fusion, when=when, later=later)  # type: ignore[arg-type]

    def search(self, searcher: Searcher, qid: str, query: str, k: int) -> Any:
        """The served search (one hit per article), as of the question's day, of no day, or of `later`."""
        as_of = {"quiz-day": asked_on(qid), "undated": None, "later": self.later}[self.when]
        return searcher.search(
            query,
            SearchOptions(
                k=k,
                mode=self.mode,
                fusion=self.fusion,
                rerank=self.rerank,
                as_of=as_of,
                recency=0.0 if self.when == "undated" else TUNED.recency,
            ),
        )


def served_modes(searcher: Searcher) -> list[str]:
    """Every mode `searcher` can serve, as --modes names: the default list (see the module docstring)."""
    if not searcher.has_lexical:
        return ["dense", "dense-undated"]
    names = ["lexical", "dense", "hybrid-rrf", "hybrid-minmax", "hybrid-zscore"]
    names += ["hybrid-rerank"] if searcher.reranker is not None or os.environ.get("DATELINE_RERANK_MODEL") else []
    names += ["lexical-undated", "dense-undated", f"hybrid-{TUNED.fusion}-undated"]
    return [*names, "lexical-later", "dense-later", f"hybrid-{TUNED.fusion}-later"]


def retrieve(searcher: Searcher, qid: str, query: str, mode: Variant) -> Ranking:
    top = mode.search(searcher, qid, query, TOP).hits
    deep = mode.search(searcher, qid, query, DEEP).hits
    return Ranking(
        [h.passage.article_id for h in top],
        [(h.passage.article_id, h.passage.start, h.passage.end) for h in top],
        [h.passage.article_id for h in deep],
    )


def ndcg(ranked: Sequence[str], relevant: set[str], k: int = TOP) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal if ideal else 0.0


def recall(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranked: Sequence[str], relevant: set[str], k: int = TOP) -> float:
    return next((1 / (i + 1) for i, doc in enumerate(ranked[:k]) if doc in relevant), 0.0)


def mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def score_set(
    searcher: Searcher,
    name: str,
    data: Path,
    split: Split,
    only_indexed: bool,
    mode: Variant,
    rankings: dict[str, Ranking],
) -> dict[str, Any]:
    """Article-level metrics for one query set; fills `rankings` (qid -> Ranking) for reuse."""
    queries = read_queries(data / f"{name}.queries.tsv")
    qrels = read_qrels(data / f"{name}.qrels.tsv")
    unjudged = [qid for qid in queries if not any(r > 0 for r in qrels.get(qid, {}).values())]
    per_query: dict[str, dict[str, Any]] = {}
    missing = 0
    for qid, query in queries.items():
        if not in_split(qid, split) or qid in unjudged:
            continue
        relevant = {doc for doc, rel in qrels[qid].items() if rel > 0}
        indexed = {doc for doc in relevant if searcher.reader.has_article(doc)}
        if not indexed:
            missing += 1
            if only_indexed:
                continue
        if only_indexed:
            relevant = indexed
        rankings[qid] = ranking = retrieve(searcher, qid, query, mode)
        first = next((i + 1 for i, doc in enumerate(ranking.articles) if doc in relevant), None)
        per_query[qid] = {
            "ndcg@10": round(ndcg(ranking.articles, relevant), 4),
            "recall@10": recall(ranking.articles, relevant, TOP),
            "recall@100": recall(ranking.deep, relevant, DEEP),
            "rr@10": round(reciprocal_rank(ranking.articles, relevant), 4),
            "first_relevant_rank": first,
            "gold_indexed": len(indexed),
            "gold": len(relevant),
        }
    scored = list(per_query.values())
    return {
        "queries": len(scored),
        "missing_gold": missing,
        "unjudged": len(unjudged),
        "ndcg@10": mean([q["ndcg@10"] for q in scored]),
        "recall@10": mean([q["recall@10"] for q in scored]),
        "recall@100": mean([q["recall@100"] for q in scored]),
        "mrr@10": mean([q["rr@10"] for q in scored]),
        "mean_articles_retrieved": mean([len(rankings[qid].deep) for qid in per_query]),
        "per_query": per_query,
    }


def score_answer_spans(
    searcher: Searcher,
    data: Path,
    split: Split,
    only_indexed: bool,
    mode: Variant,
    rankings: dict[str, Ranking],
) -> dict[str, Any]:
    """Share of questions with a top-10 passage from a gold article that contains a whole answer span.

    A question with two gold articles (two records) is answered when either article's answer shows."""
    queries = read_queries(data / f"{QUESTIONS}.queries.tsv")
    per_query: dict[str, bool] = {}
    missing = 0
    for rec in read_answer_spans(data / ANSWER_SPANS):
        if not in_split(rec.qid, split):
            continue
        if rec.qid not in queries:
            raise DataError(f"{data / ANSWER_SPANS}: qid {rec.qid} has no query in {QUESTIONS}.queries.tsv")
        if not searcher.reader.has_article(rec.doc_id):
            missing += 1
            if only_indexed:
                continue
        ranking = rankings.get(rec.qid) or retrieve(searcher, rec.qid, queries[rec.qid], mode)
        rankings[rec.qid] = ranking
        shown = any(
            article == rec.doc_id and any(start <= s and e <= end for s, e in rec.spans)
            for article, start, end in ranking.top_passages
        )
        per_query[rec.qid] = per_query.get(rec.qid, False) or shown
    hits = [1.0 if found else 0.0 for found in per_query.values()]
    return {"queries": len(hits), "missing_gold": missing, "answer@10": mean(hits), "per_query": per_query}


def latency(searcher: Searcher, variant: Variant, args: argparse.Namespace) -> dict[str, Any]:
    """The searcher's own time for a served search (k=10, one hit per article) over the questions, once each."""
    queries = {
        qid: q for qid, q in read_queries(args.data / f"{QUESTIONS}.queries.tsv").items() if in_split(qid, args.split)
    }
    took = []
    for qid, query in queries.items():
        t0 = time.perf_counter()
        variant.search(searcher, qid, query, TOP)
        took.append((time.perf_counter() - t0) * 1e3)
    return summarise(took)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True, help="index folder (holding current/)")
    p.add_argument("--data", type=Path, default=DATA_DIR, help=f"the realtimeqa folder (default {DATA_DIR})")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON report: a file, or a folder to write quality-<time>.json in (default benchmarks/out/)",
    )
    p.add_argument("--split", choices=SPLITS, default="all", help=SPLIT_RULE)
    p.add_argument("--modes", default=None, help="comma-separated modes to compare (default: all supported)")
    p.add_argument(
        "--only-indexed",
        action="store_true",
        help="score only queries whose gold article is in the index (for partial indexes)",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from index.errors import StoreError
    from search.searcher import Searcher

    inputs = [args.data / f"{name}.{kind}.tsv" for name in (QUESTIONS, EVIDENCE) for kind in ("queries", "qrels")]
    absent = [str(path) for path in [*inputs, args.data / ANSWER_SPANS] if not path.is_file()]
    if absent:  # before the model loads
        print(f"error: not found: {', '.join(absent)}; pass --data DIR (the realtimeqa folder)", file=sys.stderr)
        return 2
    try:
        searcher = Searcher.open(args.index, query_encoder=os.environ.get("DATELINE_QUERY_ENCODER", "auto"))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = args.modes.split(",") if args.modes else served_modes(searcher)
    newest = newest_day(searcher.reader)
    try:
        variants = [Variant.parse(n.strip(), later=newest) for n in names]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    manifest = searcher.reader.manifest
    started = time.perf_counter()
    results: dict[str, Any] = {}
    try:
        for variant in variants:
            rankings: dict[str, Ranking] = {}
            sets = {
                name: score_set(searcher, name, args.data, args.split, args.only_indexed, variant, rankings)
                for name in (QUESTIONS, EVIDENCE)
            }
            answers = score_answer_spans(searcher, args.data, args.split, args.only_indexed, variant, rankings)
            results[variant.name] = {
                "sets": sets,
                "answer_spans": answers,
                "latency_ms": latency(searcher, variant, args),
                # each question's top 10 as served (article, shown passage's offsets): to compare two builds
                "top10": {qid: r.top_passages for qid, r in sorted(rankings.items())},
            }
    except (DataError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        searcher.close()
    seconds = time.perf_counter() - started

    rows: list[list[Any]] = []
    for name, r in results.items():
        for set_name, s in r["sets"].items():
            rows.append(
                [
                    name,
                    set_name,
                    s["queries"],
                    s["missing_gold"],
                    s["ndcg@10"],
                    s["recall@10"],
                    s["recall@100"],
                    s["mrr@10"],
                    None,
                    r["latency_ms"]["p50"],
                ]
            )
        a = r["answer_spans"]
        rows.append(
            [
                name,
                "answer_spans",
                a["queries"],
                a["missing_gold"],
                None,
                None,
                None,
                None,
                a["answer@10"],
                r["latency_ms"]["p50"],
            ]
        )
    print(
        f"index {args.index}: {searcher.reader.passages} passages, {searcher.reader.articles} articles; "
        f"model {manifest.model.name}; split {args.split}; as served (group=article); "
        f"{'only queries with indexed gold' if args.only_indexed else 'missing gold scored as misses'}"
    )
    headers = ["mode", "set", "queries", "missing", "nDCG@10", "R@10", "R@100", "MRR@10", "Ans@10", "p50 ms"]
    print(format_table(headers, rows))
    report = {
        "benchmark": "quality",
        **index_facts(searcher, args.index),
        "split": args.split,
        "split_rule": SPLIT_RULE,
        "only_indexed": args.only_indexed,
        "as_of": "each question's quiz day (YYYYMMDD of its id); -undated modes none (no recency); -later modes "
        f"the newest article's day, {newest}",
        "seconds": round(seconds, 2),
        "modes": results,
    }
    print(f"({seconds:.1f} s; wrote {write_json(report, args.out, 'quality')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
