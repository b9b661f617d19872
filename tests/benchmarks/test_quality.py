"""The quality benchmark's answer-span score: a question is answered by any of its gold articles."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from benchmarks.data import write_json
from benchmarks.quality import Ranking, Variant, score_answer_spans


def _data(tmp_path: Path) -> Path:
    (tmp_path / "question2article.queries.tsv").write_text("qid\tquery\nq1\twhich country?\nq2\twho won?\n")
    records = [
        {"qid": "q1", "doc_id": "a", "answer": "Sri Lanka", "spans": [[10, 19]]},
        {"qid": "q1", "doc_id": "b", "answer": "Sri Lanka", "spans": [[500, 509]]},
        {"qid": "q2", "doc_id": "c", "answer": "Colorado", "spans": [[0, 8]]},
    ]
    (tmp_path / "answer_spans.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return tmp_path


def _searcher(indexed: set[str]) -> SimpleNamespace:
    return SimpleNamespace(reader=SimpleNamespace(has_article=lambda doc: doc in indexed))


def _score(tmp_path: Path, rankings: dict[str, Ranking]) -> dict[str, object]:
    return score_answer_spans(
        _searcher({"a", "b", "c"}), _data(tmp_path), "all", False, Variant.parse("hybrid-minmax"), rankings
    )


def test_a_question_with_two_gold_articles_counts_once_and_either_answers_it(tmp_path: Path) -> None:
    # q1's first gold article shows its answer; its second gold article is not on the page. The order of the
    # records must not matter (it once did: the second record overwrote the first).
    rankings = {
        "q1": Ranking(["a", "x"], [("a", 0, 100), ("x", 0, 100)], ["a", "x"]),
        "q2": Ranking(["c"], [("c", 50, 150)], ["c"]),  # gold article shown, but not its answer-bearing passage
    }
    got = _score(tmp_path, rankings)
    assert got["queries"] == 2
    assert got["per_query"] == {"q1": True, "q2": False}
    assert got["answer@10"] == 0.5


def test_a_question_is_missed_when_no_gold_article_shows_a_span(tmp_path: Path) -> None:
    rankings = {
        "q1": Ranking(["b"], [("b", 0, 400)], ["b"]),  # b's span is at 500-509: not in the shown passage
        "q2": Ranking(["c"], [("c", 0, 120)], ["c"]),
    }
    got = _score(tmp_path, rankings)
    assert got["per_query"] == {"q1": False, "q2": True}


def test_whole_articles_are_rebuilt_from_overlapping_passages_without_repeating_the_overlap() -> None:
    from benchmarks.lexical_engines import articles

    text = "Moscow suspends New START. The treaty caps warheads. Washington responds."
    windows = [(0, 0, 52), (1, 27, 73)]  # (n, start, end): the second repeats "The treaty caps warheads."
    passages = [
        SimpleNamespace(row=10 + n, article_id="a", n=n, start=s, end=e, title="New START", text=text[s:e])
        for n, s, e in reversed(windows)  # out of order on purpose
    ]
    passages.append(SimpleNamespace(row=5, article_id="b", n=0, start=0, end=4, title="", text="Solo"))
    assert articles(passages) == [(10, "New START", text), (5, "", "Solo")]


def test_each_variant_asks_as_of_the_quiz_day_of_no_day_or_of_the_newest_article() -> None:
    import datetime

    import numpy as np

    from benchmarks.data import newest_day
    from index.rows import EPOCH, NO_DAY

    asked: list[tuple[object, float]] = []
    newest = datetime.date(2026, 3, 1)
    days = np.array([NO_DAY, (newest - EPOCH).days, (newest - EPOCH).days - 400], dtype=np.int32)
    searcher = SimpleNamespace(
        reader=SimpleNamespace(row_days=days),
        search=lambda query, options: asked.append((options.as_of, options.recency)),
    )
    later = newest_day(searcher.reader)
    for name in ("hybrid-minmax", "hybrid-minmax-undated", "hybrid-minmax-later", "lexical-later"):
        Variant.parse(name, later).search(searcher, "20220617_0", "who won?", 10)  # type: ignore[arg-type]
    assert asked == [(datetime.date(2022, 6, 17), 2.0), (None, 0.0), (newest, 2.0), (newest, 2.0)]
    assert Variant.parse("hybrid-rerank-later").rerank


def test_a_report_given_a_folder_is_written_inside_it_and_given_a_file_is_written_there(tmp_path: Path) -> None:
    inside = write_json({"a": 1}, tmp_path, "quality")
    assert (
        inside.parent == tmp_path and inside.name.startswith("quality-") and json.loads(inside.read_text()) == {"a": 1}
    )
    named = write_json({"b": 2}, tmp_path / "new" / "report.json", "quality")
    assert named == tmp_path / "new" / "report.json" and json.loads(named.read_text()) == {"b": 2}
