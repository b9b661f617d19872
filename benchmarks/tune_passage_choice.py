"""Choose the lede prior of the passage an article hit shows, on the DEV answer spans only; TEST shown, never used.

    python benchmarks/tune_passage_choice.py --index DIR [--out FILE.json]

An article hit (hybrid, group=article) keeps its rank but shows the passage of it that an even dense + lexical
fusion scores best, plus `weight / (1 + n)` for the passage at place n of its article (`decay`, what the
searcher does), or `weight` for the lede alone (`lede-only`). Each weight is scored by the share of questions
whose shown top-10 passages include an answer span of a gold article (the quality benchmark's answer row),
each question asked as served: as of its quiz day, default recency, near-duplicates folded. Article ranks,
and so nDCG, do not change with the prior. The chosen point is the best on dev (ties: the smaller weight);
its test figure is printed for the record, never used to choose.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import (
    ANSWER_SPANS,
    DATA_DIR,
    QUESTIONS,
    SPLIT_RULE,
    asked_on,
    format_table,
    read_answer_spans,
    read_queries,
    split_of,
    write_json,
)

if TYPE_CHECKING:
    from search.options import LedeForm

WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
FORMS: tuple[LedeForm, ...] = ("decay", "lede-only")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True)
    p.add_argument("--data", type=Path, default=DATA_DIR)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from dataclasses import replace

    from search.searcher import TUNED, Searcher, SearchOptions

    served = Searcher.open(args.index)
    queries = read_queries(args.data / f"{QUESTIONS}.queries.tsv")
    gold: dict[str, list[tuple[str, tuple[tuple[int, int], ...]]]] = {}
    for rec in read_answer_spans(args.data / ANSWER_SPANS):
        gold.setdefault(rec.qid, []).append((rec.doc_id, rec.spans))
    started = time.perf_counter()
    points: list[dict[str, Any]] = []
    for form in FORMS:
        for weight in WEIGHTS:
            if form != "decay" and weight == 0.0:
                continue  # the same as decay at 0
            searcher = served.with_config(replace(TUNED, lede_form=form, lede_weight=weight))
            shown: dict[str, bool] = {}
            for qid, answers in gold.items():
                options = SearchOptions(k=10, as_of=asked_on(qid), recency=TUNED.recency, highlight=False)
                hits = searcher.search(queries[qid], options).hits
                shown[qid] = any(
                    h.passage.article_id == doc and any(h.passage.start <= s and e <= h.passage.end for s, e in spans)
                    for doc, spans in answers
                    for h in hits
                )
            point: dict[str, Any] = {"form": form, "weight": weight}
            for split in ("dev", "test"):
                got = [v for qid, v in shown.items() if split_of(qid) == split]
                point[split] = {"answered": sum(got), "questions": len(got), "share": round(sum(got) / len(got), 4)}
            points.append(point)
            print(
                f"{form:9} {weight:4}: dev {point['dev']['answered']}/{point['dev']['questions']}, "
                f"test {point['test']['answered']}/{point['test']['questions']}",
                file=sys.stderr,
            )
    served.close()
    best = max(points, key=lambda q: (q["dev"]["share"], -q["weight"]))
    rows = [
        [
            f"{q['form']} {q['weight']}" + (" (chosen)" if q is best else ""),
            q["dev"]["answered"],
            q["dev"]["share"],
            q["test"]["answered"],
            q["test"]["share"],
            (q["dev"]["answered"] + q["test"]["answered"]) / (q["dev"]["questions"] + q["test"]["questions"]),
        ]
        for q in points
    ]
    print(format_table(["prior", "dev answered", "dev share", "test answered", "test share", "all share"], rows))
    print(f"chosen on dev: {best['form']} {best['weight']} (the searcher's is {TUNED.lede_form} {TUNED.lede_weight})")
    report = {
        "benchmark": "tune_passage_choice",
        "index": str(args.index),
        "split_rule": SPLIT_RULE,
        "points": points,
        "chosen": best,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(f"report: {write_json(report, args.out, 'tune_passage_choice')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
