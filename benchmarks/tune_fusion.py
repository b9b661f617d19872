"""Choose hybrid ranking (fusion method, dense weight, recency) on the DEV questions only; TEST shown, never used.

    python benchmarks/tune_fusion.py --index DIR [--depth 100] [--later YYYY-MM-DD] [--out FILE.json]

Each question is asked as of the day its quiz was published (RealTimeQA questions say "this week"): the
archive is searched as it stood that day (`as_of`: nothing dated later) and recency counts back from it. Each
query's dense and lexical candidates are retrieved once, at the searcher's own depth; every point of the grid
(fusion method x dense weight x recency weight x half-life) is then ranked offline, grouped by article, and
scored by article-level nDCG@10 on question2article. The chosen point is the best on dev; its test score is
printed for the record (to show over-fitting), never used to choose. An undated row (no as_of, no recency)
shows what the date context is worth.

A second weight is chosen for searches without a recency prior (recency=0: archival questions, a from/to
range, or no date at all): for the chosen method, the dense weight with the best mean dev nDCG@10 over the
two no-recency settings (as of the question's day, and undated). With the prior on, relevance only has to
sort the candidates roughly and the date does the rest; without it, relevance is the whole ranking.

Last, the searcher's switch between the two weights (RankingConfig.min_prior_spread): a prior whose spread over
the candidates is below the threshold counts as none. Each threshold is scored as of the quiz day (the
prior at work) and "later", as of the newest article in the index or the `--later` day (a past event asked
about afterwards: the newest candidates are recent but off topic, or none is recent), beside the fixed weights;
the chosen threshold has the best mean dev nDCG@10 over the two.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
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
    asked_on,
    format_table,
    newest_day,
    read_qrels,
    read_queries,
    split_of,
    write_json,
)
from benchmarks.quality import ndcg, recall

WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
METHODS = ("rrf", "minmax", "zscore")
RECENCY = (0.0, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0)
HALF_LIVES = (7.0, 30.0, 90.0, 365.0)
SPREADS = (0.05, 0.1, 0.2, 0.5, 1.0, 1.5, 1.9)  # thresholds tried for RankingConfig.min_prior_spread


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--data", type=Path, default=DATA_DIR)
    p.add_argument("--depth", type=int, default=None, help="candidates per retriever (default: the searcher's)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--later",
        type=datetime.date.fromisoformat,
        default=None,
        help="the day the 'later' rows ask as of (default: the newest article's)",
    )
    args = p.parse_args(argv)

    from search import ranking
    from search.searcher import TUNED, Searcher

    depth = args.depth or TUNED.depth
    searcher = Searcher.open(args.index)
    reader = searcher.reader
    queries = read_queries(args.data / f"{QUESTIONS}.queries.tsv")
    qrels = read_qrels(args.data / f"{QUESTIONS}.qrels.tsv")
    started = time.perf_counter()
    newest = args.later or newest_day(reader) or datetime.date.today()
    until_newest = reader.rows_dated(end=newest)
    lists: dict[str, dict[str, Any]] = {}
    for qid, query in queries.items():
        if qid not in qrels:
            continue
        day = asked_on(qid)
        vector = searcher.encoder.queries([query])
        allowed = reader.rows_dated(end=day) if day else None
        lists[qid] = {
            "dated": (reader.search(vector, depth, allowed)[0], reader.search_lexical(query, depth, allowed)),
            "undated": (reader.search(vector, depth)[0], reader.search_lexical(query, depth)),
            "later": (reader.search(vector, depth, until_newest)[0], reader.search_lexical(query, depth, until_newest)),
            "asked_on": day,
            "relevant": {d for d, r in qrels[qid].items() if r > 0},
        }

    def rank(
        q: dict[str, Any], method: str, weight: float, recency: float, half_life: float, dated: bool | str
    ) -> list:
        """`dated`: True as of the quiz day, False undated, "later" as of the newest article. A `weight` of
        ("switch", threshold, w_prior, w_none) picks by the prior's spread, as the searcher does."""
        dense, lexical = q["later" if dated == "later" else "dated" if dated else "undated"]
        reference = newest if dated == "later" else q["asked_on"]
        age = reader.age_in_days(reference) if reference is not None else None
        if isinstance(weight, tuple):
            _, threshold, w_prior, w_none = weight
            rows = [row for row, _ in dense + lexical]
            spread = ranking.prior_spread(rows, age, recency, half_life) if age is not None else 0.0
            weight = w_prior if spread >= threshold else w_none
        if method in ("dense", "lexical"):
            fused = dense if method == "dense" else lexical
        else:
            fused = ranking.fuse(dense, lexical, method, weight)
        grouped = ranking.group_best(fused, reader.article_of)
        if recency > 0 and age is not None:
            grouped = ranking.recency_boost(grouped, age, recency, half_life)
        return [reader.article_of(row) for row, _, _ in grouped]

    def score(split: str, *point: Any) -> dict[str, float]:
        nd, r10, r100 = [], [], []
        for qid, q in lists.items():
            if split_of(qid) == split:
                articles = rank(q, *point)
                nd.append(ndcg(articles, q["relevant"]))
                r10.append(recall(articles, q["relevant"], 10))
                r100.append(recall(articles, q["relevant"], 100))
        return {
            "ndcg@10": statistics.fmean(nd),
            "recall@10": statistics.fmean(r10),
            "recall@100": statistics.fmean(r100),
            "queries": len(nd),
        }

    def point(method: str, weight: float | None, recency: float, half_life: float | None, dated: bool) -> dict:
        args_ = (method, weight or 0.0, recency, half_life or 1.0, dated)
        return {
            "method": method,
            "dense_weight": weight,
            "as_of": dated,
            "recency": recency,
            "half_life_days": half_life,
            "dev": score("dev", *args_),
            "test": score("test", *args_),
        }

    baselines = [point(m, None, 0.0, None, dated) for dated in (False, True) for m in ("lexical", "dense")]
    grid = [
        point(m, w, r, h, True)
        for m in METHODS
        for w in WEIGHTS
        for r in RECENCY
        for h in (HALF_LIVES if r > 0 else (None,))
    ]
    best = max(grid, key=lambda g: (round(g["dev"]["ndcg@10"], 4), g["dev"]["recall@100"]))
    undated = point(best["method"], best["dense_weight"], 0.0, None, False)
    no_recency = point(best["method"], best["dense_weight"], 0.0, None, True)
    no_prior = {  # the chosen method without a recency prior: (as of the day, undated) per weight
        w: (next(g for g in grid if (g["method"], g["dense_weight"], g["recency"]) == (best["method"], w, 0.0)),
            point(best["method"], w, 0.0, None, False))
        for w in WEIGHTS
    }  # fmt: skip
    plain_w = max(WEIGHTS, key=lambda w: round(sum(g["dev"]["ndcg@10"] for g in no_prior[w]) / 2, 4))

    # The switch between the two weights, by the prior's spread over the candidates: as of the quiz day and later.
    prior = (best["method"], best["recency"], best["half_life_days"])
    switch = {
        when: [point(prior[0], w, prior[1], prior[2], when) for w in (best["dense_weight"], plain_w)]
        + [point(prior[0], ("switch", t, best["dense_weight"], plain_w), prior[1], prior[2], when) for t in SPREADS]
        for when in (True, "later")
    }
    # The threshold with the best mean dev nDCG@10 over the two settings (the first, i.e. lowest, on a tie).
    by_threshold = {
        t: [p for points in switch.values() for p in points[2:] if p["dense_weight"][1] == t] for t in SPREADS
    }
    spread_t = max(SPREADS, key=lambda t: round(sum(p["dev"]["ndcg@10"] for p in by_threshold[t]) / 2, 4))

    def row(g: dict[str, Any], note: str = "") -> list[Any]:
        return [
            g["method"],
            g["dense_weight"],
            "later" if g["as_of"] == "later" else "yes" if g["as_of"] else "no",
            g["recency"],
            g["half_life_days"],
            g["dev"]["ndcg@10"],
            g["dev"]["recall@10"],
            g["dev"]["recall@100"],
            g["test"]["ndcg@10"],
            note,
        ]

    # The table: baselines, then per fusion method and weight the best recency setting on dev.
    rows = [row(g) for g in baselines]
    for m in METHODS:
        for w in WEIGHTS:
            cell = [g for g in grid if g["method"] == m and g["dense_weight"] == w]
            plain = next(g for g in cell if g["recency"] == 0)
            top = max(cell, key=lambda g: round(g["dev"]["ndcg@10"], 4))
            rows.append(row(plain))
            if top is not plain:
                rows.append(row(top, "<- chosen on dev" if top is best else ""))
    rows += [row(no_recency, "chosen, no recency"), row(undated, "chosen, undated")]
    for w in WEIGHTS:
        note = "<- chosen for recency=0" if w == plain_w else ""
        rows += [row(no_prior[w][1], note)]
    print(
        f"index {args.index}: {reader.passages} passages; {len(lists)} questions "
        f"(dev {baselines[0]['dev']['queries']}, test {baselines[0]['test']['queries']}); depth {depth}; "
        f"{len(grid)} grid points"
    )
    headers = ["method", "w_dense", "as_of", "recency", "half-life", "dev nDCG", "dev R@10", "dev R@100", "test nDCG"]
    print(format_table([*headers, ""], rows))
    print(f"\nthe weight switched by the prior's spread over the candidates ('later': as of {newest})")
    switch_rows = []
    for when, points in switch.items():
        for g in points:
            w = g["dense_weight"]
            label = f"spread >= {w[1]}: {w[2]}, else {w[3]}" if isinstance(w, tuple) else f"always {w}"
            note = "<- chosen" if isinstance(w, tuple) and w[1] == spread_t else ""
            switch_rows.append(
                [label, "later" if when == "later" else "quiz day", g["dev"]["ndcg@10"], g["test"]["ndcg@10"], note]
            )
    print(format_table(["dense weight", "as of", "dev nDCG", "test nDCG", ""], switch_rows))
    report = {
        "benchmark": "tune_fusion",
        "index": str(args.index),
        "split_rule": SPLIT_RULE,
        "depth": depth,
        "baselines": baselines,
        "grid": grid,
        "chosen": best,
        "chosen_without_recency": no_recency,
        "chosen_undated": undated,
        "no_recency": {"dense_weight": plain_w, "points": [p for w in WEIGHTS for p in no_prior[w]]},
        "switch": {
            "later_as_of": str(newest),
            "min_prior_spread": spread_t,
            "points": [p for points in switch.values() for p in points],
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    dated_np, undated_np = no_prior[plain_w]
    print(
        f"chosen: {best['method']}, dense weight {best['dense_weight']}, recency {best['recency']}, half-life "
        f"{best['half_life_days']} days: dev nDCG@10 {best['dev']['ndcg@10']:.3f} (test {best['test']['ndcg@10']:.3f})"
        f"; without recency, dense weight {plain_w}: dev nDCG@10 {dated_np['dev']['ndcg@10']:.3f} as of the day, "
        f"{undated_np['dev']['ndcg@10']:.3f} undated (test {dated_np['test']['ndcg@10']:.3f}, "
        f"{undated_np['test']['ndcg@10']:.3f}); the prior counts when it spreads the candidates >= {spread_t} "
        f"(wrote {write_json(report, args.out, 'tune_fusion')})"
    )
    searcher.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
