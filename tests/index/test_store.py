"""Store: an index directory round-trips, searches exactly, refuses tampering, and changes only atomically."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import index.build
from index.articles import Article, read_articles
from index.errors import BuildFailed, IndexCorrupt, IndexMissing, InputError, StoreError
from index.generations import CURRENT, GENERATIONS, LEXICAL, MANIFEST, STORE, VECTORS
from index.reader import IndexReader
from index.split import embedding_text, split_article, title_budget
from index.writer import IndexWriter
from tests.fakes import FakeEncoder, fake_split_settings, made_up_articles, write_jsonl
from tests.fakes import fake_build as build


def generation_folders(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / GENERATIONS).iterdir())


def unit_queries(n: int, dim: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


# --- round trip ------------------------------------------------------------------------------------------------


def test_an_index_reads_back_every_article_and_passage_it_was_built_from(
    built_index: Path, articles_file: Path
) -> None:
    reader = IndexReader(built_index)
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


def test_each_stored_vector_is_the_embedding_of_its_own_passage_with_its_title(built_index: Path) -> None:
    reader = IndexReader(built_index)
    encoder, settings = FakeEncoder(), fake_split_settings()
    stored = list(reader.iter_passages())
    texts = [embedding_text(title_budget(s.title, settings, encoder.count_tokens)[0], s.text) for s in stored]
    np.testing.assert_allclose(reader.vectors([s.row for s in stored]), encoder.documents(texts), atol=1e-6)


def test_the_manifest_records_model_counts_splitter_and_file_sizes(built_index: Path) -> None:
    reader = IndexReader(built_index)
    m = json.loads((reader.generation / MANIFEST).read_text())  # as stored on disk
    assert m["model"]["fingerprint"] == FakeEncoder().info.fingerprint
    assert m["dim"] == FakeEncoder().dim
    assert m["counts"] == {
        "articles": reader.articles,
        "passages": reader.passages,
        "vectors": reader.passages,
        "deleted": 0,
    }
    assert m["splitter"]["max_tokens"] == fake_split_settings().max_tokens
    assert m["index"]["type"] == "Flat"
    for name, meta in m["files"].items():
        assert (reader.generation / name).stat().st_size == meta["bytes"]


def test_flat_search_returns_exactly_the_numpy_brute_force_top_k(built_index: Path) -> None:
    reader = IndexReader(built_index)
    matrix = reader.vectors(range(reader.passages))
    queries = unit_queries(8, matrix.shape[1])
    k = 7
    for query, hits in zip(queries, reader.search(queries, k), strict=True):
        scores = matrix @ query
        best = np.argsort(-scores, kind="stable")[:k]
        assert [row for row, _ in hits] == best.tolist()
        np.testing.assert_allclose([score for _, score in hits], scores[best], atol=1e-5)


def test_search_scores_are_best_first(built_index: Path) -> None:
    reader = IndexReader(built_index)
    [hits] = reader.search(unit_queries(1, reader.manifest.dim, seed=3), 20)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("extra", [1, 50, 1000])
def test_asking_for_more_hits_than_passages_returns_each_passage_once_and_no_padding_rows(
    built_index: Path, extra: int
) -> None:
    reader = IndexReader(built_index)
    [hits] = reader.search(unit_queries(1, reader.manifest.dim), reader.passages + extra)
    rows = [row for row, _ in hits]
    assert sorted(rows) == list(range(reader.passages))


def test_fetch_returns_passages_in_the_order_asked_and_skips_unknown_rows(built_index: Path) -> None:
    reader = IndexReader(built_index)
    rows = [5, 0, 3]
    assert [p.row for p in reader.fetch([*rows, 10_000])] == rows
    assert reader.fetch([]) == []


def test_a_generation_folder_can_be_opened_directly(built_index: Path) -> None:
    generation = (built_index / CURRENT).resolve()
    assert IndexReader(generation).passages == IndexReader(built_index).passages


# --- missing and corrupt ---------------------------------------------------------------------------------------


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


def test_a_same_size_change_to_the_vectors_is_caught_by_the_full_check(built_index: Path) -> None:
    path = built_index / CURRENT / VECTORS
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # inside the last vector
    path.write_bytes(bytes(data))
    IndexReader(built_index)  # sizes agree: the quick check at start-up passes
    with pytest.raises(IndexCorrupt, match="checksum"):
        IndexReader(built_index, verify=True)


# --- atomic builds ---------------------------------------------------------------------------------------------


def assert_unchanged(index_dir: Path, generation: Path, passages: int) -> None:
    reader = IndexReader(index_dir)
    assert reader.generation == generation
    assert reader.passages == passages
    assert reader.search(unit_queries(1, reader.manifest.dim), 3)[0]
    assert not [p for p in (index_dir / GENERATIONS).iterdir() if p.name.startswith(".tmp-")]
    assert not list(index_dir.glob(f".{CURRENT}-*")), "no half-made symlink is left"


def test_a_build_with_no_valid_article_fails_and_leaves_the_index_as_it_was(built_index: Path, tmp_path: Path) -> None:
    before = IndexReader(built_index)
    bad = write_jsonl(tmp_path / "bad.jsonl", ['{"id": "x"', {"id": "y", "title": "no text"}])
    with pytest.raises(BuildFailed, match="no article could be indexed"):
        build([bad], built_index)
    assert_unchanged(built_index, before.generation, before.passages)


def test_a_strict_build_with_one_bad_record_fails_and_leaves_the_index_as_it_was(
    built_index: Path, tmp_path: Path
) -> None:
    before = IndexReader(built_index)
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [*made_up_articles(3), "{broken"])
    with pytest.raises(BuildFailed, match="strict"):
        build([mixed], built_index, strict=True)
    assert_unchanged(built_index, before.generation, before.passages)


class CrashingEncoder(FakeEncoder):
    """Embeds normally until its `crash_on`-th call to documents(), then fails like a model running out of memory."""

    def __init__(self, crash_on: int) -> None:
        super().__init__()
        self.calls, self.crash_on = 0, crash_on

    def documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls += 1
        if self.calls >= self.crash_on:
            raise RuntimeError("model crashed mid-build")
        return super().documents(texts, batch_size)


def test_an_encoder_crash_mid_build_leaves_the_index_as_it_was(
    built_index: Path, articles_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = IndexReader(built_index)
    monkeypatch.setattr(index.build, "CHUNK_PASSAGES", 4)  # several embedding calls, so the crash is mid-way
    encoder = CrashingEncoder(crash_on=3)
    with pytest.raises(RuntimeError, match="crashed"):
        build([articles_file], built_index, encoder, cache_path=tmp_path / "cache.sqlite3")
    assert encoder.calls == 3
    assert_unchanged(built_index, before.generation, before.passages)


def test_an_interrupted_build_leaves_the_index_as_it_was(built_index: Path, articles_file: Path) -> None:
    class Interrupted(FakeEncoder):
        def documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
            raise KeyboardInterrupt

    before = IndexReader(built_index)
    with pytest.raises(KeyboardInterrupt):
        build([articles_file], built_index, Interrupted())
    assert_unchanged(built_index, before.generation, before.passages)


def test_a_missing_input_fails_before_anything_is_written(built_index: Path, tmp_path: Path) -> None:
    before = IndexReader(built_index)
    with pytest.raises(InputError):
        build([tmp_path / "absent.jsonl"], built_index)
    assert_unchanged(built_index, before.generation, before.passages)


def test_a_second_build_switches_current_and_the_old_reader_keeps_working(built_index: Path, tmp_path: Path) -> None:
    old = IndexReader(built_index)
    old_hits = old.search(unit_queries(2, old.manifest.dim), 5)
    smaller = write_jsonl(tmp_path / "smaller.jsonl", made_up_articles(2))
    build([smaller], built_index)
    assert (built_index / CURRENT).is_symlink()
    new = IndexReader(built_index)
    assert new.generation != old.generation
    assert new.articles == 2
    assert old.search(unit_queries(2, old.manifest.dim), 5) == old_hits
    assert [p.row for p in old.fetch([row for row, _ in old_hits[0]])] == [row for row, _ in old_hits[0]]
    assert IndexReader(old.generation).passages == old.passages  # the previous generation is kept on disk


def test_only_the_live_and_the_previous_generation_are_kept(built_index: Path, articles_file: Path) -> None:
    for _ in range(3):
        build([articles_file], built_index)
    live = (built_index / CURRENT).resolve().name
    kept = generation_folders(built_index)
    assert len(kept) == 2 and live in kept


def test_a_stale_temporary_folder_from_a_killed_build_is_cleaned_by_the_next_build(
    built_index: Path, articles_file: Path
) -> None:
    stale = built_index / GENERATIONS / ".tmp-19700101T000000-deadbeef"
    stale.mkdir()
    (stale / STORE).write_bytes(b"half written")
    build([articles_file], built_index)
    assert not stale.exists()


def test_two_builds_of_one_index_at_once_are_refused_with_a_message(built_index: Path, articles_file: Path) -> None:
    before = IndexReader(built_index)
    writer = IndexWriter(built_index, FakeEncoder().dim)
    try:
        with pytest.raises(StoreError, match="another build"):
            build([articles_file], built_index)
    finally:
        writer.abort()
    assert_unchanged(built_index, before.generation, before.passages)
    build([articles_file], built_index)  # the lock is released by abort()


def test_current_is_a_relative_symlink_so_the_index_folder_can_be_moved(built_index: Path, tmp_path: Path) -> None:
    target = os.readlink(built_index / CURRENT)
    assert not os.path.isabs(target)
    moved = tmp_path / "moved-index"
    built_index.rename(moved)
    assert IndexReader(moved).passages > 0


def test_an_approximate_index_that_finds_fewer_than_k_drops_the_padding_rows(
    articles_file: Path, tmp_path: Path
) -> None:
    index_dir = tmp_path / "ivf"
    build([articles_file], index_dir, index_spec="IVF2,Flat")  # one of two lists is probed: some rows unreachable
    reader = IndexReader(index_dir)
    assert reader.manifest.index.type == "IVF2,Flat"
    for hits in reader.search(unit_queries(5, reader.manifest.dim), reader.passages):
        rows = [row for row, _ in hits]
        assert rows and all(0 <= row < reader.passages for row in rows)
        assert len(set(rows)) == len(rows)
