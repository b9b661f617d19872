"""Coverage quality on RealTimeQA: the matching rule chosen on dev, gold recall on dev and test, judged precision.

    python benchmarks/coverage.py --index /work/indexes/rtqa-all [--judgments FILE.tsv] [--dev-only]

1. The rule, chosen on the DEV questions only. An article matches when its best passage's score,
   (1 - w) * cosine + w * BM25 share (its BM25 over the query's best BM25 in the whole index), is at least a cut
   and passes a relative bar: within a gap of the query's best score in the index, or a share of it (BARS). For
   each w in WEIGHTS and each bar, the cut is the highest (on a 0.0025 grid) at which the gold article of >= RECALL
   of the dev questions still matches its question; of those, the rule making fewest matches per dev question
   (geometric mean) is chosen: at equal gold recall, fewer matches mean fewer off-topic ones. w = 0 is the dense
   rule (mode=dense). Each question is asked as /search is evaluated (benchmarks/quality.py): as of its quiz day
   (`as_of`), near-duplicate copies collapsed (a gold article counts when its story matches), read as Coverage
   reads it by default: its names (that some article holds) must appear in the article. How well the choice holds
   on questions not seen is estimated within dev (held_out), so the test split is counted once, for the rule kept.
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
WEIGHTS = tuple(round(0.05 * i, 2) for i in range(11))  # 0 to 0.5
GRID = 0.0025
# The dev recall the rule is chosen at: above the 90% asked, for margin (a rule chosen where dev just passes 90% held
# 0.833 on test). At 95% the rule matched too loosely (judged precision 0.78); docs/coverage.md.
RECALL = 0.93
ASKED = 0.90  # the recall the issue asks for, shown beside RECALL's held-out estimate
BARS = {  # the relative bar: a share of the query's best score (ratio), or the best score less a gap (gap)
    "ratio": tuple(round(0.5 + 0.01 * i, 2) for i in range(46)),
    "gap": tuple(round(0.05 + GRID * i, 4) for i in range(141)),
}
HELD_OUT, HELD_OUT_REPEATS = 16, 200  # cross-validation within dev: choose on 60 questions, count on 16
SAMPLE, SEED = 50, 18
READ: dict[str, Any] = {}  # how queries are read: CoverageOptions' interpret, names, ignore (--interpret, --no-names)


@dataclass(frozen=True, slots=True)
class Scored:
    top: float  # the query's best score in the whole index
    gold: float  # the gold story's best score (as of the quiz day)
    stories: np.ndarray  # every story's best score as of the quiz day, best first


NEW_START = "Russia suspends New START"


@dataclass(frozen=True, slots=True)
class Rule:
    w: float  # the BM25 share's weight (0: dense)
    kind: str  # the relative bar: "ratio" or "gap" (BARS)
    value: float  # the share, or the gap
    cut: float  # the absolute cut


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


def bar(kind: str, value: float, top: np.ndarray) -> np.ndarray:
    """The relative bar of each question: a share of its best score (ratio) or its best score less a gap (gap)."""
    return value * top if kind == "ratio" else top - value


def sweep(
    per_question: list[Scored], kind: str, value: float, target: float
) -> tuple[float, float, float, float] | None:
    """The highest cut keeping recall >= target with this relative bar: (cut, recall, gmean and median matches per
    question); None if the relative bar alone drops too many gold articles."""
    top = np.array([q.top for q in per_question])
    gold = np.array([q.gold for q in per_question])
    need = math.ceil(target * len(gold) - 1e-9)
    relative = bar(kind, value, top)
    passing = np.sort(gold[gold >= relative])[::-1]
    if len(passing) < need:
        return None
    cut = round(math.floor(float(passing[need - 1]) / GRID) * GRID, 4)
    bars = np.maximum(cut, relative)
    matches = [int(np.searchsorted(-q.stories, -b, side="right")) for q, b in zip(per_question, bars, strict=True)]
    found = float((gold >= bars).mean())
    return cut, found, float(np.exp(np.mean(np.log(np.maximum(matches, 1))))), float(np.median(matches))


def choose(
    scores: dict[float, list[Scored]], target: float = RECALL, bars: dict[str, tuple[float, ...]] = BARS
) -> tuple[list[list[Any]], Rule]:
    """Per weight and kind of relative bar, the bar and cut making fewest matches at recall >= target: the table
    (fewest first), and the rule with fewest of all."""
    table = []
    for w, per_question in scores.items():
        for kind, values in bars.items():
            options = [(found, v) for v in values if (found := sweep(per_question, kind, v, target)) is not None]
            if options:
                (cut, found, gmean, median), v = min(options, key=lambda option: option[0][2])
                table.append([f"w={w:g}", kind, v, cut, round(found, 3), gmean, median])
    if not table:
        raise ValueError(f"no relative bar keeps gold recall >= {target:.0%}: widen BARS")
    table.sort(key=lambda row: row[5])
    w, kind, value, cut = table[0][:4]
    return table, Rule(float(w.removeprefix("w=")), kind, value, cut)


def held_out(scores: dict[float, list[Scored]], target: float, shape: Rule | None = None) -> float:
    """Mean gold recall on held-out questions when the rule is chosen at `target` on the rest: dev split
    HELD_OUT_REPEATS times at random into HELD_OUT questions and the others (cross-validation within dev). With
    `shape`, its w and kind of bar are kept and only the bar's value and the cut are chosen again."""
    if shape is not None:
        scores, bars = {shape.w: scores[shape.w]}, {shape.kind: BARS[shape.kind]}
    n = len(next(iter(scores.values())))
    rng, found = random.Random(SEED), []
    for _ in range(HELD_OUT_REPEATS):
        order = list(range(n))
        rng.shuffle(order)
        train, held = order[HELD_OUT:], order[:HELD_OUT]
        rule = choose({w: [qs[i] for i in train] for w, qs in scores.items()}, target, bars if shape else BARS)[1]
        held_qs = [scores[rule.w][i] for i in held]
        bars_held = np.maximum(rule.cut, bar(rule.kind, rule.value, np.array([q.top for q in held_qs])))
        found.append(float(np.mean([q.gold >= b for q, b in zip(held_qs, bars_held, strict=True)])))
    return float(np.mean(found))


def show_rule(scores: dict[float, list[Scored]], questions: int) -> tuple[list[list[Any]], Rule]:
    """Chooses the rule on dev and prints how: the sweep, the choice, its held-out recall against the 90% rule's."""
    table, rule = choose(scores)
    print(
        f"the rule on dev ({questions} questions; {SPLIT_RULE}): for each w and kind of relative bar, the highest cut "
        f"with gold recall >= {RECALL:.0%}; the bar with fewest matches per question (geometric mean); the fewest "
        "of all chosen (w=0: mode=dense)"
    )
    print(format_table(["w", "bar", "value", "cut", "dev recall", "matches (gmean)", "matches (median)"], table))
    dense = min((row for row in table if row[:2] == ["w=0", "gap"]), key=lambda row: row[5])
    print(
        f"chosen: w={rule.w:g}, {rule.kind} {rule.value:g}, cut {rule.cut:g} (dense, w=0 gap: {dense[2]:g}, cut "
        f"{dense[3]:g}); held-out recall within dev ({HELD_OUT_REPEATS} x {HELD_OUT} questions), w and bar kept, "
        f"value and cut chosen at {RECALL:.0%}: {held_out(scores, RECALL, rule):.3f}, at {ASKED:.0%}: "
        f"{held_out(scores, ASKED, rule):.3f}; all chosen again: {held_out(scores, RECALL):.3f} and "
        f"{held_out(scores, ASKED):.3f}"
    )
    return table, rule


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
        table, rule = show_rule(dev_scores(coverage, split["dev"]), len(split["dev"]))
        if args.chosen:
            if rule.kind != "gap":
                print("error: --chosen needs a gap rule (CoverageConfig holds a gap)", file=sys.stderr)
                return 2
            config = CoverageConfig(hybrid_cut=rule.cut, hybrid_gap=rule.value, lexical_weight=rule.w)
            coverage = Coverage(searcher.reader, searcher.encoder, config)
        print(
            f"CoverageConfig: w={config.lexical_weight:g}, hybrid_gap={config.hybrid_gap:g}, "
            f"hybrid_cut={config.hybrid_cut:g}, dense_gap={config.dense_gap:g}, dense_cut={config.dense_cut:g}"
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
        "chosen": {"w": rule.w, "kind": rule.kind, "value": rule.value, "cut": rule.cut},
        "config": {
            "w": config.lexical_weight,
            "hybrid_cut": config.hybrid_cut,
            "hybrid_gap": config.hybrid_gap,
            "dense_cut": config.dense_cut,
            "dense_gap": config.dense_gap,
        },
        "recall": recalls,
        "precision": {"topics": judged, "overall": overall, "stale": stale},
        "new_start_peak": peak.start.isoformat() if peak else None,
    }
    print(f"(wrote {write_json(report, args.out, 'coverage')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
