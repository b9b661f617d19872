"""The coverage benchmark's choice of the matching rule on dev: the cut, the relative bar and the held-out recall."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks import coverage as bench
from benchmarks.coverage import Rule, Scored


def _question(top: float, gold: float, others: list[float]) -> Scored:
    return Scored(top, gold, np.array(sorted([gold, *others], reverse=True)))


def test_the_cut_is_the_highest_keeping_the_recall_asked() -> None:
    questions = [_question(0.8, g, [0.3, 0.2]) for g in (0.7, 0.6, 0.5, 0.4)]
    cut, found, gmean, median = bench.sweep(questions, "gap", 1.0, 0.75)  # a gap of 1: the cut alone decides
    assert cut == 0.5 and found == 0.75 and gmean == pytest.approx(1.0) and median == 1.0
    assert bench.sweep(questions, "gap", 1.0, 1.0)[0] == 0.4


def test_a_gap_bar_is_the_best_score_less_the_gap_and_a_ratio_a_share_of_it() -> None:
    top = np.array([0.8, 0.5])
    assert bench.bar("gap", 0.2, top) == pytest.approx([0.6, 0.3])
    assert bench.bar("ratio", 0.5, top) == pytest.approx([0.4, 0.25])
    # the gold at 0.55 is 0.25 below its question's best: a gap of 0.2 drops it, whatever the cut
    assert bench.sweep([_question(0.8, 0.55, [])], "gap", 0.2, 1.0) is None


def test_the_rule_chosen_makes_fewest_matches_and_held_out_recall_is_counted_on_questions_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    near = [_question(0.8, 0.75, [0.78, 0.3, 0.2, 0.1]) for _ in range(20)]
    scores = {0.0: near, 0.5: [_question(0.8, 0.75, [0.78, 0.77, 0.76, 0.74]) for _ in range(20)]}
    table, rule = bench.choose(scores, 1.0, {"gap": (0.05, 0.5)})
    assert rule == Rule(0.0, "gap", 0.05, 0.75) and table[0][:4] == ["w=0", "gap", 0.05, 0.75]
    monkeypatch.setattr(bench, "HELD_OUT", 5)
    monkeypatch.setattr(bench, "HELD_OUT_REPEATS", 3)
    assert bench.held_out(scores, 1.0, rule) == 1.0
    far = [*near[:15], *[_question(0.8, 0.55, []) for _ in range(5)]]  # 5 gold articles far below their best
    assert bench.held_out({0.0: far}, 0.75, Rule(0.0, "gap", 0.05, 0.0)) < 1.0
    with pytest.raises(ValueError, match="no relative bar keeps gold recall >= 100%"):
        bench.choose({0.0: far}, 1.0, {"gap": (0.05,)})
