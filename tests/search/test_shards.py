"""Sharded search: N shards searched in parallel return exactly one index's dense top-k (ids and scores)."""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from index.articles import Article
from index.distributed import shard_of
from index.errors import ShardMismatch
from index.reader import IndexReader
from index.update import add_articles
from search.app import create_app
from search.searcher import Searcher, SearchOptions
from search.settings import Settings
from search.shards import ShardedReader, merge_top_k, shard_paths
from tests.fakes import Closes, FakeEncoder, OpenReader, fake_build, made_up_articles, write_jsonl

QUERIES = [
    "ferry crews strike over winter shifts",
    "harbour council budget vote",
    "glacier climbers rescue",
    "hospital nurses winter shift",
    "museum festival library archive volunteers",
]
SHARDS = 3


@pytest.fixture(scope="module")
def one_and_sharded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """One index over 40 made-up articles, and the same articles in 3 shards (routed as --shards routes them)."""
    work = tmp_path_factory.mktemp("shards")
    records = made_up_articles(40)
    for i, record in enumerate(records):  # a few sources, so a source filter has something to keep
        record["source"] = ["The Harbour Gazette", "Island Radio", "Valley Post"][i % 3]
    everything = write_jsonl(work / "all.jsonl", records)
    fake_build([everything], work / "one")
    parts = []
    for shard in range(SHARDS):
        part = write_jsonl(work / f"part-{shard}.jsonl", [r for r in records if shard_of(r["id"], SHARDS) == shard])
        fake_build([part], work / "sharded" / f"shard-{shard:02d}")
        parts.append(work / "sharded" / f"shard-{shard:02d}")
    return work / "one", parts


def searchers(one: Path, shards: list[Path], closes: Closes) -> tuple[Searcher, Searcher]:
    """A searcher over one index and one over its shards, both closed when the test ends."""
    encoder: Any = FakeEncoder()
    single = closes(Searcher(IndexReader(one), encoder))
    return single, closes(Searcher(ShardedReader.open(shards), encoder))


def ranked(searcher: Searcher, query: str, **kwargs: Any) -> list[tuple[str, float]]:
    return [(h.passage.passage_id, h.score) for h in searcher.search(query, SearchOptions(**kwargs)).hits]


def by_id(reader: Any, hits: list[tuple[int, float]]) -> list[tuple[str, float]]:
    """(passage id, score) of each hit: rows differ between one index and its shards, passage ids do not."""
    return [(p.passage_id, s) for p, (_, s) in zip(reader.fetch([r for r, _ in hits]), hits, strict=True)]


def assert_same_ranking(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    """The same scores, and the same passages at each score: passages with equal scores (copies of one text)
    come in row order, and rows differ between one index and its shards; a tie cut by k may keep others."""
    assert [s for _, s in got] == [s for _, s in expected]
    last = expected[-1][1] if expected else None
    for score in {s for _, s in expected} - {last}:
        assert {i for i, s in got if s == score} == {i for i, s in expected if s == score}, score


def test_every_shard_holds_some_articles_and_together_all_passages(
    one_and_sharded: tuple[Path, list[Path]], open_reader: OpenReader, closes: Closes
) -> None:
    one, shards = one_and_sharded
    readers = [open_reader(s) for s in shards]
    assert all(r.articles > 0 for r in readers)
    sharded = closes(ShardedReader(readers))
    assert sharded.passages == open_reader(one).passages
    assert sorted(p.passage_id for p in sharded.iter_passages()) == sorted(
        p.passage_id for p in open_reader(one).iter_passages()
    )


@pytest.mark.parametrize("k", [1, 5, 10, 100])
@pytest.mark.parametrize("group", ["passage", "article"])
def test_dense_top_k_over_shards_is_exactly_one_index_s(
    one_and_sharded: tuple[Path, list[Path]], k: int, group: str, closes: Closes
) -> None:
    single, sharded = searchers(*one_and_sharded, closes)
    for query in QUERIES:
        expected = ranked(single, query, k=k, mode="dense", group=group, recency=0)
        assert expected, query
        assert ranked(sharded, query, k=k, mode="dense", group=group, recency=0) == expected


@pytest.mark.parametrize(
    "filters",
    [
        {"start": datetime.date(2024, 3, 1), "end": datetime.date(2024, 5, 31)},
        {"sources": ["island radio"]},
        {"as_of": datetime.date(2024, 4, 15)},  # with the default recency boost
    ],
)
def test_filtered_and_recency_boosted_dense_searches_over_shards_match_one_index(
    one_and_sharded: tuple[Path, list[Path]], filters: dict[str, Any], closes: Closes
) -> None:
    single, sharded = searchers(*one_and_sharded, closes)
    for query in QUERIES:
        expected = ranked(single, query, k=10, mode="dense", **filters)
        assert expected, (query, filters)
        assert ranked(sharded, query, k=10, mode="dense", **filters) == expected


@pytest.mark.parametrize("k", [1, 10, 1000])
def test_bm25_over_shards_scores_every_passage_as_one_index_does(
    one_and_sharded: tuple[Path, list[Path]], open_reader: OpenReader, closes: Closes, k: int
) -> None:
    """IDF and average length pooled over the shards (dfs_query_then_fetch): one index's scores, its top k."""
    one, shards = one_and_sharded
    single = open_reader(one)
    sharded = closes(ShardedReader([open_reader(s) for s in shards]))
    for query in QUERIES:
        assert_same_ranking(
            by_id(sharded, sharded.search_lexical(query, k)), by_id(single, single.search_lexical(query, k))
        )


@pytest.mark.parametrize(
    "filters",
    [
        {"start": datetime.date(2024, 3, 1), "end": datetime.date(2024, 5, 31)},
        {"sources": ["island radio"]},
        {"as_of": datetime.date(2024, 4, 15)},
    ],
)
@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_lexical_and_hybrid_searches_over_shards_match_one_index(
    one_and_sharded: tuple[Path, list[Path]], filters: dict[str, Any], mode: str, closes: Closes
) -> None:
    """Every match a candidate (depth): these made-up articles repeat sentences, so BM25 ties abound, and a tie
    cut by the candidate depth keeps the first rows, which differ between one index and its shards."""
    single, sharded = searchers(*one_and_sharded, closes)
    for query in QUERIES:
        for group in ("passage", "article"):
            expected = ranked(single, query, k=10, mode=mode, group=group, depth=1000, **filters)
            assert_same_ranking(ranked(sharded, query, k=10, mode=mode, group=group, depth=1000, **filters), expected)


def test_a_filter_passing_few_rows_runs_inside_the_pooled_index_with_one_index_s_scores(
    one_and_sharded: tuple[Path, list[Path]], open_reader: OpenReader, closes: Closes
) -> None:
    one, shards = one_and_sharded
    single = open_reader(one)
    sharded = closes(ShardedReader([open_reader(s) for s in shards]))
    article = single.article_of(0)
    only = single.rows_of_article(article)
    only_sharded = sharded.rows_of_article(article)
    assert only_sharded.mean() < 0.03
    for query in QUERIES:
        expected = by_id(single, single.search_lexical(query, 10, only))
        assert_same_ranking(by_id(sharded, sharded.search_lexical(query, 10, only_sharded)), expected)


def test_shards_edited_into_several_lexical_segments_still_score_as_one_index_edited_alike(
    tmp_path: Path, open_reader: OpenReader, closes: Closes
) -> None:
    """Adds and deletes give each index more tantivy segments (and deletions still counted in its statistics, as
    tantivy counts them until a merge): the pooled segments keep their shard, and the scores stay one index's."""
    records = made_up_articles(40)
    first, later, gone = records[:30], records[30:], [r["id"] for r in records[:30:7]]
    fake_build([write_jsonl(tmp_path / "all.jsonl", first)], tmp_path / "one")
    add_articles(tmp_path / "one", [as_article(r) for r in later], FakeEncoder(), delete=gone)
    parts = []
    for shard in range(SHARDS):
        mine = [r for r in records if shard_of(r["id"], SHARDS) == shard]
        part = tmp_path / f"shard-{shard:02d}"
        fake_build([write_jsonl(tmp_path / f"{shard}.jsonl", [r for r in mine if r in first])], part)
        mine_gone = [i for i in gone if shard_of(i, SHARDS) == shard]
        add_articles(part, [as_article(r) for r in mine if r in later], FakeEncoder(), delete=mine_gone)
        parts.append(part)
    single, sharded = open_reader(tmp_path / "one"), closes(ShardedReader.open(parts))
    assert sharded.lexical is not None and sharded.lexical.count() == single.passages
    assert sharded._pooled is not None and sharded._pooled.index.searcher.num_segments == 2 * SHARDS
    for query in QUERIES:
        expected = by_id(single, single.search_lexical(query, 50))
        assert_same_ranking(by_id(sharded, sharded.search_lexical(query, 50)), expected)


def as_article(record: dict[str, Any]) -> Article:
    return Article(record["id"], record["title"], record["text"], record["date"], record["source"], record["url"])


def test_one_shard_answers_every_mode_exactly_as_its_index(
    one_and_sharded: tuple[Path, list[Path]], closes: Closes
) -> None:
    one, _ = one_and_sharded
    single, sharded = searchers(one, [one], closes)
    for mode in ("dense", "lexical", "hybrid"):
        for query in QUERIES:
            assert ranked(sharded, query, k=10, mode=mode) == ranked(single, query, k=10, mode=mode)


def test_a_folder_of_shard_folders_opens_in_shard_order(
    one_and_sharded: tuple[Path, list[Path]], open_reader: OpenReader, closes: Closes
) -> None:
    _, shards = one_and_sharded
    assert shard_paths(shards[0].parent) == shards
    assert [str(r.generation) for r in closes(ShardedReader.open([shards[0].parent])).shards] == [
        str(open_reader(s).generation) for s in shards
    ]


def test_shards_built_with_different_models_are_refused(tmp_path: Path) -> None:
    records = made_up_articles(4)
    a = write_jsonl(tmp_path / "a.jsonl", records[:2])
    b = write_jsonl(tmp_path / "b.jsonl", records[2:])
    fake_build([a], tmp_path / "a")
    fake_build([b], tmp_path / "b", FakeEncoder(fingerprint="another-model"))
    with pytest.raises(ShardMismatch, match="another model"):
        ShardedReader.open([tmp_path / "a", tmp_path / "b"])


def test_the_service_serves_shards_as_one_index(
    one_and_sharded: tuple[Path, list[Path]], closes: Closes, open_reader: OpenReader
) -> None:
    one, shards = one_and_sharded
    single, sharded = searchers(one, shards, closes)
    with TestClient(create_app(Settings(index=shards[0].parent), searcher=sharded)) as client:
        health = client.get("/healthz").json()
        body = client.get("/search", params={"q": QUERIES[0], "k": 5, "mode": "dense", "recency": 0}).json()
    assert health["passages"] == open_reader(one).passages
    expected = ranked(single, QUERIES[0], k=5, mode="dense", recency=0)
    rounded = [(p, round(s, 6)) for p, s in expected]  # the JSON carries 6 digits
    assert [(h["passage_id"], h["score"]) for h in body["hits"]] == rounded


@given(
    st.lists(st.floats(-1, 1, allow_nan=False), min_size=0, max_size=60),
    st.integers(1, 5),
    st.integers(1, 20),
)
def test_merging_each_part_s_top_k_gives_the_top_k_of_the_whole(scores: list[float], parts: int, k: int) -> None:
    rows = np.arange(len(scores))
    whole = sorted(zip(rows.tolist(), scores, strict=True), key=lambda h: (-h[1], h[0]))[:k]
    lists = []
    for part in range(parts):
        mine = [(int(r), s) for r, s in zip(rows, scores, strict=True) if r % parts == part]
        lists.append(sorted(mine, key=lambda h: (-h[1], h[0]))[:k])
    assert merge_top_k(lists, k) == whole


def test_the_replica_factory_serves_a_folder_of_shards_as_one_index(
    one_and_sharded: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch, closes: Closes
) -> None:
    """`uvicorn --factory search.replicas:app_from_env --workers N`: each worker builds this app from the env."""
    import search.searcher
    from search.replicas import app_from_env

    one, shards = one_and_sharded
    monkeypatch.setattr(search.searcher, "Encoder", lambda *args, **kwargs: FakeEncoder())
    app = app_from_env({"DATELINE_INDEX": str(shards[0].parent)})
    with TestClient(app) as client:
        body = client.get("/search", params={"q": QUERIES[1], "k": 3, "mode": "dense", "recency": 0}).json()
    single, _ = searchers(one, shards, closes)
    expected = ranked(single, QUERIES[1], k=3, mode="dense", recency=0)
    assert [(h["passage_id"], h["score"]) for h in body["hits"]] == [(p, round(s, 6)) for p, s in expected]


@pytest.fixture
def own_shards(tmp_path: Path) -> Path:
    """A folder of 2 fake-built shards this test may change (the module's shards stay as built)."""
    records = made_up_articles(12)
    for shard in range(2):
        mine = [r for r in records if shard_of(r["id"], 2) == shard]
        fake_build([write_jsonl(tmp_path / f"part-{shard}.jsonl", mine)], tmp_path / "sharded" / f"shard-{shard:02d}")
    return tmp_path / "sharded"


def test_a_sharded_service_s_reload_watcher_stays_healthy_and_picks_up_a_changed_shard(
    own_shards: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watcher follows each shard's `current`: no reload error while nothing moves, a swap when one does."""
    import search.searcher
    from index.articles import Article
    from index.update import add_articles
    from search.replicas import app_for

    monkeypatch.setattr(search.searcher, "Encoder", lambda *args, **kwargs: FakeEncoder())
    with TestClient(app_for(Settings(index=own_shards, reload_seconds=0.02))) as client:
        time.sleep(0.2)  # ten ticks of the watcher
        health = client.get("/healthz").json()
        assert health["reload_error"] is None and health["reloads"] == 0, health
        text = "Pangolins were seen crossing the harbour road at dawn, the ranger said."
        pangolin = Article("pangolin", "Pangolins cross", text, "2024-03-01")
        add_articles(own_shards / "shard-01", [pangolin], FakeEncoder())
        deadline = time.monotonic() + 10
        while client.get("/healthz").json()["reloads"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        health = client.get("/healthz").json()
        assert health["reload_error"] is None and health["reloads"] == 1, health
        body = client.get("/search", params={"q": "pangolins", "mode": "lexical", "recency": 0}).json()
        assert [h["article_id"] for h in body["hits"]][:1] == ["pangolin"]


class _CountingReranker:
    """Scores a passage by how many query words it holds (a stand-in for a cross-encoder)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        words = set(query.lower().split())
        return [sum(w in words for w in text.lower().split()) - 10.0 for text in texts]


def test_a_sharded_searcher_opened_with_a_rerank_model_reranks(
    one_and_sharded: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """DATELINE_RERANK_MODEL serves rerank=true over shards as over one index (it was dropped: a 400)."""
    import search.searcher
    from search.replicas import app_for

    _one, shards = one_and_sharded
    monkeypatch.setattr(search.searcher, "Encoder", lambda *args, **kwargs: FakeEncoder())
    monkeypatch.setattr(search.searcher, "Reranker", _CountingReranker)
    settings = Settings(index=shards[0].parent, rerank_model="a-cross-encoder", reload_seconds=0)
    with TestClient(app_for(settings)) as client:
        r = client.get("/search", params={"q": QUERIES[0], "k": 5, "rerank": "true", "recency": 0})
    assert r.status_code == 200, r.text
    scores = [h["score"] for h in r.json()["hits"]]
    assert scores and all(s == int(s) <= 0 for s in scores) and scores == sorted(scores, reverse=True)  # its scores


def test_a_sharded_service_answers_an_article_s_metadata(
    one_and_sharded: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch, open_reader: OpenReader
) -> None:
    """GET /articles/{id} over shards answers as over one index: the article's metadata, or 404."""
    import search.searcher
    from search.replicas import app_for

    one, shards = one_and_sharded
    monkeypatch.setattr(search.searcher, "Encoder", lambda *args, **kwargs: FakeEncoder())
    with TestClient(app_for(Settings(index=shards[0].parent, reload_seconds=0))) as client:
        found = client.get("/articles/ferry-strike")
        missing = client.get("/articles/no-such-article")
    assert found.status_code == 200, found.text
    assert found.json() == open_reader(one).article("ferry-strike")
    assert missing.status_code == 404


def test_shards_answer_coverage_s_per_row_questions_as_one_index(
    one_and_sharded: tuple[Path, list[Path]], closes: Closes
) -> None:
    """Each row's source, the rows holding a word and every row's cosine: the same articles as one index."""
    single, sharded = searchers(*one_and_sharded, closes)
    one, many = single.reader, sharded.reader
    rows = range(many.passages)
    by_article = {p.article_id: p.source for p in one.iter_passages()}
    assert many.sources_of(rows) == [by_article[many.article_of(r)] for r in rows]
    for word in ("ferry", "winter", "nowhere"):
        assert sorted(many.article_of(r) for r in many.rows_holding(word)) == sorted(
            one.article_of(r) for r in one.rows_holding(word)
        )
    vector = FakeEncoder().queries([QUERIES[0]])[0]
    both = [r.every_score(vector) for r in (one, many)]
    assert both[0] is not None and both[1] is not None
    scores = [
        sorted((r.article_of(row), round(float(s[row]), 5)) for row in range(r.passages))
        for r, s in zip((one, many), both, strict=True)
    ]
    assert scores[0] == scores[1]
    runs = [r.article_runs() for r in (one, many)]
    assert runs[0] is not None and runs[1] is not None
    lengths = [
        sorted((r.article_of(int(start)), round(float(norm), 4)) for start, norm in zip(*found, strict=True))
        for r, found in zip((one, many), runs, strict=True)
    ]
    assert lengths[0] == lengths[1]  # each article's run and vector sum, wherever its shard puts it
