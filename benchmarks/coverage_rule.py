"""Choosing coverage's matching rule on dev questions: the bar's shapes, the cut keeping gold recall, held-out recall.

Pure functions over each question's scores (benchmarks/coverage.py computes them from an index). A rule passes an
article when its best passage's score s is at least the cut and within `near` of the query's best score in the
index, or within `wide` of it when the article as a whole (the normalised sum of its passages' vectors) has a
cosine c to the query within `about` of the best article's (search/coverage.py, `Bar`). A gap-only rule has
wide = near.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

GRID = 0.0025  # the cut's steps
GAPS = tuple(round(0.10 + GRID * i, 4) for i in range(61))  # gap-only rules: 0.10 to 0.25
NEARS = tuple(round(0.10 + 0.01 * i, 2) for i in range(11))  # the near gap of a rule with a band: 0.10 to 0.20
WIDES = tuple(round(0.16 + 0.02 * i, 2) for i in range(8))  # its wide gap: 0.16 to 0.30
ABOUTS = tuple(round(0.05 * i, 2) for i in range(1, 9))  # how close the article as a whole must be: 0.05 to 0.40
WIDEST = max(*GAPS, *WIDES)  # no rule passes a story further below the best: the rest need not be kept


@dataclass(frozen=True, slots=True)
class Shape:
    near: float
    wide: float  # = near: no band
    about: float = 0.0


SHAPES = (
    *(Shape(g, g) for g in GAPS),
    *(Shape(n, w, a) for n in NEARS for w in WIDES if w > n for a in ABOUTS),
)


@dataclass(frozen=True, slots=True)
class Scored:
    """One question: its best score and best article cosine in the whole index, the gold story's (s, c), and
    every story within WIDEST of the best as of the quiz day (s, best first, and its best article's c)."""

    top: float
    ctop: float
    gold: tuple[float, float]
    s: np.ndarray
    c: np.ndarray


@dataclass(frozen=True, slots=True)
class Rule:
    w: float  # the BM25 share's weight (0: dense)
    shape: Shape
    cut: float


def passes(q: Scored, shape: Shape, s: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Whether each (s, c) passes the shape's relative bar (the cut aside)."""
    near = s >= q.top - shape.near
    if shape.wide <= shape.near:
        return near
    return near | ((s >= q.top - shape.wide) & (c >= q.ctop - shape.about))


def gold_passes(q: Scored, shape: Shape) -> bool:
    return bool(passes(q, shape, np.array([q.gold[0]]), np.array([q.gold[1]]))[0])


def sweep(questions: list[Scored], shape: Shape, target: float) -> tuple[float, float, float, float] | None:
    """The highest cut keeping gold recall >= target with this shape: (cut, recall, gmean and median matches per
    question); None if the relative bar alone drops too many gold articles."""
    need = math.ceil(target * len(questions) - 1e-9)
    passing = sorted((q.gold[0] for q in questions if gold_passes(q, shape)), reverse=True)
    if len(passing) < need:
        return None
    cut = round(math.floor(passing[need - 1] / GRID) * GRID, 4)
    matches = [int(np.count_nonzero(passes(q, shape, q.s, q.c) & (q.s >= cut))) for q in questions]
    found = sum(q.gold[0] >= cut and gold_passes(q, shape) for q in questions) / len(questions)
    return cut, found, float(np.exp(np.mean(np.log(np.maximum(matches, 1))))), float(np.median(matches))


def choose(scores: dict[float, list[Scored]], target: float, shapes: tuple[Shape, ...] = SHAPES) -> list[list]:
    """Every (w, shape) that keeps gold recall >= target, with its cut and matches per question: rows
    [w, near, wide, about, cut, recall, gmean, median], fewest matches (geometric mean) first."""
    table = []
    for w, questions in scores.items():
        for shape in shapes:
            found = sweep(questions, shape, target)
            if found is not None:
                table.append([w, shape.near, shape.wide, shape.about, *found])
    if not table:
        raise ValueError(f"no rule keeps gold recall >= {target:.0%}: widen the shapes")
    table.sort(key=lambda row: row[6])
    return table


def rule_of(row: list) -> Rule:
    return Rule(row[0], Shape(row[1], row[2], row[3]), row[4])


def shortlist(table: list[list], w: float, size: int) -> list[Rule]:
    """The `size` rules of weight w making fewest matches per dev question."""
    return [rule_of(row) for row in table if row[0] == w][:size]


def held_out(
    scores: list[Scored], target: float, shapes: tuple[Shape, ...], repeats: int, held: int, seed: int
) -> float:
    """Mean gold recall on `held` questions left out when the rule (of these shapes, fewest matches) is chosen at
    `target` on the others; `repeats` random splits (cross-validation within dev)."""
    rng, found = random.Random(seed), []
    for _ in range(repeats):
        order = list(range(len(scores)))
        rng.shuffle(order)
        train, kept = [scores[i] for i in order[held:]], [scores[i] for i in order[:held]]
        rule = rule_of(choose({0.0: train}, target, shapes)[0])
        found.append(float(np.mean([q.gold[0] >= rule.cut and gold_passes(q, rule.shape) for q in kept])))
    return float(np.mean(found))
