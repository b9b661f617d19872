"""The read side's one interface: one index and shards both satisfy ReadSide, with no cast."""

from __future__ import annotations

from pathlib import Path

from index.reader import IndexReader
from search.readside import ReadSide
from search.searcher import Searcher
from search.shards import ShardedReader
from tests.fakes import FakeEncoder, fake_build, made_up_articles, write_jsonl


def test_one_index_and_its_shards_are_both_a_read_side(tmp_path: Path) -> None:
    """Checked at run time here, and by mypy on the typed assignments (`mypy tests/search/test_readside.py`)."""
    records = made_up_articles(6)
    fake_build([write_jsonl(tmp_path / "a.jsonl", records[:3])], tmp_path / "shard-00")
    fake_build([write_jsonl(tmp_path / "b.jsonl", records[3:])], tmp_path / "shard-01")
    with IndexReader(tmp_path / "shard-00") as one:
        single: ReadSide = one
        assert isinstance(single, ReadSide)
    sharded: ReadSide = ShardedReader.open([tmp_path])
    try:
        assert isinstance(sharded, ReadSide)
        searcher: Searcher[ShardedReader] = Searcher(ShardedReader.open([tmp_path]), FakeEncoder())  # type: ignore[arg-type]
        assert searcher.reader.articles == 6
        searcher.close()
    finally:
        sharded.close()


def test_the_protocol_lists_every_public_member_both_readers_share_that_the_read_side_uses() -> None:
    """Every ReadSide member exists on both readers (a runtime_checkable isinstance checks names only)."""
    members = {name for name in dir(ReadSide) if not name.startswith("_")}
    assert members <= set(dir(IndexReader)) | {"manifest", "generation", "lexical"}  # set in __init__
    assert members <= set(dir(ShardedReader)) | {"manifest", "generation", "lexical", "row_days", "row_n"}


def test_passage_counts_from_memory_equal_the_stores_for_one_index_and_shards(tmp_path: Path) -> None:
    """The focus prior's per-article passage count, kept in memory, is the count the store records."""
    records = made_up_articles(6)
    fake_build([write_jsonl(tmp_path / "a.jsonl", records[:3])], tmp_path / "shard-00")
    fake_build([write_jsonl(tmp_path / "b.jsonl", records[3:])], tmp_path / "shard-01")
    sharded = ShardedReader.open([tmp_path])
    try:
        for record in records:
            stored = sharded.article(record["id"])
            assert stored is not None and sharded.passages_in_article(record["id"]) == stored["passages"] > 0
        assert sharded.passages_in_article("no-such-article") == 0
    finally:
        sharded.close()
