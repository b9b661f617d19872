"""IndexWriter: what a build writes (vectors, manifest), and a failed or concurrent build leaves the index as it was."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import index.build
from index.errors import BuildFailed, InputError, StoreError
from index.generations import CURRENT, GENERATIONS, MANIFEST
from index.reader import IndexReader
from index.split import embedding_text, title_budget
from index.writer import IndexWriter
from tests.fakes import FakeEncoder, OpenReader, fake_split_settings, made_up_articles, unit_queries, write_jsonl
from tests.fakes import fake_build as build


def test_each_stored_vector_is_the_embedding_of_its_own_passage_with_its_title(
    built_index: Path, open_reader: OpenReader
) -> None:
    reader = open_reader(built_index)
    encoder, settings = FakeEncoder(), fake_split_settings()
    stored = list(reader.iter_passages())
    texts = [embedding_text(title_budget(s.title, settings, encoder.count_tokens)[0], s.text) for s in stored]
    np.testing.assert_allclose(reader.vectors([s.row for s in stored]), encoder.documents(texts), atol=1e-6)


def test_the_manifest_records_model_counts_splitter_and_file_sizes(built_index: Path, open_reader: OpenReader) -> None:
    reader = open_reader(built_index)
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


def assert_unchanged(index_dir: Path, generation: Path, passages: int) -> None:
    with IndexReader(index_dir) as reader:
        assert reader.generation == generation
        assert reader.passages == passages
        assert reader.search(unit_queries(1, reader.manifest.dim), 3)[0]
    assert not [p for p in (index_dir / GENERATIONS).iterdir() if p.name.startswith(".tmp-")]
    assert not list(index_dir.glob(f".{CURRENT}-*")), "no half-made symlink is left"


def test_a_build_with_no_valid_article_fails_and_leaves_the_index_as_it_was(
    built_index: Path, tmp_path: Path, open_reader: OpenReader
) -> None:
    before = open_reader(built_index)
    bad = write_jsonl(tmp_path / "bad.jsonl", ['{"id": "x"', {"id": "y", "title": "no text"}])
    with pytest.raises(BuildFailed, match="no article could be indexed"):
        build([bad], built_index)
    assert_unchanged(built_index, before.generation, before.passages)


def test_a_strict_build_with_one_bad_record_fails_and_leaves_the_index_as_it_was(
    built_index: Path, tmp_path: Path, open_reader: OpenReader
) -> None:
    before = open_reader(built_index)
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
    built_index: Path, articles_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_reader: OpenReader
) -> None:
    before = open_reader(built_index)
    monkeypatch.setattr(index.build, "CHUNK_PASSAGES", 4)  # several embedding calls, so the crash is mid-way
    encoder = CrashingEncoder(crash_on=3)
    with pytest.raises(RuntimeError, match="crashed"):
        build([articles_file], built_index, encoder, cache_path=tmp_path / "cache.sqlite3")
    assert encoder.calls == 3
    assert_unchanged(built_index, before.generation, before.passages)


def test_an_interrupted_build_leaves_the_index_as_it_was(
    built_index: Path, articles_file: Path, open_reader: OpenReader
) -> None:
    class Interrupted(FakeEncoder):
        def documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
            raise KeyboardInterrupt

    before = open_reader(built_index)
    with pytest.raises(KeyboardInterrupt):
        build([articles_file], built_index, Interrupted())
    assert_unchanged(built_index, before.generation, before.passages)


def test_a_missing_input_fails_before_anything_is_written(
    built_index: Path, tmp_path: Path, open_reader: OpenReader
) -> None:
    before = open_reader(built_index)
    with pytest.raises(InputError):
        build([tmp_path / "absent.jsonl"], built_index)
    assert_unchanged(built_index, before.generation, before.passages)


def test_two_builds_of_one_index_at_once_are_refused_with_a_message(
    built_index: Path, articles_file: Path, open_reader: OpenReader
) -> None:
    before = open_reader(built_index)
    writer = IndexWriter(built_index, FakeEncoder().dim)
    try:
        with pytest.raises(StoreError, match="another build"):
            build([articles_file], built_index)
    finally:
        writer.abort()
    assert_unchanged(built_index, before.generation, before.passages)
    build([articles_file], built_index)  # the lock is released by abort()
