"""The write process: groups applied there as in the service's own process, its errors raised here, a worker that
died replaced (its group failed with WriteFailed, the index untouched)."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.articles import Article
from index.errors import IndexMissing, WriteFailed
from index.generations import CURRENT
from index.update import Batch
from search.write_worker import WriteWorker
from tests.fakes import FakeEncoder
from tests.index.test_update import found_ids, stored_ids
from tests.search.test_live import new_article


def articles(*numbers: int) -> list[Article]:
    return [Article(a["id"], a["title"], a["text"], a["date"], a["source"]) for a in map(new_article, numbers)]


@pytest.fixture
def worker() -> Iterator[WriteWorker]:
    worker = WriteWorker(FakeEncoder)
    yield worker
    worker.close()


def test_a_group_written_in_the_worker_process_is_in_the_index(worker: WriteWorker, built_index: Path) -> None:
    before = stored_ids(built_index)
    reports = worker.add_batches(built_index, [Batch(articles(1, 2)), Batch(articles(2, 3))], None, 30)
    assert [(r.added, r.unchanged) for r in reports] == [(2, 0), (1, 1)]
    assert reports[0].generation == reports[1].generation == (built_index / CURRENT).resolve().name
    assert stored_ids(built_index) == before | {"live-1", "live-2", "live-3"}
    assert {"live-1", "live-2", "live-3"} <= found_ids(built_index, "zanzibarite", "lexical")


def test_an_error_in_the_worker_is_raised_here_as_itself(worker: WriteWorker, tmp_path: Path) -> None:
    with pytest.raises(IndexMissing):
        worker.add_batches(tmp_path / "nothing-here", [Batch(articles(1))], None, 30)


def test_a_worker_that_died_fails_its_write_and_is_replaced(worker: WriteWorker, built_index: Path) -> None:
    worker.add_batches(built_index, [Batch(articles(1))], None, 30)
    live = (built_index / CURRENT).resolve()
    for pid in list(worker._pool._processes):
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(WriteFailed, match="nothing was written"):
        worker.add_batches(built_index, [Batch(articles(2))], None, 30)
    assert (built_index / CURRENT).resolve() == live and "live-2" not in stored_ids(built_index)
    assert worker.add_batches(built_index, [Batch(articles(2))], None, 30)[0].added == 1


def _no_model() -> FakeEncoder:
    raise OSError("no weights at /nowhere")


def test_an_encoder_that_cannot_load_fails_each_write_saying_why(built_index: Path) -> None:
    worker = WriteWorker(_no_model)
    try:
        live = (built_index / CURRENT).resolve()
        with pytest.raises(WriteFailed, match=re.escape("load the encoder (OSError: no weights at /nowhere)")):
            worker.add_batches(built_index, [Batch(articles(1))], None, 30)
        assert (built_index / CURRENT).resolve() == live and "live-1" not in stored_ids(built_index)
    finally:
        worker.close()
