"""Coverage quality on RealTimeQA: the matching rule chosen on dev, gold recall on dev and test, judged precision.

    python benchmarks/coverage.py --index /work/indexes/rtqa-all [--dev-only] [--chosen]

1. The rule, chosen on dev only (benchmarks/coverage_rule.py has the shapes). An article matches when its best
   passage's score s, (1 - w) * cosine + w * BM25 share (its BM25 over the query's best BM25 in the whole index), is
   at least a cut and within `near` of the query's best score in the index, or within `wide` of it when the article
   as a whole (the normalised sum of its passages' vectors) has a cosine to the query within `about` of the best
   article's. For each w in WEIGHTS and each shape, the cut is the highest (on a 0.0025 grid) at which the gold
   article of >= RECALL of the DEV questions still matches; per w > 0 the SHORTLIST rules making fewest matches per
   dev question (geometric mean) are then judged on the DEV TOPICS (coverage_dev_judgments.tsv, every match), and
   the most precise is the hybrid rule; w = 0's fewest is the dense rule. Each question is asked as /search is
   evaluated (benchmarks/quality.py): as of its quiz day (`as_of`), near-duplicate copies collapsed (a gold article
   counts when its story matches), read as Coverage reads it by default (its names must appear in the article).
   How well the choice holds on questions not seen is estimated within dev (held_out), so the test split is
   counted once, for the rule kept.
2. Recall at the tuned CoverageConfig, end to end through Coverage.matches, on dev and on test.
3. Precision on the REPORTED topics (coverage_judgments.tsv, none of them a dev topic): 50 matches per topic (all,
   when fewer) sampled with a fixed seed, judged by a person from the title and best passage (1: about the story).
   The sample is drawn again here; every sampled article must be in the judgments (which may hold more: the matches
   of rules tried before), else the topic is flagged for judging.
4. The "New START" check: the week with most matches for NEW_START.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.coverage_rule import GRID, SHAPES, WIDEST, Rule, Scored, choose, held_out, rule_of, shortlist
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
    from search.coverage import Coverage, CoverageConfig

JUDGMENTS = Path(__file__).with_name("coverage_judgments.tsv")  # the 5 topics reported (precision)
DEV_JUDGMENTS = Path(__file__).with_name("coverage_dev_judgments.tsv")  # 8 other topics, for choosing the rule
WEIGHTS = (0.0, 0.15, 0.2, 0.25)  # w = 0: mode=dense; the others around the 0.2 chosen at 90% (docs/coverage.md)
# The dev recall the rule is chosen at: a rule chosen where dev just passes 90% held 0.833 on test, and at 94% the
# recall held out within dev reaches 0.93 (docs/coverage.md).
RECALL = 0.94
ASKED = 0.90  # the recall the issue asks for, shown beside RECALL's held-out estimate
SHORTLIST = 5  # per weight, the rules with fewest matches per dev question, judged on the dev topics
HELD_OUT, HELD_OUT_REPEATS = 16, 100  # cross-validation within dev: choose on 60 questions, count on 16
SAMPLE, SEED = 50, 18
READ: dict[str, Any] = {}  # how queries are read: CoverageOptions' interpret, names, ignore (--interpret, --no-names)
NEW_START = "Russia suspends New START"


def story_index(reader: Any) -> np.ndarray:
    """Each row's story (near-duplicate group, else article) as an int, for per-story maxima with numpy."""
    stories = [reader.duplicate_group(a) or a if a else "" for a in reader.rows.article_of]
    return np.unique(np.array(stories, dtype=object), return_inverse=True)[1]


def dev_scores(coverage: Coverage, questions: dict[str, tuple[str, list[str]]]) -> dict[float, list[Scored]]:
    """For each weight, per dev question: its best score and best article cosine in the whole index, the gold
    story's, and every story's near the best as of the quiz day (a story's best article stands for it). The
    question is read as Coverage reads it (its names must appear in the article; with --interpret its time words
    narrow the dates and are not words)."""
    from search.coverage import CoverageOptions, whole_cosines

    reader, encoder = coverage.reader, coverage.encoder
    runs = reader.article_runs()  # an article's rows are consecutive: one run each
    starts = runs[0]
    story = story_index(reader)[starts]
    articles = np.array(reader.rows.article_of, dtype=object)
    out: dict[float, list[Scored]] = {w: [] for w in WEIGHTS}
    for qid, (query, gold) in questions.items():
        options = CoverageOptions(as_of=asked_on(qid), **READ)
        understood = coverage.understood(query, options)
        cosines = reader.every_score(encoder.queries([understood.text])[0])
        asked = reader.rows_dated(*coverage.dates(options, understood))
        if understood.phrases:
            asked &= np.isin(articles, list(coverage.holding(understood.phrases)))
        whole = whole_cosines(cosines, runs)
        hits = reader.search_lexical(understood.text, reader.passages)
        rows = np.array([row for row, _ in hits], dtype=np.int64)
        shares = np.array([s for _, s in hits], dtype=np.float32) / (hits[0][1] if hits else 1.0)
        gold_stories = {int(s) for g in gold if reader.has_article(g) for s in story[reader.rows_of_article(g)[starts]]}
        for w in WEIGHTS:
            scores = (1 - w) * cosines
            scores[rows] += w * shares
            top = float(scores.max())
            scores[~asked] = -np.inf
            out[w].append(_stories(np.maximum.reduceat(scores, starts), whole, story, gold_stories, top))
    return out


def _stories(best: np.ndarray, whole: np.ndarray, story: np.ndarray, gold: set[int], top: float) -> Scored:
    """A question's Scored from its articles' best scores and whole-article cosines (each story's best article)."""
    order = np.lexsort((-best, story))  # by story, best article first
    first = order[np.concatenate(([True], story[order][1:] != story[order][:-1]))]
    first = first[np.argsort(-best[first], kind="stable")]
    in_gold = np.isin(story[first], list(gold))
    g = first[in_gold][0] if in_gold.any() else None
    near = first[best[first] >= top - WIDEST - GRID]
    return Scored(
        top,
        float(whole.max()),
        (float(best[g]), float(whole[g])) if g is not None else (-np.inf, -np.inf),
        best[near],
        whole[near],
    )


def config_of(rule: Rule, base: CoverageConfig) -> CoverageConfig:
    """`base` with the rule's values: the hybrid bar and w, or the dense bar for w = 0."""
    shape = rule.shape
    if rule.w == 0:
        return replace(base, dense_cut=rule.cut, dense_gap=shape.near, dense_wide=shape.wide, dense_about=shape.about)
    return replace(
        base,
        hybrid_cut=rule.cut,
        hybrid_gap=shape.near,
        hybrid_wide=shape.wide,
        hybrid_about=shape.about,
        lexical_weight=rule.w,
    )


def show_rule(
    scores: dict[float, list[Scored]], coverage: Coverage, dev_judgments: Path
) -> tuple[list[list[Any]], Rule, Rule]:
    """Chooses the rules on dev and prints how: per w the shortlist with fewest matches at RECALL, each judged on
    the dev topics; the most precise is the hybrid rule; the dense rule is w = 0's fewest. Held-out recall too."""
    from search.coverage import Coverage

    table = choose(scores, RECALL)
    print(
        f"the rule on dev ({len(scores[WEIGHTS[0]])} questions; {SPLIT_RULE}): for each w and shape, the highest cut "
        f"with gold recall >= {RECALL:.0%} and its matches per question; per w > 0 the {SHORTLIST} with fewest "
        "(geometric mean), judged on the dev topics (every match): the most precise is chosen"
    )
    rows, best = [], None
    for w in WEIGHTS[1:]:
        for rule in shortlist(table, w, SHORTLIST):
            config = config_of(rule, coverage.config)
            relevant, judged, unjudged = judge_all(Coverage(coverage.reader, coverage.encoder, config), dev_judgments)
            gmean = next(row[6] for row in table if rule_of(row) == rule)
            rows.append(
                [w, rule.shape.near, rule.shape.wide, rule.shape.about, rule.cut, gmean, relevant, judged, unjudged]
            )
            key = (relevant / max(judged, 1), -gmean)
            if best is None or key > best[0]:
                best = (key, rule)
    print(
        format_table(["w", "near", "wide", "about", "cut", "matches (gmean)", "relevant", "judged", "NOT JUDGED"], rows)
    )
    assert best is not None
    hybrid, dense = best[1], shortlist(table, 0.0, 1)[0]
    for name, rule in (("hybrid", hybrid), ("dense", dense)):
        same = tuple(s for s in SHAPES if (s.wide > s.near) == (rule.shape.wide > rule.shape.near))
        estimate = {t: held_out(scores[rule.w], t, same, HELD_OUT_REPEATS, HELD_OUT, SEED) for t in (RECALL, ASKED)}
        print(
            f"{name}: w={rule.w:g}, near {rule.shape.near:g}, wide {rule.shape.wide:g}, about {rule.shape.about:g}, "
            f"cut {rule.cut:g}; held-out recall within dev ({HELD_OUT_REPEATS} x {HELD_OUT} questions, w and the kind "
            f"of shape kept), chosen at {RECALL:.0%}: {estimate[RECALL]:.3f}, at {ASKED:.0%}: {estimate[ASKED]:.3f}"
        )
    return table, hybrid, dense


def judge_all(coverage: Coverage, judgments: Path) -> tuple[int, int, int]:
    """Over every topic of the judgments, every match (not a sample): relevant, judged, not judged."""
    from search.coverage import CoverageOptions

    relevant = judged = unjudged = 0
    for topic, labels in read_judgments(judgments).items():
        for m in coverage.matches(topic, CoverageOptions(**READ)):
            label = labels.get(coverage.reader.article_of(m.row))
            unjudged += label is None
            judged += label is not None
            relevant += label or 0
    return relevant, judged, unjudged


def read_judgments(path: Path) -> dict[str, dict[str, int]]:
    """topic -> article_id -> 0/1, from a TSV with a header `topic  article_id  relevant`."""
    judged: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            judged.setdefault(row["topic"], {})[row["article_id"]] = int(row["relevant"])
    return judged


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

    table, stale, hits, total = [], [], 0, 0
    for topic, labels in read_judgments(judgments).items():
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
    p.add_argument("--judgments", type=Path, default=JUDGMENTS, help="the topics reported: topic, article_id, relevant")
    p.add_argument("--dev-judgments", type=Path, default=DEV_JUDGMENTS, help="the topics the rule is chosen on")
    p.add_argument("--out", type=Path, default=None, help="JSON report (default benchmarks/out/coverage-<time>.json)")
    p.add_argument("--interpret", action="store_true", help="read periods in the queries too (interpret=true)")
    p.add_argument("--no-names", action="store_true", help="match by the score alone, names not required (names=false)")
    p.add_argument("--ignore", action="append", default=[], help="with --interpret: leave this part out ('time')")
    p.add_argument("--chosen", action="store_true", help="recall and precision at the rule chosen here, not the config")
    p.add_argument("--dev-only", action="store_true", help="gold recall on dev only (the test split is counted once)")
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
        table, hybrid, dense = show_rule(dev_scores(coverage, split["dev"]), coverage, args.dev_judgments)
        if args.chosen:
            config = config_of(dense, config_of(hybrid, config))
            coverage = Coverage(searcher.reader, searcher.encoder, config)
        print(
            f"CoverageConfig: w={config.lexical_weight:g}, hybrid: cut {config.hybrid_cut:g}, "
            f"gap {config.hybrid_gap:g}, "
            f"wide {config.hybrid_wide:g}, about {config.hybrid_about:g}; dense: cut {config.dense_cut:g}, gap "
            f"{config.dense_gap:g}, wide {config.dense_wide:g}, about {config.dense_about:g}"
        )
        names = ("dev",) if args.dev_only else ("dev", "test")
        recalls = {name: recall(coverage, split[name]) for name in names}
        print(
            "gold recall at CoverageConfig (mode=hybrid, as of the quiz day, collapsed): "
            + ", ".join(f"{name} {value:.3f}" for name, value in recalls.items())
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
        "chosen": {"hybrid": asdict(hybrid), "dense": asdict(dense)},
        "config": asdict(config),
        "recall": recalls,
        "precision": {"topics": judged, "overall": overall, "stale": stale},
        "new_start_peak": peak.start.isoformat() if peak else None,
    }
    print(f"(wrote {write_json(report, args.out, 'coverage')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
