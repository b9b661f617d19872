"""Choose hybrid fusion (method and dense weight) on the DEV questions only; report TEST beside it, untouched.

    python benchmarks/tune_fusion.py --index DIR [--depth 1000] [--out FILE.json]

Each query's dense and lexical candidate lists are retrieved once; every (method, weight) on the grid is then
fused offline, grouped by article, and scored by article-level nDCG@10 on question2article. The chosen
setting is the best on dev; its test score is printed for the record and never used to choose.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import (
    DATA_DIR,
    QUESTIONS,
    SPLIT_RULE,
    format_table,
    read_qrels,
    read_queries,
    split_of,
    write_json,
)
from benchmarks.quality import ndcg, recall

WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
METHODS = ("rrf", "minmax", "zscore")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--data", type=Path, default=DATA_DIR)
    p.add_argument("--depth", type=int, default=1000, help="candidates per retriever")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from search import ranking
    from search.searcher import Searcher

    searcher = Searcher.open(args.index)
    queries = read_queries(args.data / f"{QUESTIONS}.queries.tsv")
    qrels = read_qrels(args.data / f"{QUESTIONS}.qrels.tsv")
    started = time.perf_counter()
    lists: dict[str, tuple[ranking.Ranked, ranking.Ranked]] = {}
    for qid, query in queries.items():
        if qid not in qrels:
            continue
        dense = searcher.reader.search(searcher.encoder.queries([query]), args.depth)[0]
        lexical = searcher.reader.search_lexical(query, args.depth)
        lists[qid] = (dense, lexical)

    def score(method: str, weight: float, split: str) -> dict[str, float]:
        nd, r10, r100 = [], [], []
        for qid, (dense, lexical) in lists.items():
            if split_of(qid) != split:
                continue
            if method == "dense":
                fused = dense
            elif method == "lexical":
                fused = lexical
            elif method == "rrf":
                fused = ranking.rrf([dense, lexical], (weight, 1 - weight))
            else:
                fused = ranking.normalised([dense, lexical], (weight, 1 - weight), method)
            articles = [
                searcher.reader.article_of(row) for row, _, _ in ranking.group_best(fused, searcher.reader.article_of)
            ]
            relevant = {d for d, r in qrels[qid].items() if r > 0}
            nd.append(ndcg(articles, relevant))
            r10.append(recall(articles, relevant, 10))
            r100.append(recall(articles, relevant, 100))
        n = len(nd)
        return {"ndcg@10": sum(nd) / n, "recall@10": sum(r10) / n, "recall@100": sum(r100) / n, "queries": n}

    grid: list[dict[str, Any]] = [
        {"method": m, "dense_weight": None, "dev": score(m, 0.0, "dev"), "test": score(m, 0.0, "test")}
        for m in ("lexical", "dense")
    ]
    for method in METHODS:
        for w in WEIGHTS:
            grid.append(
                {"method": method, "dense_weight": w, "dev": score(method, w, "dev"), "test": score(method, w, "test")}
            )
    fusions = [g for g in grid if g["dense_weight"] is not None]
    best = max(fusions, key=lambda g: (round(g["dev"]["ndcg@10"], 4), g["dev"]["recall@100"]))
    rows = [
        [
            g["method"],
            g["dense_weight"],
            g["dev"]["ndcg@10"],
            g["dev"]["recall@10"],
            g["dev"]["recall@100"],
            g["test"]["ndcg@10"],
            "<- chosen on dev" if g is best else "",
        ]
        for g in grid
    ]
    print(
        f"index {args.index}: {searcher.reader.passages} passages; {len(lists)} questions "
        f"(dev {grid[0]['dev']['queries']}, test {grid[0]['test']['queries']}); depth {args.depth}"
    )
    print(format_table(["method", "w_dense", "dev nDCG", "dev R@10", "dev R@100", "test nDCG", ""], rows))
    report = {
        "benchmark": "tune_fusion",
        "index": str(args.index),
        "split_rule": SPLIT_RULE,
        "depth": args.depth,
        "grid": grid,
        "chosen": {"method": best["method"], "dense_weight": best["dense_weight"]},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(
        f"chosen: {best['method']} with dense weight {best['dense_weight']} "
        f"(wrote {write_json(report, args.out, 'tune_fusion')})"
    )
    searcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
