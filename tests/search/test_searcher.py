"""Searcher: fused, grouped, reranked, paged and collapsed hits keep ranks 1..n, best first, each hit once."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

import pytest

from index.build import build_index
from index.errors import NoLexicalIndex
from index.reader import IndexReader
from search import highlight as hl
from search.searcher import TUNED, Searcher, SearchOptions
from tests.fakes import FakeEncoder, OpenReader, fake_split_settings, made_up_articles, query_for, write_jsonl


class FakeReranker:
    """Scores a passage by how many query words it holds, minus ten: negative scores, like cross-encoder logits."""

    def __init__(self) -> None:
        self.pairs = 0

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        self.pairs += len(texts)
        words = set(query.lower().split())
        return [sum(w in words for w in text.lower().split()) - 10.0 for text in texts]


@pytest.fixture(scope="module")
def big_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """More articles than the reranker's depth, so a long result list has a tail it did not rescore."""
    work = tmp_path_factory.mktemp("big")
    path = write_jsonl(work / "many.jsonl", made_up_articles(TUNED.rerank_depth + 20))
    build_index([path], work / "index", FakeEncoder(), fake_split_settings(), progress=False)
    return work / "index"


@pytest.fixture(scope="module")
def searcher(big_index: Path) -> Iterator[Searcher]:
    with closing(Searcher(IndexReader(big_index), FakeEncoder(), FakeReranker())) as searcher:
        yield searcher


def assert_ranked(scores: list[float], ranks: list[int]) -> None:
    assert ranks == list(range(1, len(ranks) + 1))
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("fusion", ["rrf", "minmax", "zscore"])
@pytest.mark.parametrize("group", ["article", "passage"])
def test_every_fusion_and_grouping_gives_ranked_unique_hits(searcher: Searcher, fusion: str, group: str) -> None:
    result = searcher.search("harbour ferry budget storm", SearchOptions(k=30, fusion=fusion, group=group))  # type: ignore[arg-type]
    assert len(result.hits) == 30
    assert_ranked([h.score for h in result.hits], [h.rank for h in result.hits])
    key = (lambda h: h.passage.article_id) if group == "article" else (lambda h: h.passage.passage_id)
    assert len({key(h) for h in result.hits}) == len(result.hits)


def test_hybrid_hits_carry_the_scores_of_the_lists_they_came_from(searcher: Searcher) -> None:
    result = searcher.search("ferry crews walked out", SearchOptions(k=10, mode="hybrid", group="passage"))
    assert all(h.dense_score is not None or h.lexical_score is not None for h in result.hits)
    top = result.hits[0]
    assert top.passage.article_id == "ferry-strike" and top.lexical_score is not None


@pytest.mark.parametrize("k", [5, TUNED.rerank_depth, TUNED.rerank_depth + 15])
def test_reranked_hits_are_ranked_by_the_rerankers_scores_all_the_way_down(searcher: Searcher, k: int) -> None:
    result = searcher.search("ferry harbour storm budget council", SearchOptions(k=k, rerank=True))
    assert len(result.hits) == k
    assert_ranked([h.score for h in result.hits], [h.rank for h in result.hits])
    assert "rerank" in result.timings_ms


@pytest.mark.parametrize(
    ("recency", "as_of", "weight"),
    [
        (0.0, datetime.date(2024, 9, 18), TUNED.no_recency_dense_weight),  # no prior
        (2.0, datetime.date(2024, 9, 18), TUNED.dense_weight),  # the newest articles that day, the oldest Jan
        (2.0, datetime.date(2024, 11, 30), TUNED.no_recency_dense_weight),  # the newest ten weeks old: too weak
        (2.0, datetime.date(2035, 1, 1), TUNED.no_recency_dense_weight),  # every article ten years old: no prior left
    ],
)
def test_the_default_fusion_weight_follows_the_recency_prior(
    searcher: Searcher, recency: float, as_of: datetime.date, weight: float
) -> None:
    def scores(dense_weight: float | None = None) -> list[tuple[str, float]]:
        options = SearchOptions(k=20, group="passage", recency=recency, as_of=as_of, dense_weight=dense_weight)
        hits = searcher.search("ferry harbour storm budget", options).hits
        return [(h.passage.passage_id, round(h.score, 9)) for h in hits]

    assert scores() == scores(dense_weight=weight)
    other = TUNED.no_recency_dense_weight if weight == TUNED.dense_weight else TUNED.dense_weight
    assert scores() != scores(dense_weight=other)  # the weight is in effect, not ignored


def test_an_index_without_a_lexical_part_serves_dense_search_and_refuses_the_rest(
    big_index: Path, open_reader: OpenReader
) -> None:
    reader = open_reader(big_index)
    reader.lexical = None  # as an index built before lexical indexes were added
    searcher = Searcher(reader, FakeEncoder())
    assert searcher.search("ferry", SearchOptions(k=3, mode="dense")).hits
    with pytest.raises(NoLexicalIndex, match="mode=dense"):
        searcher.search("ferry", SearchOptions(k=3, mode="hybrid"))


def test_hybrid_article_hits_show_a_passage_of_their_own_article(searcher: Searcher) -> None:
    result = searcher.search("ferry council storm budget", SearchOptions(k=10, mode="hybrid", group="article"))
    ids = [h.passage.article_id for h in result.hits]
    assert len(ids) == len(set(ids))
    for hit in result.hits:
        assert hit.passage.passage_id.startswith(hit.passage.article_id + "#")


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_collapse_shows_one_copy_with_the_others_as_similar(wire_searcher: Searcher, mode: str) -> None:
    q = query_for(made_up_articles(30)[5])
    # Every story asked for (30: 32 articles, one story printed thrice), so the copies are on the page.
    collapsed = wire_searcher.search(q, SearchOptions(k=30, mode=mode, recency=0))  # type: ignore[arg-type]
    group = wire_searcher.reader.duplicate_group
    stories = [group(h.passage.article_id) or h.passage.article_id for h in collapsed.hits]
    assert len(stories) == len(set(stories)) == 30 and not collapsed.has_more
    copies = [h for h in collapsed.hits if h.passage.article_id.startswith("story-004")]
    assert len(copies) == 1 and len(copies[0].similar) == 2
    shown = copies[0].passage.article_id
    assert {a.article_id for a in copies[0].similar} == {"story-004", "story-004-copy1", "story-004-copy2"} - {shown}
    apart = wire_searcher.search(q, SearchOptions(k=32, mode=mode, recency=0, collapse=False))  # type: ignore[arg-type]
    assert sum(h.passage.article_id.startswith("story-004") for h in apart.hits) == 3
    assert all(h.similar == [] for h in apart.hits)


def test_pages_are_disjoint_and_continue_the_ranking(wire_searcher: Searcher) -> None:
    q = "harbour ferry budget storm"
    whole = wire_searcher.search(q, SearchOptions(k=12, recency=0))
    pages = [wire_searcher.search(q, SearchOptions(k=4, offset=o, recency=0)) for o in (0, 4, 8)]
    assert [h.rank for p in pages for h in p.hits] == list(range(1, 13))
    assert [h.passage.article_id for p in pages for h in p.hits] == [h.passage.article_id for h in whole.hits]
    assert pages[0].has_more and pages[1].has_more
    last = wire_searcher.search(q, SearchOptions(k=10, offset=25, recency=0))
    assert len(last.hits) < 10 and not last.has_more  # 32 articles, 30 stories


def test_sort_by_date_is_newest_first(wire_searcher: Searcher) -> None:
    result = wire_searcher.search("harbour council story", SearchOptions(k=10, sort="date", recency=0))
    dates = [h.passage.date for h in result.hits]
    assert dates == sorted(dates, reverse=True) and len(dates) == 10


def test_article_filter_returns_only_that_articles_passages(wire_searcher: Searcher, open_reader: OpenReader) -> None:
    result = wire_searcher.search("harbour ferry", SearchOptions(k=20, group="passage", article="story-020", recency=0))
    assert result.hits and {h.passage.article_id for h in result.hits} == {"story-020"}
    reader = open_reader(wire_searcher.reader.generation.parent.parent)
    assert len(result.hits) == reader.rows_of_article("story-020").sum()


def test_search_hits_carry_highlights(wire_searcher: Searcher) -> None:
    result = wire_searcher.search("ferry crews strike winter", SearchOptions(k=3, mode="lexical", recency=0))
    top = result.hits[0]
    assert top.passage.article_id == "ferry-strike" and top.highlights is not None
    words = {top.passage.text[a:b].lower() for a, b in top.highlights.terms}
    # Made-up news repeats 60 words: all but "crews" are in over a tenth of the passages, so only it is marked.
    assert words == {"crews"}
    assert "highlight" in result.timings_ms
    assert wire_searcher.search("ferry", SearchOptions(k=3, highlight=False, recency=0)).hits[0].highlights is None


def test_hits_sharing_no_word_get_sentences_ranked_by_meaning(wire_searcher: Searcher) -> None:
    result = wire_searcher.search("zebra quantum saxophone", SearchOptions(k=3, mode="dense", recency=0))
    ranked = [h.highlights.sentences for h in result.hits if h.highlights is not None]
    assert len(ranked) == 3 and all(h.highlights.terms == [] for h in result.hits)  # type: ignore[union-attr]
    assert ranked[0], "the best hit's sentences are ranked by meaning"
    for sentences in ranked:  # hits past the budget of embedded sentences have none marked
        assert len(sentences) <= hl.MAX_SENTENCES and all(-1 <= s.score <= 1 for s in sentences)
        assert [s.score for s in sentences] == sorted((s.score for s in sentences), reverse=True)
    considered = sum(len(hl.sentence_spans(h.passage.text)) for h in result.hits)
    assert sum(map(len, ranked)) <= min(considered, wire_searcher.config.fallback_sentences)
