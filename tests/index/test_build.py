"""Build: the report reconciles with the input and the index; bad records are listed; the cache skips known text."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from index.build import build_index
from index.errors import BuildFailed
from tests.fakes import FakeEncoder, OpenReader, made_up_articles, write_jsonl
from tests.fakes import fake_build as build


@pytest.fixture
def messy_inputs(tmp_path: Path) -> tuple[list[Path], set[tuple[str, int]]]:
    """Good articles in four formats mixed with bad records; returns the inputs and each bad record's (file, line)."""
    good = made_up_articles(5)
    jsonl = tmp_path / "in" / "a.jsonl"
    jsonl.parent.mkdir()
    lines = [
        json.dumps(good[0]),
        '{"id": "broken", ',  # 2: invalid JSON
        json.dumps({"id": "no-text", "title": "Title only"}),  # 3: no text
        json.dumps({**good[1], "date": "sometime"}),  # 4: unreadable date: a warning, still indexed
        json.dumps(good[2]),
        json.dumps({**good[3], "id": good[0]["id"]}),  # 6: duplicate id
    ]
    jsonl.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "latin", "text": "caf\xe9"}\n')  # 7: not UTF-8
    csv_path = tmp_path / "in" / "b.csv"
    csv_path.write_text("id,title,text,date\nc1,Bridge,The bridge reopened.,2024-01-02\nc2,too,few\n")  # 3: columns
    text_dir = tmp_path / "in" / "texts"
    text_dir.mkdir()
    (text_dir / "t1.txt").write_text(" date 2024-05-06 Lighthouse keeper retires\nThe keeper retired after 40 years.")
    (text_dir / "t2.txt").write_bytes(b"Caf\xe9 closes\nBad bytes.")  # 1: not UTF-8
    packed = tmp_path / "in" / "c.jsonl.gz"
    packed.write_bytes(gzip.compress((json.dumps(good[4]) + "\n").encode()))
    bad = {
        (str(jsonl), 2),
        (str(jsonl), 3),
        (str(jsonl), 6),
        (str(jsonl), 7),
        (str(csv_path), 3),
        (str(text_dir / "t2.txt"), 1),
    }
    return [jsonl, csv_path, text_dir, packed], bad


def test_the_report_reconciles_read_indexed_and_skipped_with_the_index(
    messy_inputs: tuple[list[Path], set[tuple[str, int]]], tmp_path: Path, open_reader: OpenReader
) -> None:
    inputs, bad = messy_inputs
    report = build(inputs, tmp_path / "index")
    reader = open_reader(tmp_path / "index")
    assert report.read == report.indexed + report.skipped
    assert (report.indexed, report.skipped) == (6, len(bad))  # a.jsonl 3, b.csv 1, t1.txt 1, c.jsonl.gz 1
    assert (reader.articles, reader.passages) == (report.indexed, report.passages)
    assert report.embedded + report.cached == report.passages
    assert reader.manifest.build["read"] == report.read
    assert reader.manifest.build["skipped"] == report.skipped


def test_every_bad_record_is_listed_with_its_file_and_line(
    messy_inputs: tuple[list[Path], set[tuple[str, int]]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, bad = messy_inputs
    report = build(inputs, tmp_path / "index")
    assert {(p.path, p.line) for p in report.problems if p.skipped} == bad
    assert [(p.path, p.line) for p in report.problems if not p.skipped] == [(str(inputs[0]), 4)]
    printed = capsys.readouterr().err
    for path, line in bad:
        assert f"{path}:{line}: skipped:" in printed
    assert f"{inputs[0]}:4: warning: unreadable date" in printed


def test_a_duplicate_article_id_is_reported_and_the_first_copy_kept(tmp_path: Path, open_reader: OpenReader) -> None:
    first, second = made_up_articles(2)
    path = write_jsonl(tmp_path / "a.jsonl", [first, {**second, "id": first["id"]}])
    report = build([path], tmp_path / "index")
    [problem] = report.problems
    assert (problem.path, problem.line) == (str(path), 2)
    assert "duplicate article id" in problem.reason
    [stored] = {p.title for p in open_reader(tmp_path / "index").iter_passages()}
    assert stored == first["title"]


def test_a_duplicate_id_across_two_files_is_reported_too(tmp_path: Path) -> None:
    [record] = made_up_articles(1)
    a = write_jsonl(tmp_path / "a.jsonl", [record])
    b = write_jsonl(tmp_path / "b.jsonl", [{**record, "text": "Another text with the same id."}])
    report = build([a, b], tmp_path / "index")
    assert [(p.path, p.line) for p in report.problems] == [(str(b), 1)]


def test_the_summary_names_the_counts_and_the_reasons_for_skipping(
    messy_inputs: tuple[list[Path], set[tuple[str, int]]], tmp_path: Path
) -> None:
    inputs, _ = messy_inputs
    report = build(inputs, tmp_path / "index")
    summary = report.summary()
    assert f"read {report.read:,} articles: indexed {report.indexed:,}, skipped {report.skipped:,}" in summary
    assert "duplicate article id" in summary and "invalid JSON" in summary
    assert sum(report.as_dict()["skipped_by_reason"].values()) == report.skipped


def test_a_strict_build_fails_on_any_bad_record_and_says_how_many(
    messy_inputs: tuple[list[Path], set[tuple[str, int]]], tmp_path: Path
) -> None:
    inputs, bad = messy_inputs
    with pytest.raises(BuildFailed, match=f"{len(bad) + 1} problems"):  # the date warning counts under --strict
        build(inputs, tmp_path / "index", strict=True)
    assert not (tmp_path / "index" / "current").exists()


def test_a_strict_build_of_clean_input_succeeds(articles_file: Path, tmp_path: Path) -> None:
    report = build([articles_file], tmp_path / "index", strict=True)
    assert report.problems == [] and report.indexed == len(made_up_articles())


def test_a_window_wider_than_the_model_reads_is_refused(articles_file: Path, tmp_path: Path) -> None:
    from index.split import SplitSettings

    encoder = FakeEncoder(max_tokens=128)
    with pytest.raises(BuildFailed, match="exceeds the model's limit"):
        build_index([articles_file], tmp_path / "index", encoder, SplitSettings(max_tokens=129), progress=False)


# --- embedding cache -------------------------------------------------------------------------------------------


def test_a_second_build_of_the_same_input_embeds_nothing_and_gives_identical_vectors(
    articles_file: Path, tmp_path: Path, open_reader: OpenReader
) -> None:
    cache = tmp_path / "cache" / "embeddings.sqlite3"
    first = build([articles_file], tmp_path / "one", cache_path=cache)
    assert (first.embedded, first.cached) == (first.passages, 0)
    encoder = FakeEncoder()
    second = build([articles_file], tmp_path / "two", encoder, cache_path=cache)
    assert (second.embedded, second.cached) == (0, second.passages)
    assert encoder.documents_embedded == 0
    one, two = open_reader(tmp_path / "one"), open_reader(tmp_path / "two")
    assert np.array_equal(one.vectors(range(one.passages)), two.vectors(range(two.passages)))
    assert [p.passage_id for p in one.iter_passages()] == [p.passage_id for p in two.iter_passages()]


def test_after_one_article_changes_only_its_passages_are_embedded(
    articles_file: Path, tmp_path: Path, open_reader: OpenReader
) -> None:
    cache = tmp_path / "cache.sqlite3"
    build([articles_file], tmp_path / "index", cache_path=cache)
    records = made_up_articles()
    records[0] = {**records[0], "text": records[0]["text"] + " The ferry resumed on Friday."}
    changed = write_jsonl(tmp_path / "changed.jsonl", records)
    report = build([changed], tmp_path / "index", cache_path=cache)
    assert report.embedded == len(
        [p for p in open_reader(tmp_path / "index").iter_passages() if p.article_id == records[0]["id"]]
    )
    assert report.embedded >= 1 and report.cached == report.passages - report.embedded


def test_the_cache_is_not_shared_between_different_models(articles_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    build([articles_file], tmp_path / "a", cache_path=cache)
    other = build([articles_file], tmp_path / "b", FakeEncoder(fingerprint="another-model"), cache_path=cache)
    assert other.cached == 0 and other.embedded == other.passages


def test_the_cache_is_not_shared_between_the_dtypes_that_embedded_passages(articles_file: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite3"
    build([articles_file], tmp_path / "fp32", FakeEncoder(dtype="float32"), cache_path=cache)
    bf16 = build([articles_file], tmp_path / "bf16", FakeEncoder(dtype="bfloat16"), cache_path=cache)
    assert bf16.cached == 0 and bf16.embedded == bf16.passages
    again = build([articles_file], tmp_path / "bf16-again", FakeEncoder(dtype="bfloat16"), cache_path=cache)
    assert again.cached == again.passages


def test_bf16_vectors_keep_the_cache_key_of_caches_written_before_the_dtype_was_in_it() -> None:
    assert FakeEncoder(fingerprint="abc", dtype="bfloat16").info.cache_key == "abc"
    assert FakeEncoder(fingerprint="abc", dtype="float32").info.cache_key == "abc/float32"


def test_a_build_without_a_cache_embeds_everything_every_time(articles_file: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        report = build([articles_file], tmp_path / name)
        assert (report.embedded, report.cached) == (report.passages, 0)
