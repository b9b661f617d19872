"""IndexReader: an index reads back what was built, searches exactly, and refuses a missing or tampered index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.articles import Article, read_articles
from index.errors import IndexCorrupt, IndexMissing
from index.generations import CURRENT, LEXICAL, MANIFEST, STORE, VECTORS
from index.reader import IndexReader
from index.split import split_article
from tests.fakes import FakeEncoder, OpenReader, fake_split_settings, made_up_articles, unit_queries, write_jsonl
from tests.fakes import fake_build as build


def test_an_index_reads_back_every_article_and_passage_it_was_built_from(
    built_index: Path, articles_file: Path, open_reader: OpenReader
) -> None:
    reader = open_reader(built_index)
    articles = [r for r in read_articles([articles_file]) if isinstance(r, Article)]
    expected = [p for a in articles for p in split_article(a, FakeEncoder().count_tokens, fake_split_settings())]
    stored = list(reader.iter_passages())
    assert (reader.articles, reader.passages) == (len(articles), len(expected))
    assert [s.row for s in stored] == list(range(len(expected)))
    assert [(s.passage_id, s.article_id, s.n, s.start, s.end, s.text) for s in stored] == [
        (p.passage_id, p.article_id, p.n, p.start, p.end, p.text) for p in expected
    ]
    by_id = {a.article_id: a for a in articles}
    for s in stored:
        a = by_id[s.article_id]
        assert (s.title, s.date, s.source, s.url) == (a.title, a.date, a.source, a.url)
        assert a.text[s.start : s.end] == s.text


def test_flat_search_returns_exactly_the_numpy_brute_force_top_k(built_index: Path, open_reader: OpenReader) -> None:
    reader = open_reader(built_index)
    matrix = reader.vectors(range(reader.passages))
    queries = unit_queries(8, matrix.shape[1])
    k = 7
    for query, hits in zip(queries, reader.search(queries, k), strict=True):
        scores = matrix @ query
        best = np.argsort(-scores, kind="stable")[:k]
        assert [row for row, _ in hits] == best.tolist()
        np.testing.assert_allclose([score for _, score in hits], scores[best], atol=1e-5)


def test_search_scores_are_best_first(built_index: Path, open_reader: OpenReader) -> None:
    reader = open_reader(built_index)
    [hits] = reader.search(unit_queries(1, reader.manifest.dim, seed=3), 20)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("extra", [1, 50, 1000])
def test_asking_for_more_hits_than_passages_returns_each_passage_once_and_no_padding_rows(
    built_index: Path, extra: int, open_reader: OpenReader
) -> None:
    reader = open_reader(built_index)
    [hits] = reader.search(unit_queries(1, reader.manifest.dim), reader.passages + extra)
    rows = [row for row, _ in hits]
    assert sorted(rows) == list(range(reader.passages))


def test_fetch_returns_passages_in_the_order_asked_and_skips_unknown_rows(
    built_index: Path, open_reader: OpenReader
) -> None:
    reader = open_reader(built_index)
    rows = [5, 0, 3]
    assert [p.row for p in reader.fetch([*rows, 10_000])] == rows
    assert reader.fetch([]) == []


def test_a_generation_folder_can_be_opened_directly(built_index: Path, open_reader: OpenReader) -> None:
    generation = (built_index / CURRENT).resolve()
    assert open_reader(generation).passages == open_reader(built_index).passages


def test_an_approximate_index_that_finds_fewer_than_k_drops_the_padding_rows(
    articles_file: Path, tmp_path: Path, open_reader: OpenReader
) -> None:
    index_dir = tmp_path / "ivf"
    build([articles_file], index_dir, index_spec="IVF2,Flat")  # one of two lists is probed: some rows unreachable
    reader = open_reader(index_dir)
    assert reader.manifest.index.type == "IVF2,Flat"
    for hits in reader.search(unit_queries(5, reader.manifest.dim), reader.passages):
        rows = [row for row, _ in hits]
        assert rows and all(0 <= row < reader.passages for row in rows)
        assert len(set(rows)) == len(rows)


def test_a_missing_index_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="rebuild-index") as exc:
        IndexReader(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(exc.value)


def test_an_empty_index_folder_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="rebuild-index"):
        IndexReader(tmp_path)


def edit_manifest(index_dir: Path, change: object) -> None:
    path = (index_dir / CURRENT / MANIFEST).resolve()
    manifest = json.loads(path.read_text())
    change(manifest)  # type: ignore[operator]
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda m: m["counts"].update(passages=m["counts"]["passages"] + 1), id="passage-count"),
        pytest.param(lambda m: m["counts"].update(passages=m["counts"]["passages"] - 1), id="fewer-passages"),
        pytest.param(lambda m: m["files"][VECTORS].update(bytes=m["files"][VECTORS]["bytes"] + 4), id="vector-size"),
        pytest.param(lambda m: m["files"][STORE].update(bytes=1), id="store-size"),
        pytest.param(lambda m: m.update(dim=m["dim"] * 2), id="dimension"),
        pytest.param(lambda m: m.update(format_version=99), id="format-version"),
        pytest.param(lambda m: m.update(format="something-else"), id="format"),
    ],
)
def test_a_tampered_manifest_is_refused(built_index: Path, change: object) -> None:
    edit_manifest(built_index, change)
    with pytest.raises(IndexCorrupt, match="rebuild"):
        IndexReader(built_index)


def test_an_unreadable_manifest_is_refused(built_index: Path) -> None:
    (built_index / CURRENT / MANIFEST).resolve().write_text("{not json")
    with pytest.raises(IndexCorrupt, match="unreadable"):
        IndexReader(built_index)


@pytest.mark.parametrize("name", [STORE, VECTORS])
def test_a_deleted_index_file_is_refused(built_index: Path, name: str) -> None:
    (built_index / CURRENT / name).unlink()
    with pytest.raises(IndexCorrupt, match="missing"):
        IndexReader(built_index)


def test_a_deleted_lexical_index_is_refused(built_index: Path) -> None:
    shutil.rmtree((built_index / CURRENT / LEXICAL).resolve())
    with pytest.raises(IndexCorrupt, match=r"missing|unreadable"):
        IndexReader(built_index)


def test_a_lexical_index_that_disagrees_with_the_store_is_refused(built_index: Path, tmp_path: Path) -> None:
    other = write_jsonl(tmp_path / "other.jsonl", made_up_articles(2))
    build([other], tmp_path / "other")
    mine = (built_index / CURRENT / LEXICAL).resolve()
    shutil.rmtree(mine)
    shutil.copytree((tmp_path / "other" / CURRENT / LEXICAL).resolve(), mine)
    with pytest.raises(IndexCorrupt, match=r"lexical index holds|missing|bytes"):
        IndexReader(built_index)


@pytest.mark.parametrize("name", [STORE, VECTORS])
def test_a_file_that_grew_is_refused(built_index: Path, name: str) -> None:
    with open(built_index / CURRENT / name, "ab") as f:
        f.write(b"\0" * 16)
    with pytest.raises(IndexCorrupt, match="bytes"):
        IndexReader(built_index)


def test_a_same_size_change_to_the_vectors_is_caught_by_the_full_check(
    built_index: Path, open_reader: OpenReader
) -> None:
    path = built_index / CURRENT / VECTORS
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # inside the last vector
    path.write_bytes(bytes(data))
    open_reader(built_index)  # sizes agree: the quick check at start-up passes
    with pytest.raises(IndexCorrupt, match="checksum"):
        IndexReader(built_index, verify=True)


def test_settle_ties_orders_equal_scores_by_key_and_fetches_past_a_tie_at_the_cut() -> None:
    from index.reader import settle_ties

    ranked = [(9, 3.0), (4, 2.0), (7, 2.0), (1, 2.0), (3, 2.0), (8, 1.0)]  # a search returning rows best first
    asked: list[int] = []

    def search(n: int) -> list[tuple[int, float]]:
        asked.append(n)
        return ranked[:n]

    assert settle_ties(search, 2, key=lambda row: row) == [(9, 3.0), (1, 2.0)]  # the tie's lowest key, not its first
    assert asked == [3, 12]  # the tie ran past the first ask
    assert settle_ties(search, 5, key=lambda row: -row) == [(9, 3.0), (7, 2.0), (4, 2.0), (3, 2.0), (1, 2.0)]
    assert settle_ties(search, 0, key=lambda row: row) == []
    assert settle_ties(search, 10, key=lambda row: row) == [(9, 3.0), (1, 2.0), (3, 2.0), (4, 2.0), (7, 2.0), (8, 1.0)]
