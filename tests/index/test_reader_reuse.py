"""A reader opened with `reuse` (the reader of the generation served before) shares the vector parts both
generations hold and extends the row table by the edit's rows; it answers exactly as a reader loaded whole, and
the earlier reader is left as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.articles import Article
from index.reader import IndexReader
from index.rows import RowTable
from index.update import add_articles, compact, delete_articles
from search.searcher import Searcher, SearchOptions
from tests.fakes import FakeEncoder, OpenReader, fake_build, made_up_articles, write_jsonl

RECORDS = made_up_articles(40)
QUERIES = ["ferry crews strike over winter shifts", "harbour council budget vote", "glacier climbers rescue"]


def article(record: dict[str, Any], **changes: Any) -> Article:
    fields = {"article_id" if k == "id" else k: v for k, v in {**record, **changes}.items()}
    return Article(**fields)


def rows_of(table: RowTable) -> list[tuple[Any, ...]]:
    """Each row's facts as values (source codes decoded: two tables may number the same sources differently)."""
    live = np.ones(len(table.days), bool) if table.live is None else table.live
    names = [table.source_names[c] if c >= 0 else None for c in table.sources.tolist()]
    return list(zip(table.article_of, table.days.tolist(), table.n.tolist(), names, live.tolist(), strict=True))


def assert_same(reused: IndexReader, whole: IndexReader) -> None:
    assert rows_of(reused.rows) == rows_of(whole.rows)
    assert (reused.live is None) == (whole.live is None)
    assert reused.rows.stored == whole.rows.stored and reused.rows.passages_in == whole.rows.passages_in
    for source, code in whole.rows.source_codes.items():
        assert reused.rows.source_names[reused.rows.source_codes[source]] == whole.rows.source_names[code]
    a, b = Searcher(reused, FakeEncoder()), Searcher(whole, FakeEncoder())
    for mode in ("dense", "lexical", "hybrid"):
        for query in QUERIES:
            options = SearchOptions(k=10, mode=mode, recency=0, sources=["The Quay Post"] if mode == "dense" else None)
            assert [(h.passage.passage_id, h.score) for h in a.search(query, options).hits] == [
                (h.passage.passage_id, h.score) for h in b.search(query, options).hits
            ]


@pytest.fixture
def index(tmp_path: Path) -> Path:
    fake_build([write_jsonl(tmp_path / "base.jsonl", RECORDS[:30])], tmp_path / "index")
    return tmp_path / "index"


def test_a_reload_after_adds_and_deletes_reuses_the_parts_and_extends_the_rows(
    index: Path, open_reader: OpenReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole_loads: list[Path] = []
    load = RowTable.load.__func__  # type: ignore[attr-defined]
    monkeypatch.setattr(RowTable, "load", classmethod(lambda cls, *a: whole_loads.append(a[2]) or load(cls, *a)))
    encoder = FakeEncoder()
    served = open_reader(index)
    edits = [
        lambda: add_articles(index, [article(r, source="The Quay Post") for r in RECORDS[30:34]], encoder, merge=False),
        lambda: add_articles(
            index,
            [article(RECORDS[3], text=RECORDS[3]["text"] + " A late correction."), article(RECORDS[34])],
            encoder,
            merge=False,
            delete=["story-010"],
        ),
        lambda: delete_articles(index, ["story-020", "ferry-strike"]),
        lambda: add_articles(index, [article(r, source=None) for r in RECORDS[35:40]], encoder),  # folds parts
    ]
    common = []
    whole_loads.clear()
    for edit in edits:
        before = rows_of(served.rows)
        edit()
        reused = open_reader(index, reuse=served)
        assert whole_loads == []  # its rows were extended, not read whole
        whole = open_reader(index)
        whole_loads.clear()
        assert_same(reused, whole)
        shared = set(map(id, served._parts.values())) & set(map(id, reused._parts.values()))
        common.append(len(served._parts.keys() & reused._parts.keys()))
        assert len(shared) == common[-1]  # the same files, the same loaded objects
        assert rows_of(served.rows) == before  # the generation served until now is untouched
        served = reused
    assert common == [1, 2, 3, 0]  # the last add folded every part into one new file
    assert served.live is not None and served.rows.stored == whole.passages


def test_a_generation_not_edited_from_the_served_one_is_loaded_whole(index: Path, open_reader: OpenReader) -> None:
    served = open_reader(index)
    delete_articles(index, ["story-001"])
    add_articles(index, [article(RECORDS[30])], FakeEncoder())  # two edits on: its base is not the served one
    assert_same(open_reader(index, reuse=served), open_reader(index))
    served = open_reader(index)
    compact(index)  # rows renumbered
    reused = open_reader(index, reuse=served)
    assert_same(reused, open_reader(index))
    assert reused.live is None and not set(map(id, served._parts.values())) & set(map(id, reused._parts.values()))
