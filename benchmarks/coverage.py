"""Coverage quality on RealTimeQA: the matching rule chosen on dev, gold recall on dev and test, judged precision.

    python benchmarks/coverage.py --index /work/indexes/rtqa-all [--judgments benchmarks/coverage_judgments.tsv]

1. The rule, chosen on the DEV questions only. An article matches when its best passage's
   (1 - w) * cosine + w * BM25 share (its BM25 over the query's best BM25 in the whole index) is at least a cut.
   For each w in WEIGHTS, the cut is the highest (on a 0.0025 grid) at which the gold article of >= 90% of the
   dev questions still matches its question; of those, the w whose matches per dev question are fewest
   (geometric mean) is chosen: at equal gold recall, fewer matches mean fewer off-topic ones. w = 0 is the dense
   cut (mode=dense). Each question is asked as /search is evaluated (benchmarks/quality.py): as of its quiz day
   (`as_of`), near-duplicate copies collapsed (a gold article counts when its story matches), read as Coverage
   reads it by default: its names (that some article holds) must appear in the article.
2. Recall at the tuned CoverageConfig, end to end through Coverage.matches, on dev and on test.
3. Precision: for each topic in the judgments file, 50 matches (all, when fewer) sampled with a fixed seed from
   the topic's matches at the tuned cut, judged by a person from the title and best passage (1: about the topic).
   The sample is drawn again here; every sampled article must be in the judgments (which may hold more: the matches
   of rules tried before), else the topic is flagged for judging.
4. The "New START" check: the week with most matches for NEW_START.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.data import (
    DATA_DIR,
    QUESTIONS,
    SPLIT_RULE,
    DataError,
    asked_on,
    format_table,
    read_qrels,
    read_queries,
    split_of,
    write_json,
)

if TYPE_CHECKING:
    from search.coverage import Coverage

JUDGMENTS = Path(__file__).with_name("coverage_judgments.tsv")
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
GRID = 0.0025
RECALL = 0.90
RELATIVES = (0.0, *(round(0.5 + 0.01 * i, 2) for i in range(46)))  # the share of the query's best score a match needs
SAMPLE, SEED = 50, 18
READ: dict[str, Any] = {}  # how queries are read: CoverageOptions' interpret, names, ignore (--interpret, --no-names)


@dataclass(frozen=True, slots=True)
class Scored:
    top: float  # the query's best score in the whole index
    gold: float  # the gold story's best score (as of the quiz day)
    stories: np.ndarray  # every story's best score as of the quiz day, best first


NEW_START = "Russia suspends New START"


def story_index(reader: Any) -> np.ndarray:
    """Each row's story (near-duplicate group, else article) as an int, for per-story maxima with numpy."""
    stories = [reader.duplicate_group(a) or a if a else "" for a in reader.rows.article_of]
    return np.unique(np.array(stories, dtype=object), return_inverse=True)[1]


def dev_scores(coverage: Coverage, questions: dict[str, tuple[str, list[str]]]) -> dict[float, list[Scored]]:
    """For each weight, per dev question: the best score in the whole index, the gold story's best score as of the
    quiz day, and every story's best score as of that day, best first. The question is read as Coverage reads it
    (its names must appear in the article; with --interpret its time words narrow the dates and are not words)."""
    from search.coverage import CoverageOptions

    reader, encoder = coverage.reader, coverage.encoder
    story = story_index(reader)
    articles = np.array(reader.rows.article_of, dtype=object)
    out: dict[float, list[Scored]] = {w: [] for w in WEIGHTS}
    for qid, (query, gold) in questions.items():
        options = CoverageOptions(as_of=asked_on(qid), **READ)
        understood = coverage.understood(query, options)
        cosines = reader.every_score(encoder.queries([understood.text])[0])
        asked = reader.rows_dated(*coverage.dates(options, understood))
        if understood.phrases:
            asked &= np.isin(articles, list(coverage.holding(understood.phrases)))
        hits = reader.search_lexical(understood.text, reader.passages)
        rows = np.array([row for row, _ in hits], dtype=np.int64)
        shares = np.array([s for _, s in hits], dtype=np.float32) / (hits[0][1] if hits else 1.0)
        gold_stories = [story[reader.rows_of_article(g)].max() for g in gold if reader.has_article(g)]
        for w in WEIGHTS:
            scores = (1 - w) * cosines
            scores[rows] += w * shares
            top = float(scores.max())
            scores[~asked] = -np.inf
            best = np.full(story.max() + 1, -np.inf, dtype=np.float32)
            np.maximum.at(best, story, scores)
            gold_best = float(max((best[s] for s in gold_stories), default=-np.inf))
            out[w].append(Scored(top, gold_best, np.sort(best[np.isfinite(best)])[::-1]))
    return out


def sweep(per_question: list[Scored], relative: float) -> tuple[float, float, float, float] | None:
    """The highest cut keeping dev recall >= RECALL with this relative bar: (cut, recall, gmean and median
    matches per question); None if the relative bar alone drops too many gold articles."""
    top = np.array([q.top for q in per_question])
    gold = np.array([q.gold for q in per_question])
    need = math.ceil(RECALL * len(gold))
    passing = np.sort(gold[gold >= relative * top])[::-1]
    if len(passing) < need:
        return None
    cut = round(math.floor(float(passing[need - 1]) / GRID) * GRID, 4)
    bars = np.maximum(cut, relative * top)
    matches = [int(np.searchsorted(-q.stories, -bar, side="right")) for q, bar in zip(per_question, bars, strict=True)]
    found = float((gold >= bars).mean())
    return cut, found, float(np.exp(np.mean(np.log(np.maximum(matches, 1))))), float(np.median(matches))


def choose(scores: dict[float, list[Scored]]) -> tuple[list[list[Any]], dict[float, tuple[float, float, float]]]:
    """Per weight, the relative bar and cut making fewest matches at dev recall >= RECALL: the table, and
    w -> (relative, cut, gmean matches)."""
    table, chosen = [], {}
    for w, per_question in scores.items():
        options = [(found, r) for r in RELATIVES if (found := sweep(per_question, r)) is not None]
        (cut, found, gmean, median), r = min(options, key=lambda option: option[0][2])
        table.append([f"w={w:g}", r, cut, round(found, 3), gmean, median])
        chosen[w] = (r, cut, gmean)
    return table, chosen


def recall(coverage: Coverage, questions: dict[str, tuple[str, list[str]]]) -> float:
    """Share of questions whose gold article's story is among Coverage's matches as of the quiz day."""
    from search.coverage import CoverageOptions
    from search.scope import story_of

    reader = coverage.reader
    found = 0
    for qid, (query, gold) in questions.items():
        stories = {
            story_of(reader, m.row) for m in coverage.matches(query, CoverageOptions(as_of=asked_on(qid), **READ))
        }
        found += any((reader.duplicate_group(g) or g) in stories for g in gold)
    return found / max(len(questions), 1)


def precision(coverage: Coverage, judgments: Path) -> tuple[list[list[Any]], float, list[str]]:
    """Per topic: matches, judged, relevant, precision; overall precision; topics with a sampled match not judged.

    The judgments may hold more articles than the sample (matches of rules tried before): only the sample counts."""
    from search.coverage import CoverageOptions

    judged: dict[str, dict[str, int]] = {}
    with open(judgments, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            judged.setdefault(row["topic"], {})[row["article_id"]] = int(row["relevant"])
    table, stale, hits, total = [], [], 0, 0
    for topic, labels in judged.items():
        found = coverage.matches(topic, CoverageOptions(**READ))
        sample = [coverage.reader.article_of(m.row) for m in random.Random(SEED).sample(found, min(SAMPLE, len(found)))]
        if any(article not in labels for article in sample):
            stale.append(topic)
        sampled = [labels[article] for article in sample if article in labels]
        relevant = sum(sampled)
        hits, total = hits + relevant, total + len(sampled)
        table.append([topic, len(found), len(sampled), relevant, relevant / max(len(sampled), 1)])
    return table, hits / max(total, 1), stale


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--index", type=Path, required=True, help="the whole-corpus index")
    p.add_argument("--data", type=Path, default=DATA_DIR, help=f"the realtimeqa folder (default {DATA_DIR})")
    p.add_argument("--judgments", type=Path, default=JUDGMENTS, help="topic, article_id, relevant (TSV)")
    p.add_argument("--out", type=Path, default=None, help="JSON report (default benchmarks/out/coverage-<time>.json)")
    p.add_argument("--interpret", action="store_true", help="read periods in the queries too (interpret=true)")
    p.add_argument("--no-names", action="store_true", help="match by the score alone, names not required (names=false)")
    p.add_argument("--ignore", action="append", default=[], help="with --interpret: leave this part out ('time')")
    p.add_argument("--chosen", action="store_true", help="recall and precision at the rule chosen here, not the config")
    args = p.parse_args(argv)
    from search.coverage import Coverage, CoverageConfig, CoverageOptions
    from search.searcher import Searcher

    try:
        queries = read_queries(args.data / f"{QUESTIONS}.queries.tsv")
        qrels = read_qrels(args.data / f"{QUESTIONS}.qrels.tsv")
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    questions = {q: (text, [d for d, rel in qrels.get(q, {}).items() if rel > 0]) for q, text in queries.items()}
    split = {name: {q: v for q, v in questions.items() if split_of(q) == name} for name in ("dev", "test")}
    searcher = Searcher.open(args.index)
    try:
        READ.update(interpret=args.interpret, names=not args.no_names, ignore=tuple(args.ignore))
        config = CoverageConfig()
        coverage = Coverage(searcher.reader, searcher.encoder, config)
        table, per_weight = choose(dev_scores(coverage, split["dev"]))
        w = min(per_weight, key=lambda weight: per_weight[weight][2])
        relative, cut, _ = per_weight[w]
        if args.chosen:
            config = CoverageConfig(hybrid_cut=cut, hybrid_relative=relative, lexical_weight=w)
            coverage = Coverage(searcher.reader, searcher.encoder, config)
        print(
            f"the rule on dev ({len(split['dev'])} questions; {SPLIT_RULE}): highest cut with gold recall >= "
            f"{RECALL:.0%} for each w and relative bar r; per w the r with fewest matches per question (geometric "
            "mean); the w with fewest chosen (w=0: mode=dense)"
        )
        print(format_table(["w", "r", "cut", "dev recall", "matches (gmean)", "matches (median)"], table))
        print(
            f"chosen: w={w:g}, r={relative:g}, cut={cut:g}; CoverageConfig has w={config.lexical_weight:g}, "
            f"hybrid_relative={config.hybrid_relative:g}, hybrid_cut={config.hybrid_cut:g}, "
            f"dense_relative={config.dense_relative:g}, dense_cut={config.dense_cut:g}"
        )
        recalls = {name: recall(coverage, qs) for name, qs in split.items()}
        print(
            f"gold recall at CoverageConfig (mode=hybrid, as of the quiz day, collapsed): dev {recalls['dev']:.3f}, "
            f"test {recalls['test']:.3f}"
        )
        judged, overall, stale = precision(coverage, args.judgments)
        print(format_table(["topic", "matches", "judged", "relevant", "precision"], judged))
        print(f"precision overall: {overall:.3f}" + (f"; sampled, NOT JUDGED (judge them): {stale}" if stale else ""))
        t0 = time.perf_counter()
        weekly = coverage.count(NEW_START, CoverageOptions(interval="week"))
        took = (time.perf_counter() - t0) * 1e3
        peak = max(weekly.series, key=lambda b: b.count) if weekly.series else None
        print(
            f"{NEW_START!r}: {weekly.total} matches, peak week "
            + (f"{peak.label} (from {peak.start}) with {peak.count}" if peak else "none")
            + f"; counted in {took:.0f} ms"
        )
    finally:
        searcher.close()
    report = {
        "benchmark": "coverage",
        "index": str(args.index),
        "sweep": table,
        "chosen": {"w": w, "relative": relative, "cut": cut},
        "config": {"w": config.lexical_weight, "hybrid_cut": config.hybrid_cut, "dense_cut": config.dense_cut},
        "recall": recalls,
        "precision": {"topics": judged, "overall": overall, "stale": stale},
        "new_start_peak": peak.start.isoformat() if peak else None,
    }
    print(f"(wrote {write_json(report, args.out, 'coverage')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
