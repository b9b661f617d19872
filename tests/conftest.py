"""Shared fixtures: the fake encoder, made-up articles, a fake-built index, the real model (loaded once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from tests.fakes import (
    CORPUS,
    SEED_ARTICLE,
    SHARED_DATA,
    FakeEncoder,
    fake_split_settings,
    made_up_articles,
    need_shared_data,
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
