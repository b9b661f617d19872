"""Group commit: several callers' batches applied in order in one generation, each reported on its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from index.check import check_index
from index.generations import CURRENT, GENERATIONS, MANIFEST
from index.reader import IndexReader
from index.update import Batch, add_articles, add_batches
from tests.fakes import FakeEncoder, made_up_articles, write_jsonl
from tests.index.test_update import article, found_ids, stored_ids

RECORDS = made_up_articles(12)


@pytest.fixture
def small_index(tmp_path: Path) -> Path:
    from tests.fakes import fake_build

    fake_build([write_jsonl(tmp_path / "first.jsonl", RECORDS[:5])], tmp_path / "index")
    return tmp_path / "index"


def changed(i: int, words: str) -> dict[str, str]:
    return {**RECORDS[i], "text": RECORDS[i]["text"] + f"\n\nA closing paragraph about {words}."}


def passages_by_article(index_dir: Path) -> dict[str, list[str]]:
    with IndexReader(index_dir) as reader:
        found: dict[str, list[str]] = {}
        for p in reader.iter_passages():
            found.setdefault(p.article_id, []).append(p.text)
        return found


def manifest_update(index_dir: Path) -> dict[str, object]:
    return json.loads(((index_dir / CURRENT).resolve() / MANIFEST).read_text())["update"]  # type: ignore[no-any-return]


def test_batches_are_one_generation_and_each_later_batch_sees_the_earlier_ones(small_index: Path) -> None:
    before = (small_index / CURRENT).resolve().name
    batches = [
        Batch([article(RECORDS[5]), article(RECORDS[6]), article(changed(0, "a keeper named Ostrander"))]),
        Batch([article(changed(5, "a pilot named Quillfeather")), article(RECORDS[6]), article(RECORDS[7])]),
        Batch([article(RECORDS[8])], delete=[RECORDS[6]["id"], RECORDS[1]["id"], "never-there"]),
    ]
    reports = add_batches(small_index, batches, FakeEncoder())
    counts = [(r.added, r.updated, r.unchanged, r.deleted, r.missing) for r in reports]
    assert counts == [(2, 1, 0, 0, []), (1, 1, 1, 0, []), (1, 0, 0, 2, ["never-there"])]
    assert reports[1].reused >= 1  # the update of an article the group itself added reuses its vectors
    assert len({r.generation for r in reports}) == 1
    update = manifest_update(small_index)
    assert (update["base"], update["batches"], update["added"], update["deleted"]) == (before, 3, 4, 2)
    wanted = {r["id"] for r in RECORDS[:9]} - {RECORDS[1]["id"], RECORDS[6]["id"]}
    assert stored_ids(small_index) == found_ids(small_index) == wanted
    assert found_ids(small_index, "Quillfeather", mode="lexical") == {RECORDS[5]["id"]}
    assert found_ids(small_index, "Ostrander", mode="lexical") == {RECORDS[0]["id"]}
    assert check_index(small_index)[1] == []


def test_a_group_leaves_the_index_as_the_same_batches_added_one_at_a_time(small_index: Path, tmp_path: Path) -> None:
    one_by_one = tmp_path / "one-by-one"
    shutil.copytree(small_index, one_by_one, symlinks=True)
    batches = [
        ([RECORDS[9], changed(2, "gulls")], [RECORDS[3]["id"]]),
        ([changed(9, "terns"), RECORDS[3]], [RECORDS[2]["id"]]),
        ([changed(2, "gannets"), RECORDS[10]], [RECORDS[10]["id"]]),  # the add wins over its own batch's delete
    ]
    grouped = add_batches(small_index, [Batch([article(r) for r in rs], ds) for rs, ds in batches], FakeEncoder())
    alone = [add_articles(one_by_one, [article(r) for r in rs], FakeEncoder(), delete=ds) for rs, ds in batches]
    assert [r.as_dict() | {"seconds": 0, "generation": ""} for r in grouped] == [
        r.as_dict() | {"seconds": 0, "generation": ""} for r in alone
    ]
    assert passages_by_article(small_index) == passages_by_article(one_by_one)
    assert found_ids(small_index, "gulls", "lexical") == set()  # added by the group, deleted by a later batch of it
    assert found_ids(small_index, "gannets", "lexical") == {RECORDS[2]["id"]}
    for query, mode in [("gannets", "lexical"), ("terns", "lexical"), ("gulls", "lexical"), ("harbour", "dense")]:
        assert found_ids(small_index, query, mode) == found_ids(one_by_one, query, mode)
    assert check_index(small_index)[1] == []


def test_a_group_that_fails_midway_changes_nothing(small_index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    live = (small_index / CURRENT).resolve()
    encoder = FakeEncoder()
    real = encoder.documents
    calls: list[int] = []

    def fail_on_the_second_batch(texts: list[str], **kwargs: object) -> np.ndarray:
        calls.append(len(texts))
        if len(calls) == 2:
            raise OSError("disk full")
        return real(texts, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(encoder, "documents", fail_on_the_second_batch)
    with pytest.raises(OSError, match="disk full"):
        add_batches(small_index, [Batch([article(RECORDS[9])]), Batch([article(RECORDS[10])])], encoder)
    assert (small_index / CURRENT).resolve() == live
    assert stored_ids(small_index) == {r["id"] for r in RECORDS[:5]}
    assert not list((small_index / GENERATIONS).glob(".tmp-*"))
    assert check_index(small_index)[1] == []


def test_a_group_where_nothing_changes_writes_nothing(small_index: Path) -> None:
    live = (small_index / CURRENT).resolve()
    reports = add_batches(
        small_index, [Batch([article(RECORDS[0])]), Batch([article(RECORDS[0]), article(RECORDS[1])])], FakeEncoder()
    )
    assert [(r.unchanged, r.generation) for r in reports] == [(1, ""), (2, "")]
    assert (small_index / CURRENT).resolve() == live
