"""Incremental updates: add, update, delete and compact an index in place; `index check` finds every disagreement."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import cli as index_cli
from index.articles import Article
from index.check import check_index
from index.edit import IndexEditor
from index.errors import IndexBusy, ModelMismatch
from index.generations import (
    CURRENT,
    GENERATIONS,
    LEXICAL,
    MANIFEST,
    STORE,
    VECTORS,
    acquire_write_lock,
    resolve_generation,
)
from index.reader import IndexReader
from index.update import add_articles, add_files, compact, delete_articles
from search.searcher import Searcher, SearchOptions
from tests.fakes import FakeEncoder, made_up_articles, made_up_text, write_jsonl

RECORDS = made_up_articles(9)


def article(record: dict[str, Any]) -> Article:
    return Article(record["id"], record["title"], record["text"], record["date"], record["source"], record["url"])


def found_ids(index_dir: Path, query: str = "harbour council ferry storm budget", mode: str = "dense") -> set[str]:
    """Article ids a search over everything returns (k larger than the index)."""
    reader = IndexReader(index_dir)
    try:
        hits = Searcher(reader, FakeEncoder()).search(query, SearchOptions(k=100, mode=mode, recency=0)).hits  # type: ignore[arg-type]
        return {h.passage.article_id for h in hits}
    finally:
        reader.close()


def stored_ids(index_dir: Path) -> set[str]:
    reader = IndexReader(index_dir)
    try:
        return reader.article_ids()
    finally:
        reader.close()


@pytest.fixture
def small_index(tmp_path: Path) -> Path:
    from tests.fakes import fake_build

    fake_build([write_jsonl(tmp_path / "first.jsonl", RECORDS[:5])], tmp_path / "index")
    return tmp_path / "index"


def test_added_articles_are_searchable_by_every_retriever_and_the_check_passes(small_index: Path) -> None:
    report = add_articles(small_index, [article(r) for r in RECORDS[5:]], FakeEncoder())
    assert (report.added, report.updated, report.unchanged) == (4, 0, 0)
    everything = {r["id"] for r in RECORDS}
    assert stored_ids(small_index) == everything
    assert found_ids(small_index) == everything
    assert found_ids(small_index, "harbour", mode="lexical") == everything
    assert check_index(small_index)[1] == []


def test_an_unchanged_article_is_skipped_and_nothing_new_is_written(small_index: Path) -> None:
    before = (small_index / CURRENT).resolve()
    encoder = FakeEncoder()
    report = add_articles(small_index, [article(r) for r in RECORDS[:5]], encoder)
    assert (report.unchanged, report.added, report.updated, report.generation) == (5, 0, 0, "")
    assert encoder.documents_embedded == 0
    assert (small_index / CURRENT).resolve() == before
    lock = acquire_write_lock(small_index)  # a no-op add needs neither the writer lock nor a copy of the store
    try:
        assert add_articles(small_index, [article(RECORDS[0])], encoder, wait=0).unchanged == 1
    finally:
        lock.close()


def test_a_changed_article_replaces_its_old_passages_and_reuses_the_vectors_of_unchanged_ones(
    small_index: Path,
) -> None:
    old = RECORDS[4]
    changed = {**old, "text": old["text"] + "\n\nA closing paragraph about a lighthouse keeper named Ostrander."}
    encoder = FakeEncoder()
    report = add_articles(small_index, [article(changed)], encoder)
    assert (report.updated, report.added) == (1, 0)
    assert report.reused >= 1 and encoder.documents_embedded == report.passages - report.reused
    with IndexReader(small_index) as reader:
        passages = [p for p in reader.iter_passages() if p.article_id == old["id"]]
        assert "Ostrander" in passages[-1].text
        assert [p.n for p in passages] == list(range(len(passages)))
        assert reader.manifest.counts.deleted > 0  # the old version's vectors stay until compaction
    assert found_ids(small_index, "Ostrander", mode="lexical") == {old["id"]}
    assert check_index(small_index)[1] == []


def test_deleted_articles_never_come_back_in_any_mode_filter_or_grouping(small_index: Path) -> None:
    gone = {RECORDS[1]["id"], RECORDS[3]["id"]}
    report = delete_articles(small_index, [*sorted(gone), "never-there"])
    assert report.deleted == 2 and report.missing == ["never-there"]
    with IndexReader(small_index) as reader:
        searcher = Searcher(reader, FakeEncoder())
        for mode in ("dense", "lexical", "hybrid"):
            for group in ("article", "passage"):
                for kwargs in ({}, {"sources": ["The Harbour Gazette"]}, {"end": datetime.date(2030, 1, 1)}):
                    hits = searcher.search(
                        "harbour council story ferries", SearchOptions(k=100, mode=mode, group=group, **kwargs)
                    ).hits  # type: ignore[arg-type]
                    assert gone.isdisjoint({h.passage.article_id for h in hits}), (mode, group, kwargs)
                    assert hits
    assert check_index(small_index)[1] == []


def test_a_delete_shares_the_vector_file_with_the_generation_before_and_an_add_writes_a_new_one(
    small_index: Path,
) -> None:
    """A delete adds no vector: the file is hard-linked, not rewritten (its checksum is lent, and still checks)."""
    before = resolve_generation(small_index) / VECTORS
    delete_articles(small_index, [RECORDS[0]["id"]])
    after = resolve_generation(small_index) / VECTORS
    assert after != before and after.stat().st_ino == before.stat().st_ino
    IndexReader(small_index, verify=True).close()  # every file's sha256 against the manifest
    assert check_index(small_index)[1] == []
    add_articles(small_index, [article(RECORDS[6])], FakeEncoder())
    assert (resolve_generation(small_index) / VECTORS).stat().st_ino != after.stat().st_ino


def test_compact_drops_deleted_vectors_and_keeps_every_search_result(small_index: Path) -> None:
    delete_articles(small_index, [RECORDS[2]["id"]])
    add_articles(small_index, [article({**RECORDS[0], "text": RECORDS[0]["text"] + " Extra words."})], FakeEncoder())
    before = IndexReader(small_index)
    assert before.manifest.counts.deleted > 0
    queries = ["ferry crews strike", "harbour budget vote", "storm bridge river"]

    def results(reader: IndexReader) -> list[Any]:
        # Dense scores are the same vectors: equal. BM25 statistics count deleted documents until tantivy merges
        # their segment away, so lexical scores may shift a little: compare which passages match.
        searcher = Searcher(reader, FakeEncoder())
        dense = [
            [
                (h.passage.passage_id, round(h.score, 5))
                for h in searcher.search(q, SearchOptions(k=20, mode="dense")).hits
            ]
            for q in queries
        ]
        lexical = [
            sorted(
                h.passage.passage_id
                for h in searcher.search(q, SearchOptions(k=100, mode="lexical", group="passage")).hits
            )
            for q in queries
        ]
        return [dense, lexical]

    expected = results(before)
    before.close()
    report = compact(small_index)
    with IndexReader(small_index) as after:
        counts = after.manifest.counts
        assert counts.deleted == 0 and counts.vectors == counts.passages == after.passages
        assert [s.row for s in after.iter_passages()] == list(range(after.passages))
        assert report.deleted > 0
        got = results(after)
    assert got == expected
    assert check_index(small_index)[1] == []


def test_an_add_with_another_model_is_refused_and_the_index_is_unchanged(small_index: Path) -> None:
    before = (small_index / CURRENT).resolve()
    with pytest.raises(ModelMismatch, match="add with that model"):
        add_articles(small_index, [article(RECORDS[6])], FakeEncoder(fingerprint="another-model"))
    assert (small_index / CURRENT).resolve() == before
    assert not list((small_index / GENERATIONS).glob(".tmp-*"))


def test_an_add_waits_for_the_writer_lock_and_gives_up_with_index_busy(small_index: Path) -> None:
    lock = acquire_write_lock(small_index)
    try:
        with pytest.raises(IndexBusy, match="another build or update"):
            add_articles(small_index, [article(RECORDS[6])], FakeEncoder(), wait=0.2)
    finally:
        lock.close()
    assert add_articles(small_index, [article(RECORDS[6])], FakeEncoder(), wait=0.2).added == 1


def test_concurrent_adds_serialise_and_lose_nothing(small_index: Path) -> None:
    batches = [[article(r)] for r in RECORDS[5:]] + [
        [Article(f"extra-{i}", f"Extra {i}", made_up_text(50 + i), "2024-05-01") for i in range(3)]
    ]
    errors: list[BaseException] = []

    def run(batch: list[Article]) -> None:
        try:
            add_articles(small_index, batch, FakeEncoder(), wait=60)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert stored_ids(small_index) == {r["id"] for r in RECORDS} | {f"extra-{i}" for i in range(3)}
    assert check_index(small_index)[1] == []


def test_an_edit_that_fails_midway_leaves_the_live_index_and_its_files_untouched(small_index: Path) -> None:
    live = (small_index / CURRENT).resolve()
    sums = json.loads((live / MANIFEST).read_text())["files"]
    editor = IndexEditor(small_index)
    editor.delete(RECORDS[0]["id"])
    editor.add(article(RECORDS[7]), [], np.zeros((0, FakeEncoder().dim), np.float32))
    editor.abort()
    assert (small_index / CURRENT).resolve() == live
    assert check_index(small_index)[1] == []
    assert json.loads((live / MANIFEST).read_text())["files"] == sums
    assert not list((small_index / GENERATIONS).glob(".tmp-*"))


def test_an_edit_never_changes_the_previous_generations_hard_linked_files(small_index: Path) -> None:
    with IndexReader(small_index) as holder:  # keeps the first generation from being pruned
        for r in RECORDS[5:]:
            add_articles(small_index, [article(r)], FakeEncoder())
        delete_articles(small_index, [RECORDS[0]["id"]])
        compact(small_index)
        assert check_index(holder.generation)[1] == []  # every checksum of the first generation still holds


def test_a_reader_keeps_its_generation_from_being_pruned_while_it_is_open(small_index: Path) -> None:
    with IndexReader(small_index) as reader:
        held = reader.generation
        for r in RECORDS[5:]:
            add_articles(small_index, [article(r)], FakeEncoder())
        assert held.is_dir()
        assert len(reader.fetch([0])) == 1  # still readable
    add_articles(small_index, [article({**RECORDS[5], "text": "A new text about the ferry."})], FakeEncoder())
    assert not held.exists()


def test_add_from_files_reports_bad_records_and_adds_the_good_ones(small_index: Path, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "more.jsonl", [RECORDS[6], "{not json", {"id": "no-text"}, RECORDS[7]])
    report = add_files(small_index, [path], FakeEncoder())
    assert report.added == 2 and report.skipped == 2 and report.read == 4
    assert [p.line for p in report.problems] == [2, 3]


# --- index check ------------------------------------------------------------------------------------------------


def test_check_names_a_store_row_missing_from_the_lexical_index(small_index: Path) -> None:
    import sqlite3

    generation = (small_index / CURRENT).resolve()
    os.chmod(generation / STORE, 0o644)
    with sqlite3.connect(generation / STORE) as db:
        db.execute("UPDATE passages SET row = row + 1000 WHERE row = 0")
    problems = check_index(small_index)[1]
    text = "\n".join(problems)
    assert "passages.sqlite3: contents differ" in text
    assert "rows without a vector" in text and "1000" in text
    assert "stored passages missing from the lexical index, rows 1000" in text
    assert "documents for rows not in the store (deleted?), rows 0" in text


def test_check_names_a_lexical_index_that_holds_a_deleted_passage(small_index: Path, tmp_path: Path) -> None:
    delete_articles(small_index, [RECORDS[0]["id"]])
    deleted_gen = (small_index / CURRENT).resolve()
    previous = json.loads((deleted_gen / MANIFEST).read_text())["update"]["base"]
    # Put back the lexical index from before the delete: it still has the deleted article's passages.
    shutil.rmtree(deleted_gen / LEXICAL)
    shutil.copytree(small_index / GENERATIONS / previous / LEXICAL, deleted_gen / LEXICAL)
    problems = check_index(small_index)[1]
    assert any("documents for rows not in the store (deleted?)" in p for p in problems)
    assert any("lexical" in p and "documents, the manifest says" in p for p in problems)


def test_check_cli_says_what_is_wrong_and_exits_2(small_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest_path = (small_index / CURRENT).resolve() / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["counts"]["passages"] += 1
    manifest_path.write_text(json.dumps(manifest))
    assert index_cli.main(["check", str(small_index)]) == 2
    err = capsys.readouterr().err
    assert "passages, the manifest says" in err and "counts disagree" in err


def test_add_delete_compact_and_check_from_the_command_line(
    small_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import index.embed

    monkeypatch.setattr(index.embed, "Encoder", lambda *a, **k: FakeEncoder())
    more = write_jsonl(tmp_path / "more.jsonl", RECORDS[5:])
    assert index_cli.main(["add", "--index", str(small_index), "--no-cache", str(more)]) == 0
    assert "added 4" in capsys.readouterr().err
    assert index_cli.main(["delete", "--index", str(small_index), RECORDS[5]["id"]]) == 0
    assert index_cli.main(["delete", "--index", str(small_index), "no-such-id"]) == 1
    assert "not in the index: no-such-id" in capsys.readouterr().err
    assert index_cli.main(["check", str(small_index)]) == 0
    assert "deleted, not yet compacted" in capsys.readouterr().out
    assert index_cli.main(["compact", str(small_index)]) == 0
    assert index_cli.main(["check", str(small_index)]) == 0
    assert "deleted" not in capsys.readouterr().out
    assert index_cli.main(["compact", str(small_index)]) == 0
    assert "nothing to compact" in capsys.readouterr().err
    assert stored_ids(small_index) == {r["id"] for r in RECORDS} - {RECORDS[5]["id"]}


def test_an_index_built_before_rows_were_indexed_is_searched_and_upgraded_by_the_next_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tantivy

    from index import lexical
    from tests.fakes import fake_build

    def schema_without_row_terms() -> Any:
        builder = tantivy.SchemaBuilder()
        builder.add_unsigned_field("row", stored=False, indexed=False, fast=True)
        builder.add_text_field("body", stored=False, tokenizer_name=lexical.TOKENIZER)
        return builder.build()

    with monkeypatch.context() as old:  # the lexical layout and manifest of an index from before ROW_TERMS
        old.setattr(lexical, "_schema", schema_without_row_terms)
        old.setattr(lexical, "ROW_TERMS", "not_the_mark")
        fake_build([write_jsonl(tmp_path / "first.jsonl", RECORDS[:5])], tmp_path / "index")
    index_dir = tmp_path / "index"
    with IndexReader(index_dir) as reader:
        assert reader.lexical is not None and not reader.lexical.row_terms
        one = reader.rows_of_article(RECORDS[0]["id"])
        assert {reader.article_of(r) for r, _ in reader.search_lexical("harbour ferry", 10, one)} == {RECORDS[0]["id"]}

    add_articles(index_dir, [article(r) for r in RECORDS[5:]], FakeEncoder())
    manifest = json.loads((index_dir / CURRENT / MANIFEST).read_text())
    assert manifest["lexical"][lexical.ROW_TERMS] is True
    assert check_index(index_dir)[1] == []
    reader = IndexReader(index_dir)
    try:
        assert reader.lexical is not None and reader.lexical.row_terms
        for record in RECORDS:
            mask = reader.rows_of_article(record["id"])
            inside = reader.lexical.search_within("harbour ferry council", 10, np.flatnonzero(mask).tolist())
            assert inside and inside == reader.search_lexical_widened("harbour ferry council", 10, mask)
    finally:
        reader.close()
