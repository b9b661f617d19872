"""Vector parts: an add writes its vectors as a new part (the older files hard-linked), folded log-structured;
searches over the parts equal one index's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index import vectors as vecs
from index.articles import Article
from index.check import check_index
from index.generations import VECTORS, resolve_generation, vector_files
from index.manifest import Manifest
from index.update import add_articles, compact
from search.searcher import Searcher, SearchOptions
from tests.fakes import Closes, FakeEncoder, OpenReader, fake_build, made_up_articles, unit_queries, write_jsonl

RECORDS = made_up_articles(47)
QUERIES = ["ferry crews strike over winter shifts", "harbour council budget vote", "glacier climbers rescue"]


def as_article(record: dict[str, object]) -> Article:
    return Article(**{"article_id" if k == "id" else k: v for k, v in record.items()})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("sizes", "folded"),
    [
        ([100], 1),
        ([100, 5], 1),
        ([100, 5, 5], 2),
        ([100, 25, 5], 1),
        ([100, 10, 10, 10], 4),
        ([200, 10, 10, 10], 3),
        ([20, 5, 5], 3),
    ],
)
def test_merge_plan_folds_the_newest_parts_while_the_one_before_is_not_much_bigger(
    sizes: list[int], folded: int
) -> None:
    assert vecs.merge_plan(sizes) == folded


@pytest.mark.parametrize("k", [1, 7, 50, 500])
def test_parts_search_returns_one_index_s_top_k_with_and_without_a_filter(k: int) -> None:
    rng = np.random.default_rng(0)
    data = unit_queries(300, 16, seed=1)
    one = vecs.build(data, "Flat")
    parts = vecs.Parts([vecs.build(data[a:b], "Flat") for a, b in ((0, 200), (200, 290), (290, 300))])
    queries = unit_queries(4, 16, seed=2)
    for allowed in (None, rng.random(300) < 0.3):
        want_scores, want_rows = vecs.search(one, queries, k, allowed)
        got_scores, got_rows = vecs.search(parts, queries, k, allowed)
        keep = want_rows >= 0
        assert np.array_equal(got_rows[:, : keep.shape[1]][keep], want_rows[keep])
        assert np.allclose(got_scores[:, : keep.shape[1]][keep], want_scores[keep])
    assert np.allclose(vecs.every_score(parts, queries[0]), vecs.every_score(one, queries[0]))  # type: ignore[arg-type]
    for rows in ([0, 199, 200, 299], [299, 5, 250, 5, 199], []):
        assert np.allclose(parts.reconstruct_batch(np.array(rows, dtype=np.int64)), data[rows].reshape(-1, 16))


@pytest.fixture
def grown(tmp_path: Path) -> tuple[Path, Path]:
    """An index of 40 articles grown by adds of 5, 1 and 1 articles; and one index built of the same 47."""
    fake_build([write_jsonl(tmp_path / "base.jsonl", RECORDS[:40])], tmp_path / "grown")
    for batch in (RECORDS[40:45], RECORDS[45:46], RECORDS[46:47]):
        add_articles(tmp_path / "grown", [as_article(r) for r in batch], FakeEncoder())
    fake_build([write_jsonl(tmp_path / "all.jsonl", RECORDS[:47])], tmp_path / "one")
    return tmp_path / "grown", tmp_path / "one"


def test_adds_write_parts_and_share_the_older_files(grown: tuple[Path, Path]) -> None:
    generation = resolve_generation(grown[0])
    names = vector_files(Manifest.read(generation).files)
    # The 5 articles' part was folded into the build's (not 4x bigger); the singles' parts into one.
    assert names == [VECTORS, "vectors-000000000574.faiss"]
    before = sorted(p for p in generation.parent.iterdir() if p != generation)[-1]
    assert (generation / VECTORS).stat().st_ino == (before / VECTORS).stat().st_ino
    assert check_index(grown[0])[1] == []


def test_every_mode_over_parts_answers_as_one_index_of_the_same_articles(
    grown: tuple[Path, Path], open_reader: OpenReader, closes: Closes
) -> None:
    parts, one = (closes(Searcher(open_reader(p, verify=True), FakeEncoder())) for p in grown)  # type: ignore[arg-type]
    assert isinstance(parts.reader.index, vecs.Parts)
    for mode in ("dense", "lexical", "hybrid"):
        for group in ("passage", "article"):
            for query in QUERIES:
                options = SearchOptions(k=10, mode=mode, group=group, recency=0)
                got = [(h.passage.passage_id, round(h.score, 5)) for h in parts.search(query, options).hits]
                assert got == [(h.passage.passage_id, round(h.score, 5)) for h in one.search(query, options).hits]


def test_compact_folds_the_parts_into_one_file(grown: tuple[Path, Path], open_reader: OpenReader) -> None:
    compact(grown[0], index_spec="Flat")
    assert vector_files(Manifest.read(resolve_generation(grown[0])).files) == [VECTORS]
    assert open_reader(grown[0]).passages == open_reader(grown[1]).passages


def test_adds_without_merge_keep_a_part_each_and_compact_makes_one(tmp_path: Path) -> None:
    fake_build([write_jsonl(tmp_path / "base.jsonl", RECORDS[:40])], tmp_path / "index")
    for batch in (RECORDS[40:45], RECORDS[45:46], RECORDS[46:47]):
        add_articles(tmp_path / "index", [as_article(r) for r in batch], FakeEncoder(), merge=False)
    assert len(vector_files(Manifest.read(resolve_generation(tmp_path / "index")).files)) == 4
    assert check_index(tmp_path / "index")[1] == []
    add_articles(tmp_path / "index", [as_article({**RECORDS[46], "id": "again"})], FakeEncoder())  # folds again
    assert len(vector_files(Manifest.read(resolve_generation(tmp_path / "index")).files)) < 5
    compact(tmp_path / "index")
    assert vector_files(Manifest.read(resolve_generation(tmp_path / "index")).files) == [VECTORS]
    assert check_index(tmp_path / "index")[1] == []
