"""The coverage benchmark's choice of the matching rule on dev: the cut, the bar's shape and the held-out recall."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import coverage_rule as rule
from benchmarks.coverage_rule import Rule, Scored, Shape


def _question(top: float, gold: float, others: list[float], whole: float = 0.5, ctop: float = 0.5) -> Scored:
    s = np.array(sorted([gold, *others], reverse=True))
    c = np.array([whole if x == gold else 0.0 for x in s])  # only the gold article is whole-article close
    return Scored(top, ctop, (gold, whole), s, c)


def test_the_cut_is_the_highest_keeping_the_recall_asked() -> None:
    questions = [_question(0.8, g, [0.3, 0.2]) for g in (0.7, 0.6, 0.5, 0.4)]
    cut, found, gmean, median = rule.sweep(questions, Shape(1.0, 1.0), 0.75)  # a gap of 1: the cut alone decides
    assert cut == 0.5 and found == 0.75 and gmean == pytest.approx(1.0) and median == 1.0
    assert rule.sweep(questions, Shape(1.0, 1.0), 1.0)[0] == 0.4


def test_a_gold_article_far_below_the_best_passes_only_through_the_band_when_whole_close() -> None:
    far = _question(0.8, 0.55, [0.6, 0.58])  # 0.25 below the best; its article as a whole is the best article
    assert rule.sweep([far], Shape(0.2, 0.2), 1.0) is None
    cut, found, gmean, _ = rule.sweep([far], Shape(0.2, 0.3, 0.05), 1.0)
    assert (cut, found, gmean) == (0.55, 1.0, 1.0)  # the band admits the gold article and not the two beside it
    not_whole = _question(0.8, 0.55, [], whole=0.2)
    assert rule.sweep([not_whole], Shape(0.2, 0.3, 0.05), 1.0) is None


def test_the_rules_are_listed_fewest_matches_first_and_held_out_recall_counts_questions_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    near = [_question(0.8, 0.75, [0.78, 0.3, 0.2, 0.1]) for _ in range(20)]
    crowded = [_question(0.8, 0.75, [0.78, 0.77, 0.76, 0.74]) for _ in range(20)]
    table = rule.choose({0.0: near, 0.5: crowded}, 1.0, (Shape(0.05, 0.05), Shape(0.5, 0.5)))
    assert rule.rule_of(table[0]) == Rule(0.0, Shape(0.05, 0.05), 0.75)
    assert rule.shortlist(table, 0.5, 1) == [Rule(0.5, Shape(0.05, 0.05), 0.75)]
    assert rule.held_out(near, 1.0, (Shape(0.05, 0.05),), 3, 5, 1) == 1.0
    far = [*near[:15], *[_question(0.8, 0.55, [], whole=0.1) for _ in range(5)]]  # 5 gold articles far below
    # a split whose training questions hold few of them chooses the tight gap and misses them when held out
    assert rule.held_out(far, 0.75, (Shape(0.05, 0.05), Shape(0.3, 0.3)), 20, 5, 1) < 1.0
    with pytest.raises(ValueError, match="no rule keeps gold recall >= 100%"):
        rule.choose({0.0: far}, 1.0, (Shape(0.05, 0.05),))
