"""The judged-query benchmark's logic on made-up data, and the committed query set's own consistency."""

from __future__ import annotations

import datetime
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks.data import DataError, read_qrels
from benchmarks.queries import (
    QRELS,
    QUERIES,
    Config,
    Query,
    judged_share,
    ndcg,
    parse_query,
    read_judged,
    reworded,
    rows_by_group,
    split_by_hash,
    unjudged,
)

D = datetime.date


def _q(qid: str, split: str = "dev", names: bool = False, time: str = "none", **extra: Any) -> Query:
    period = (D(2023, 2, 1), D(2023, 2, 28)) if time != "none" else None
    as_of = D(2023, 3, 6) if time == "relative" else None
    return Query(qid, extra.get("query", f"query {qid}"), split, names, time, period, as_of)


def test_graded_ndcg_is_one_for_the_ideal_order_and_counts_unjudged_articles_as_zero() -> None:
    grades = {"a": 2, "b": 1, "c": 0}
    assert ndcg(["a", "b", "c"], grades) == 1.0
    assert ndcg(["x", "a", "b"], grades) == pytest.approx((2 / math.log2(3) + 1 / 2) / (2 + 1 / math.log2(3)))
    assert ndcg(["b", "a"], grades) < 1.0  # the grade-1 article first costs
    assert ndcg(["a"], {"a": 0}) == 0.0  # nothing relevant judged: 0, not a division by zero


def test_the_judged_share_counts_judged_zeros_and_not_unjudged_articles() -> None:
    assert judged_share(["a", "x", "c", "y"], {"a": 2, "c": 0}) == 0.5
    assert judged_share([], {"a": 2}) is None


def test_rows_group_queries_by_split_and_category() -> None:
    queries = [
        _q("n", names=True),
        _q("t", split="test", time="absolute"),
        _q("r", names=True, time="relative"),
        _q("o"),
        _q("o2", split="test"),
    ]
    scores = {"n": (1.0, 1.0), "t": (0.5, 1.0), "r": (0.0, 0.5), "o": (0.2, 1.0), "o2": (0.4, 0.9)}
    rows = {(split, group): (n, score, judged) for split, group, n, score, judged in rows_by_group(queries, scores)}
    assert rows[("dev", "all")] == (3, 0.4, 0.8333)
    assert rows[("dev", "names-or-time")] == (2, 0.5, 0.75)
    assert rows[("dev", "others")] == (1, 0.2, 1.0)
    assert rows[("test", "time:absolute")] == (1, 0.5, 1.0)
    assert rows[("all", "names")] == (2, 0.5, 0.75)
    assert rows[("test", "time:relative")] == (0, None, None)


def test_a_record_is_checked_for_its_period_and_as_of_day() -> None:
    good = {"id": "j1", "query": "q", "split": "dev", "names": False, "time": "relative", "as_of": "2023-03-06",
            "period": {"text": "last week", "from": "2023-02-27", "to": "2023-03-05"}}  # fmt: skip
    assert parse_query(good, "f:1").period == (D(2023, 2, 27), D(2023, 3, 5))
    with pytest.raises(DataError, match="as_of"):
        parse_query({**good, "as_of": None}, "f:1")
    with pytest.raises(DataError, match="period"):
        parse_query({**good, "time": "none"}, "f:1")
    with pytest.raises(DataError, match="after"):
        parse_query({**good, "period": {"from": "2023-03-05", "to": "2023-02-27"}}, "f:1")
    with pytest.raises(DataError, match="YYYY-MM-DD"):
        parse_query({**good, "as_of": "last Monday"}, "f:1")
    with pytest.raises(DataError, match="split"):
        parse_query({**good, "split": "train"}, "f:1")


def test_the_split_rule_alternates_within_each_stratum_and_depends_on_text_alone() -> None:
    texts = [(f"query {i}", "a" if i % 3 else "b") for i in range(12)]
    split = split_by_hash(texts)
    for stratum in ("a", "b"):
        chosen = [split[t] for t, s in texts if s == stratum]
        assert abs(chosen.count("dev") - chosen.count("test")) <= 1
    assert split_by_hash(list(reversed(texts))) == split


def test_the_period_filter_sets_from_to_without_recency_and_a_query_without_period_runs_unfiltered() -> None:
    timed, plain = _q("t", time="relative"), _q("p")
    options = Config.parse("hybrid-period").options(timed, 20, {"fusion": "rrf"})
    assert (options.start, options.end, options.recency, options.as_of) == (
        D(2023, 2, 1),
        D(2023, 2, 28),
        0.0,
        D(2023, 3, 6),
    )
    assert options.fusion == "rrf" and options.k == 20
    unfiltered = Config.parse("hybrid-period").options(plain, 10, {})
    assert (unfiltered.start, unfiltered.end, unfiltered.recency) == (None, None, None)
    with pytest.raises(ValueError, match="unknown mode"):
        Config.parse("hybrid-minmax")


def _hit(doc: str) -> SimpleNamespace:
    passage = SimpleNamespace(article_id=doc, date="2023-02-21", source="s", title=f"t {doc}", text="p")
    return SimpleNamespace(passage=passage)


def test_unjudged_lists_each_article_once_in_id_order_and_skips_judged_ones() -> None:
    ranked = {"lexical": ["c", "a", "b"], "dense": ["b", "d", "a"]}
    searcher = SimpleNamespace(search=lambda q, o: SimpleNamespace(hits=[_hit(d) for d in ranked[o.mode]]))
    found = unjudged(searcher, [_q("q1")], {"q1": {"a": 2}}, [Config("lexical"), Config("dense")], 10, {})  # type: ignore[arg-type]
    assert [r["doc_id"] for r in found] == ["b", "c", "d"]
    assert {r["qid"] for r in found} == {"q1"}


def test_the_committed_set_is_consistent(tmp_path: Path) -> None:
    queries = read_judged(QUERIES)
    qrels = read_qrels(QRELS)
    assert len(queries) >= 48
    assert {q.id for q in queries} == set(qrels), "every query is judged, and only those"
    recorded = {q.query: q.split for q in queries}
    strata = [(q.query, f"{q.names}/{q.time}") for q in queries]
    assert split_by_hash(strata) == recorded, "the recorded split is the split rule's"
    assert all(any(g > 0 for g in qrels[q.id].values()) for q in queries), "every query has a relevant article"
    assert all(g in (0, 1, 2) for judged in qrels.values() for g in judged.values())


def test_a_rewording_replaces_the_text_of_the_queries_it_names(tmp_path: Path) -> None:
    path = tmp_path / "rewrites.tsv"
    path.write_text("q1\tRussia suspends New START\n\n", encoding="utf-8")
    got = reworded([_q("q1", query="New START suspension"), _q("q2", query="gas stove ban")], path)
    assert [q.query for q in got] == ["Russia suspends New START", "gas stove ban"]
    path.write_text("q1 without a tab\n", encoding="utf-8")
    with pytest.raises(DataError, match="qid<TAB>text"):
        reworded([_q("q1")], path)
