"""Pseudo-relevance feedback: the stems the first pass's best hits share, and when a search reads them."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from index.build import build_index
from index.reader import IndexReader
from search.feedback import applies, feedback_terms, short
from search.options import TUNED
from search.searcher import Searcher, SearchOptions
from tests.fakes import FakeEncoder, fake_split_settings, made_up_articles, write_jsonl

TEXTS = [
    "Putin suspends the nuclear arms treaty, New START, in 2023.",
    "Russia's suspension of the nuclear treaty worries Washington.",
    "The treaty's suspension leaves nuclear arsenals without limits; the ferry ran late.",
]


def test_the_stems_the_hits_share_weigh_most_and_the_query_s_own_and_common_ones_are_left_out() -> None:
    common = {"the": 90, "nuclear": 5, "treati": 5}
    terms = dict(feedback_terms(TEXTS, "New START suspension", lambda s: common.get(s, 3), 100, terms=4))
    assert list(terms)[:2] == ["nuclear", "treati"]  # in every text
    assert max(terms.values()) == 1.0 and all(0 < w <= 1 for w in terms.values())
    assert not {"new", "start", "suspens", "the", "2023"} & set(terms)  # the query's own, stopwords, numbers


def test_stems_in_more_than_the_share_of_passages_or_in_one_passage_only_are_left_out() -> None:
    df = {"nuclear": 50, "treati": 1}
    terms = dict(feedback_terms(TEXTS, "New START", lambda s: df.get(s, 3), 100, terms=10))
    assert "nuclear" not in terms and "treati" not in terms
    assert feedback_terms([], "anything", lambda s: 3, 100, terms=10) == []


@pytest.mark.parametrize(
    ("query", "mode", "expected"),
    [
        ("New START suspension", "hybrid", True),
        ("New START suspension", "lexical", False),  # every hit holds a query word
        ("New START suspension", "dense", False),  # no BM25 query to expand
        ("Which company said this week that it would cut 10,000 jobs?", "hybrid", False),  # a question: 11 words
    ],
)
def test_feedback_reads_hybrid_keyword_queries(query: str, mode: str, expected: bool) -> None:
    assert applies(query, mode, TUNED) is expected  # type: ignore[arg-type]
    assert short("one two three four five six seven eight", TUNED)
    off = dataclasses.replace(TUNED, feedback_weight=0.0, feedback_dense=0.0)
    assert not applies("New START suspension", "hybrid", off)


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    work = tmp_path_factory.mktemp("feedback")
    path = write_jsonl(work / "a.jsonl", made_up_articles(30))
    build_index([path], work / "index", FakeEncoder(), fake_split_settings(), progress=False)
    searcher = Searcher(IndexReader(work / "index"), FakeEncoder())
    yield searcher
    searcher.close()


def test_a_keyword_search_runs_again_with_the_feedback_and_a_question_does_not(searcher: Searcher) -> None:
    keywords = searcher.search("harbour ferry strike", SearchOptions(k=5))
    assert "feedback" in keywords.timings_ms and [h.rank for h in keywords.hits] == [1, 2, 3, 4, 5]
    question = "which harbour ferry crews walked out on strike over pay this week in the city?"
    assert "feedback" not in searcher.search(question, SearchOptions(k=5)).timings_ms
    assert "feedback" not in searcher.search("harbour ferry strike", SearchOptions(k=5, interpret=False)).timings_ms
