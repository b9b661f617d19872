"""grown.py's add sizes and segment list; quality.py's "hybrid" as served."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.grown import add_sizes, segments
from benchmarks.quality import Variant
from index.articles import Article
from index.update import add_articles
from search.options import TUNED
from tests.fakes import FakeEncoder, fake_build, made_up_articles, write_jsonl


@pytest.mark.parametrize(
    ("spec", "sizes"),
    [("100,3,1", [100, 3, 1]), ("3x10", [10, 10, 10]), ("1x100,2x5", [100, 5, 5]), ("7", [7])],
)
def test_add_sizes_reads_lists_and_repeats(spec: str, sizes: list[int]) -> None:
    assert add_sizes(spec) == sizes


def test_plain_hybrid_is_the_tuned_fusion() -> None:
    variant = Variant.parse("hybrid")
    assert (variant.mode, variant.fusion, variant.when) == ("hybrid", TUNED.fusion, "quiz-day")


def test_segments_lists_each_vector_segment_in_row_order(tmp_path: Path) -> None:
    records = made_up_articles(12)
    fake_build([write_jsonl(tmp_path / "base.jsonl", records[:10])], tmp_path / "index")
    for record in records[10:]:
        article = Article(**{"article_id" if k == "id" else k: v for k, v in record.items()})  # type: ignore[arg-type]
        add_articles(tmp_path / "index", [article], FakeEncoder(), merge=False)
    found = segments(tmp_path / "index")
    assert len(found) == 3
    assert [s["first_row"] for s in found[1:]] == [found[0]["rows"], found[0]["rows"] + found[1]["rows"]]
    assert all(s["rows"] > 0 and s["vector_bytes"] > 0 and s["store_bytes"] > 0 for s in found)
