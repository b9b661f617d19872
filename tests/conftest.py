"""Shared fixtures: the fake encoder, made-up articles, fake-built indexes, readers that close, the real model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

import index.embed
import search.searcher
from index.reader import IndexReader
from search.searcher import Searcher
from tests.fakes import (
    CORPUS,
    SEED_ARTICLE,
    SHARED_DATA,
    Closes,
    FakeEncoder,
    OpenReader,
    fake_index,
    fake_split_settings,
    made_up_articles,
    need_shared_data,
    wire_copies,
    write_jsonl,
)

# No example database to go stale between runs; no deadlines (timings are noisy on a busy 2-core machine).
hypothesis_settings.register_profile("dateline", database=None, deadline=None, max_examples=60)
hypothesis_settings.load_profile("dateline")


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def articles_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "articles.jsonl", made_up_articles())


@pytest.fixture
def built_index(tmp_path: Path, articles_file: Path, fake_encoder: FakeEncoder) -> Path:
    """An index dir built from the made-up articles with the fake encoder (no cache)."""
    from index.build import build_index

    index_dir = tmp_path / "index"
    build_index([articles_file], index_dir, fake_encoder, fake_split_settings(), progress=False)
    return index_dir


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Both CLIs get the fake encoder instead of loading the real model; returns the arguments they asked with."""
    asked: list[dict[str, Any]] = []

    def make(
        spec: str = "all-MiniLM-L6-v2", dtype: str = "auto", threads: int | None = None, queries: str = "auto",
        index_dir: Path | None = None,
    ) -> FakeEncoder:  # fmt: skip
        asked.append({"spec": spec, "dtype": dtype, "threads": threads, "queries": queries})
        return FakeEncoder()

    monkeypatch.setattr(index.embed, "Encoder", make)
    monkeypatch.setattr(search.searcher, "Encoder", make)
    return asked


@pytest.fixture
def open_reader() -> Iterator[OpenReader]:
    """Opens IndexReaders (IndexReader's arguments) for one test and closes every one of them at its end."""
    opened: list[IndexReader] = []

    def open_(*args: Any, **kwargs: Any) -> IndexReader:
        opened.append(IndexReader(*args, **kwargs))
        return opened[-1]

    yield open_
    for reader in opened:
        reader.close()


@pytest.fixture
def closes() -> Iterator[Closes]:
    """Takes anything with close() (a Searcher, a ShardedReader) and returns it; closes each at the test's end."""
    taken: list[Any] = []

    def close_later(thing: Any) -> Any:
        taken.append(thing)
        return thing

    yield close_later
    for thing in reversed(taken):
        thing.close()


@pytest.fixture(scope="session")
def wire_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made-up news with one story re-printed by two other outlets (tests.fakes.wire_copies), fake-built once."""
    return fake_index(tmp_path_factory.mktemp("newsroom"), wire_copies())


@pytest.fixture(scope="session")
def wire_searcher(wire_index: Path) -> Iterator[Searcher]:
    """A Searcher over wire_index with the fake encoder, closed at the end of the session."""
    searcher = Searcher(IndexReader(wire_index), FakeEncoder())
    yield searcher
    searcher.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or a skip that says where it was looked for; list it before real_encoder to skip early."""
    need_shared_data(CORPUS, SEED_ARTICLE)
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_encoder() -> Iterator[Any]:
    """The real all-MiniLM-L6-v2 with its default settings, loaded once per session; tests must not change it."""
    from index.embed import Encoder

    yield Encoder()
