"""Near-duplicate groups, collapse, highlights, pagination, sort=date and the article filter, on made-up news."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import dedup
from index.reader import IndexReader
from search import highlight as hl
from search.searcher import Searcher, SearchOptions
from tests.fakes import FakeEncoder, fake_index, made_up_articles, made_up_text

# --- dedup (pure) ---------------------------------------------------------------------------------------------


def test_signature_is_stable_and_estimates_jaccard() -> None:
    a = made_up_text(1, sentences=40)
    words = a.split()
    b = " ".join([*words[:-15], "Reporting", "by", "the", "wire", "desk", "with", "additional", "staff", "work"])
    c = made_up_text(2, sentences=40)
    sa, sb, sc = dedup.signature(a), dedup.signature(b), dedup.signature(c)
    assert np.array_equal(sa, dedup.signature(a))
    exact = len(dedup.shingles(a) & dedup.shingles(b)) / len(dedup.shingles(a) | dedup.shingles(b))
    assert abs(dedup.similarity(sa, sb) - exact) < 0.12  # 128 permutations: standard error ~0.04
    assert dedup.similarity(sa, sc) < 0.2


def test_short_texts_are_never_grouped() -> None:
    brief = "Ferry crossings stop until Thursday, the harbour master said."
    assert not dedup.is_comparable(dedup.signature(brief))
    assert dedup.groups([dedup.signature(brief), dedup.signature(brief)]) == []


def test_groups_join_copies_transitively_and_leave_others_alone() -> None:
    base = made_up_text(7, sentences=40)
    copy1 = base + " Copyright the wire service."
    copy2 = "Updated at noon. " + base
    other = made_up_text(8, sentences=40)
    sigs = [dedup.signature(t) for t in (other, base, copy1, copy2, made_up_text(9, sentences=40))]
    assert dedup.groups(sigs) == [[1, 2, 3]]


# --- an index with wire copies ----------------------------------------------------------------------------------


def wire_copies() -> list[dict[str, Any]]:
    """Made-up articles plus the ferry story re-printed by two other outlets (new ids, headlines and sign-offs)."""
    records = made_up_articles(30)
    story = records[5]
    for n, outlet in enumerate(("The Island Courier", "Valley Post"), start=1):
        records.append(
            {
                **story,
                "id": f"{story['id']}-copy{n}",
                "title": f"{story['title']} ({outlet})",
                "text": story["text"] + f"\n\nThis story first ran in The Harbour Gazette; republished by {outlet}.",
                "source": outlet,
                "url": f"https://{outlet.lower().replace(' ', '-')}.example/{story['id']}",
            }
        )
    return records


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_index(tmp_path_factory.mktemp("newsroom"), wire_copies())


@pytest.fixture(scope="module")
def searcher(index: Path) -> Searcher:
    return Searcher(IndexReader(index), FakeEncoder())


def test_build_finds_the_wire_copies(index: Path) -> None:
    reader = IndexReader(index)
    assert reader.manifest.near_duplicates.groups == 1
    assert reader.manifest.near_duplicates.articles == 3
    group = reader.duplicate_group("story-004")
    assert group is not None and group == reader.duplicate_group("story-004-copy1") == reader.duplicate_group(
        "story-004-copy2"
    )
    assert reader.duplicate_group("story-005") is None
    assert {a.article_id for a in reader.near_duplicates("story-004-copy1")} == {"story-004", "story-004-copy2"}


def query_for(story: dict[str, Any]) -> str:
    return " ".join(story["text"].split()[:12])


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_collapse_shows_one_copy_with_the_others_as_similar(searcher: Searcher, mode: str) -> None:
    q = query_for(made_up_articles(30)[5])
    # Every story asked for (30: 32 articles, one story printed thrice), so the copies are on the page.
    collapsed = searcher.search(q, SearchOptions(k=30, mode=mode, recency=0))  # type: ignore[arg-type]
    stories = [searcher.reader.duplicate_group(h.passage.article_id) or h.passage.article_id for h in collapsed.hits]
    assert len(stories) == len(set(stories)) == 30 and not collapsed.has_more
    copies = [h for h in collapsed.hits if h.passage.article_id.startswith("story-004")]
    assert len(copies) == 1 and len(copies[0].similar) == 2
    shown = copies[0].passage.article_id
    assert {a.article_id for a in copies[0].similar} == {"story-004", "story-004-copy1", "story-004-copy2"} - {shown}
    apart = searcher.search(q, SearchOptions(k=32, mode=mode, recency=0, collapse=False))  # type: ignore[arg-type]
    assert sum(h.passage.article_id.startswith("story-004") for h in apart.hits) == 3
    assert all(h.similar == [] for h in apart.hits)


def test_pages_are_disjoint_and_continue_the_ranking(searcher: Searcher) -> None:
    q = "harbour ferry budget storm"
    whole = searcher.search(q, SearchOptions(k=12, recency=0))
    pages = [searcher.search(q, SearchOptions(k=4, offset=o, recency=0)) for o in (0, 4, 8)]
    assert [h.rank for p in pages for h in p.hits] == list(range(1, 13))
    assert [h.passage.article_id for p in pages for h in p.hits] == [h.passage.article_id for h in whole.hits]
    assert pages[0].has_more and pages[1].has_more
    last = searcher.search(q, SearchOptions(k=10, offset=25, recency=0))
    assert len(last.hits) < 10 and not last.has_more  # 32 articles, 30 stories


def test_sort_by_date_is_newest_first(searcher: Searcher) -> None:
    result = searcher.search("harbour council story", SearchOptions(k=10, sort="date", recency=0))
    dates = [h.passage.date for h in result.hits]
    assert dates == sorted(dates, reverse=True) and len(dates) == 10


def test_article_filter_returns_only_that_articles_passages(searcher: Searcher) -> None:
    result = searcher.search("harbour ferry", SearchOptions(k=20, group="passage", article="story-020", recency=0))
    assert result.hits and {h.passage.article_id for h in result.hits} == {"story-020"}
    assert len(result.hits) == IndexReader(searcher.reader.generation.parent.parent).rows_of_article("story-020").sum()


# --- highlights -------------------------------------------------------------------------------------------------


def test_highlight_marks_stemmed_words_and_ranks_sentences() -> None:
    text = "The ferries stopped. Strikes by ferry crews closed the harbour on Monday. Nothing else happened."
    stems = hl.query_stems("Why did the ferry crews strike?", lambda _: 1, 100)
    marks = hl.highlight(text, stems)
    assert [text[a:b] for a, b in marks.terms] == ["ferries", "Strikes", "ferry", "crews"]
    best = marks.sentences[0]
    assert text[best.start : best.end] == "Strikes by ferry crews closed the harbour on Monday."
    assert best.score == pytest.approx(3 / 5)  # ferry, crew, strike of why/did/ferry/crew/strike (equal IDF)
    assert all(text[s.start : s.end] != "Nothing else happened." for s in marks.sentences)


def test_rare_words_weigh_more() -> None:
    df = {"ferri": 50, "strike": 2}
    stems = hl.query_stems("ferry strike", lambda s: df.get(s, 0), 100)
    marks = hl.highlight("A ferry sailed. A strike began.", stems)
    assert marks.sentences[0].start == 16


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), query=st.text(min_size=1, max_size=40))
def test_highlight_spans_are_inside_the_text(text: str, query: str) -> None:
    marks = hl.highlight(text, hl.query_stems(query, lambda _: 1, 10))
    for a, b in marks.terms:
        assert 0 <= a < b <= len(text) and re.fullmatch(r"[^\W_]+", text[a:b])
    for s in marks.sentences:
        assert 0 <= s.start < s.end <= len(text) and 0 < s.score <= 1


def test_search_hits_carry_highlights(searcher: Searcher) -> None:
    result = searcher.search("ferry crews strike winter", SearchOptions(k=3, mode="lexical", recency=0))
    top = result.hits[0]
    assert top.passage.article_id == "ferry-strike" and top.highlights is not None
    words = {top.passage.text[a:b].lower() for a, b in top.highlights.terms}
    # Made-up news repeats 60 words: all but "crews" are in over a tenth of the passages, so only it is marked.
    assert words == {"crews"}
    assert "highlight" in result.timings_ms
    assert searcher.search("ferry", SearchOptions(k=3, highlight=False, recency=0)).hits[0].highlights is None


# --- over HTTP --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(index: Path):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from search.app import create_app
    from search.settings import Settings

    with TestClient(create_app(Settings(index=index), searcher=Searcher(IndexReader(index), FakeEncoder()))) as c:
        yield c


def test_json_hits_carry_highlights_similar_articles_and_paging(client) -> None:  # type: ignore[no-untyped-def]
    q = query_for(made_up_articles(30)[5])
    body = client.get("/search", params={"q": q, "k": 30, "recency": 0}).json()
    assert body["offset"] == 0 and body["has_more"] is False and body["sort"] == "relevance"
    copy = next(h for h in body["hits"] if h["article_id"].startswith("story-004"))
    assert len(copy["similar"]) == 2 and {"article_id", "title", "date", "source", "url"} <= set(copy["similar"][0])
    stems = set(hl.query_stems(q, lambda _: 1, 1))
    marked = [hit["text"][a:b] for hit in body["hits"] for a, b in hit["highlights"]["terms"]]
    assert marked and set(hl._stemmer().stemWords([w.lower() for w in marked])) <= stems
    page2 = client.get("/search", params={"q": q, "k": 5, "offset": 5, "recency": 0}).json()
    assert [h["rank"] for h in page2["hits"]] == [6, 7, 8, 9, 10] and page2["has_more"] is True
    assert client.get("/search", params={"q": q, "offset": 5000}).status_code == 422
    assert client.get("/search", params={"q": q, "sort": "oldest"}).status_code == 422


def test_sources_lists_outlets_by_size(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/sources").json() == [
        {"source": "The Harbour Gazette", "articles": 30},
        {"source": "The Island Courier", "articles": 1},
        {"source": "Valley Post", "articles": 1},
    ]


def test_metrics_count_requests_and_stages(client) -> None:  # type: ignore[no-untyped-def]
    client.get("/search", params={"q": "ferry strike"})
    client.get("/search", params={"q": ""})
    client.get("/no-such-page")
    text = client.get("/metrics").text
    assert re.search(r'dateline_http_requests_total\{endpoint="/search",method="GET",status="200"\} [1-9]', text)
    assert re.search(r'dateline_http_requests_total\{endpoint="/search",method="GET",status="422"\} [1-9]', text)
    assert 'endpoint="(unmatched)",method="GET",status="404"' in text
    assert re.search(r'dateline_http_request_duration_seconds_bucket\{endpoint="/search",le="\+Inf"\} [1-9]', text)
    for stage in ("embed", "vector", "lexical", "fuse", "fetch", "highlight"):
        assert re.search(rf'dateline_search_stage_duration_seconds_count\{{stage="{stage}"\}} [1-9]', text), stage


def test_common_words_count_but_are_not_marked() -> None:
    df = {"did": 40, "ferri": 2, "strike": 3}
    stems = hl.query_stems("did the ferry strike", lambda s: df.get(s, 0), 100)
    marked = hl.marked_stems(stems, 100)
    assert marked == {"ferri", "strike"}
    text = "What did they say? The ferry strike did end."
    marks = hl.highlight(text, stems, marked=marked)
    assert [text[a:b] for a, b in marks.terms] == ["ferry", "strike"]
    assert text[marks.sentences[0].start : marks.sentences[0].end] == "The ferry strike did end."
    assert hl.marked_stems({"did": 0.1}, 100) == {"did"}  # nothing rarer: the common word is marked


def test_a_date_range_turns_the_default_recency_off() -> None:
    from search.options import TUNED, SearchOptions
    from search.schemas import SearchRequest

    def recency(request: dict[str, Any]) -> float:
        asked = SearchOptions.from_request(SearchRequest.model_validate(request)).recency
        return TUNED.recency if asked is None else asked  # None: the searcher's tuned recency

    assert recency({"q": "ferry"}) > 0
    assert recency({"q": "ferry", "from": "2024-01-01"}) == 0
    assert recency({"q": "ferry", "to": "2024-01-01", "recency": 1.5}) == 1.5


def test_hits_sharing_no_word_get_sentences_ranked_by_meaning(searcher: Searcher) -> None:
    result = searcher.search("zebra quantum saxophone", SearchOptions(k=3, mode="dense", recency=0))
    ranked = [h.highlights.sentences for h in result.hits if h.highlights is not None]
    assert len(ranked) == 3 and all(h.highlights.terms == [] for h in result.hits)  # type: ignore[union-attr]
    assert ranked[0], "the best hit's sentences are ranked by meaning"
    for sentences in ranked:  # hits past the budget of embedded sentences have none marked
        assert len(sentences) <= hl.MAX_SENTENCES and all(-1 <= s.score <= 1 for s in sentences)
        assert [s.score for s in sentences] == sorted((s.score for s in sentences), reverse=True)
    considered = sum(len(hl.sentence_spans(h.passage.text)) for h in result.hits)
    assert sum(map(len, ranked)) <= min(considered, searcher.config.fallback_sentences)


def test_adds_and_deletes_keep_the_near_duplicate_groups(tmp_path: Path) -> None:
    from index.articles import Article
    from index.update import add_articles, delete_articles

    records = made_up_articles(12)
    fake_index(tmp_path, records)
    assert IndexReader(tmp_path / "index").manifest.near_duplicates.groups == 0
    story = records[3]
    copy = Article("wire-copy", story["title"], story["text"] + "\n\nDistributed by the wire.", "2024-03-01", "Wire")
    add_articles(tmp_path / "index", [copy], FakeEncoder(), cache_path=None)
    reader = IndexReader(tmp_path / "index")
    assert (reader.manifest.near_duplicates.groups, reader.manifest.near_duplicates.articles) == (1, 2)
    assert reader.duplicate_group("wire-copy") == reader.duplicate_group(story["id"]) is not None
    hits = Searcher(reader, FakeEncoder()).search(story["title"], SearchOptions(k=12, mode="lexical", recency=0)).hits
    assert sum(h.passage.article_id in ("wire-copy", story["id"]) for h in hits) == 1
    delete_articles(tmp_path / "index", [story["id"]])
    reader = IndexReader(tmp_path / "index")
    assert reader.manifest.near_duplicates.groups == 0 and reader.duplicate_group("wire-copy") is None
