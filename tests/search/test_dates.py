"""Date and source filters and `as_of`: filtered searches still fill k, nothing outside the filter leaks in."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from index.reader import LEXICAL_WITHIN_SHARE, IndexReader
from search.app import create_app
from search.searcher import Searcher, SearchOptions
from search.settings import Settings
from tests.fakes import FakeEncoder, fake_index, made_up_articles

D = datetime.date


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("dated")
    records = made_up_articles(60)
    for i, record in enumerate(records[1:8]):  # a small second outlet and a third
        record["source"] = "Island Post" if i < 4 else "Wire Service"
    records.append({"id": "undated", "title": "Harbour ferries without a date", "text": "Ferries, budgets, storms."})
    return fake_index(work, records, "a.jsonl")


@pytest.fixture(scope="module")
def searcher(index: Path) -> Iterator[Searcher]:
    with closing(Searcher(IndexReader(index), FakeEncoder())) as searcher:
        yield searcher


def dates_of(result: object) -> list[str | None]:
    return [h.passage.date for h in result.hits]  # type: ignore[attr-defined]


def test_row_days_follow_the_article_dates_and_mark_undated_rows(searcher: Searcher) -> None:
    reader = searcher.reader
    mask = reader.rows_dated(D(2024, 3, 1), D(2024, 3, 31))
    rows = np.flatnonzero(mask)
    assert 0 < len(rows) < reader.passages
    for p in reader.fetch([int(r) for r in rows]):
        assert p.date is not None and "2024-03-01" <= p.date <= "2024-03-31"
    undated = [p.row for p in reader.iter_passages() if p.date is None]
    assert undated and not reader.rows_dated().take(undated).any()  # undated rows never pass a date filter


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_a_selective_filter_still_returns_k_hits_when_k_exist(searcher: Searcher, mode: str) -> None:
    start, end = D(2024, 2, 1), D(2024, 2, 28)
    in_range = {
        p.article_id for p in searcher.reader.iter_passages() if p.date and "2024-02-01" <= p.date <= "2024-02-28"
    }
    assert 3 <= len(in_range) < 15  # selective: a few articles of sixty
    k = len(in_range)
    result = searcher.search("harbour", SearchOptions(k=k, mode=mode, start=start, end=end, depth=5))
    assert {h.passage.article_id for h in result.hits} == in_range  # all k, though depth 5 alone would miss some


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_as_of_leaves_out_everything_dated_later(searcher: Searcher, mode: str) -> None:
    result = searcher.search("harbour ferries", SearchOptions(k=20, mode=mode, as_of=D(2024, 4, 15)))
    assert result.hits
    assert all(d is not None and d <= "2024-04-15" for d in dates_of(result))


def test_the_api_takes_from_to_and_as_of_and_refuses_them_reversed(index: Path) -> None:
    app = create_app(Settings(index=index), searcher=Searcher(IndexReader(index), FakeEncoder()))
    with TestClient(app) as client:
        ok = client.get("/search", params={"q": "harbour ferries", "k": 20, "from": "2024-05-01", "to": "2024-06-30"})
        assert ok.status_code == 200
        dates = [h["date"] for h in ok.json()["hits"]]
        assert dates and all("2024-05-01" <= d <= "2024-06-30" for d in dates)
        posted = client.post("/search", json={"q": "harbour", "as_of": "2024-02-01", "recency": 0})
        assert posted.status_code == 200 and all(h["date"] <= "2024-02-01" for h in posted.json()["hits"])
        reversed_ = client.get("/search", params={"q": "harbour", "from": "2024-06-30", "to": "2024-05-01"})
        assert reversed_.status_code == 422 and "swap" in reversed_.text
        assert client.get("/search", params={"q": "harbour", "to": "last tuesday"}).status_code == 422
        assert client.get("/search", params={"q": "harbour", "recency": -1}).status_code == 422


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_a_small_source_still_returns_k_hits_and_nothing_else(searcher: Searcher, mode: str) -> None:
    island = {p.article_id for p in searcher.reader.iter_passages() if p.source == "Island Post"}
    assert len(island) == 4
    result = searcher.search(
        "harbour", SearchOptions(k=4, mode=mode, sources=["island post"], depth=5)
    )  # names are case-folded
    assert {h.passage.article_id for h in result.hits} == island
    both = searcher.search(
        "harbour", SearchOptions(k=20, mode=mode, sources=["Island Post", "Wire Service"], start=D(2024, 1, 1))
    )
    assert both.hits and {h.passage.source for h in both.hits} <= {"Island Post", "Wire Service"}
    assert searcher.search("harbour", SearchOptions(k=5, mode=mode, sources=["Nobody's Gazette"])).hits == []


def test_the_api_takes_repeated_sources(index: Path) -> None:
    app = create_app(Settings(index=index), searcher=Searcher(IndexReader(index), FakeEncoder()))
    with TestClient(app) as client:
        got = client.get(
            "/search", params=[("q", "harbour"), ("k", "20"), ("source", "Island Post"), ("source", "Wire Service")]
        )
        assert got.status_code == 200, got.text
        assert {h["source"] for h in got.json()["hits"]} == {"Island Post", "Wire Service"}
        posted = client.post("/search", json={"q": "harbour", "source": ["Wire Service"]})
        assert posted.status_code == 200 and {h["source"] for h in posted.json()["hits"]} == {"Wire Service"}


@pytest.mark.parametrize("seed", range(6))
def test_a_filter_applied_inside_the_lexical_index_ranks_as_widening_does(searcher: Searcher, seed: int) -> None:
    reader = searcher.reader
    assert reader.lexical is not None and reader.lexical.row_terms
    rng = np.random.default_rng(seed)
    mask = rng.random(len(reader.row_days)) < [0.0, 0.002, 0.01, 0.05, 0.3, 1.0][seed]
    for query in ("harbour", "ferry strike council", "storms budgets", "nothing-matches-this"):
        inside = reader.lexical.search_within(query, 10, np.flatnonzero(mask).tolist())
        widened = reader.search_lexical_widened(query, 10, mask)
        assert [row for row, _ in inside] == [row for row, _ in widened]
        assert [s for _, s in inside] == pytest.approx([s for _, s in widened])
        assert all(mask[row] for row, _ in inside)


def test_a_selective_filter_is_applied_inside_the_lexical_index_and_a_broad_one_by_widening(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = searcher.reader
    assert reader.lexical is not None
    calls: list[str] = []
    inside, widened = reader.lexical.search_within, reader.search_lexical_widened
    monkeypatch.setattr(reader.lexical, "search_within", lambda *a: calls.append("inside") or inside(*a))
    monkeypatch.setattr(reader, "search_lexical_widened", lambda *a: calls.append("widened") or widened(*a))
    few = np.zeros(len(reader.row_days), dtype=bool)
    few[:3] = True
    assert few.mean() < LEXICAL_WITHIN_SHARE < (~few).mean()
    reader.search_lexical("harbour", 10, few)
    reader.search_lexical("harbour", 10, ~few)
    reader.search_lexical("harbour", 10)
    assert list(dict.fromkeys(calls)) == ["inside", "widened"]  # a search asked again past a tie counts once
