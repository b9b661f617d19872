"""The head-to-head benchmark's scoring: runs from any system are collapsed and scored alike."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks.data import EVIDENCE, QUESTIONS, AnswerSpans
from benchmarks.rivals.common import run_questions, write_run
from benchmarks.versus import collapse, paired, read_run, score_run

ARTICLE_OF = {"0": "a", "1": "a", "2": "b", "3": "c"}
SPANS_OF = {"0": (0, 100), "1": (80, 200), "2": (0, 100), "3": (0, 100)}


def test_passages_collapse_to_articles_by_their_best_passage() -> None:
    assert collapse(["1", "2", "0", "3"], ARTICLE_OF) == [("a", "1"), ("b", "2"), ("c", "3")]
    assert collapse(["x", "y", "x"], {}) == [("x", "x"), ("y", "y")]  # article runs: the docid is the article


def test_a_passage_run_scores_on_articles_and_on_the_passage_shown() -> None:
    qrels = {QUESTIONS: {"q1": {"a"}, "q2": {"c"}}, EVIDENCE: {"e-q1": {"b"}}}
    ranked = {"q1": ["1", "0", "2"], "q2": ["2", "3"], "e-q1": ["2"]}
    answers = [
        AnswerSpans("q1", "a", "x", ((10, 20),)),  # in passage 0, but article a shows passage 1: not answered
        AnswerSpans("q2", "c", "y", ((10, 20),)),  # article c shows passage 3, which holds it: answered
    ]
    got = score_run(ranked, "passage", ARTICLE_OF, SPANS_OF, qrels, answers)
    q = got["sets"][QUESTIONS]
    assert q["queries"] == 2
    assert q["ndcg@10"] == pytest.approx((1.0 + 1 / 1.5849625) / 2, abs=1e-4)  # a at 1; c at 2 (b first)
    assert q["mrr@10"] == pytest.approx(0.75)
    assert got["sets"][EVIDENCE]["ndcg@10"] == 1.0
    assert got["answer@10"] == 0.5


def test_an_article_run_has_no_passage_to_show() -> None:
    got = score_run({"q1": ["b", "a"]}, "article", {}, {}, {QUESTIONS: {"q1": {"a"}}}, [])
    assert got["sets"][QUESTIONS]["recall@10"] == 1.0
    assert got["answer@10"] is None


def test_a_written_run_reads_back_in_order_with_its_timings(tmp_path: Path) -> None:
    ranked, took = run_questions(lambda i, q: [(f"d{i}", 2.0), ("z", 1.0)], [("q1", "one"), ("q2", "two")])
    write_run(tmp_path / "x.run", "x", ranked, {"system": "s", "unit": "passage"}, took)
    back, meta = read_run(tmp_path / "x.run")
    assert back == {"q1": ["d0", "z"], "q2": ["d1", "z"]}
    assert meta["tag"] == "x" and meta["unit"] == "passage" and len(meta["query_ms"]) == 2


def test_a_paired_difference_comes_with_its_standard_error() -> None:
    assert paired({"q1": 1.0, "q2": 0.0, "q3": 0.5}, {"q1": 0.0, "q2": 0.0, "q3": 0.5, "q4": 1.0}) == (
        pytest.approx(1 / 3),
        pytest.approx(math.sqrt(1 / 3) / math.sqrt(3)),
    )  # q4 is not shared: it does not count
