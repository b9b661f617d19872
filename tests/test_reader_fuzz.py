"""Readers fuzzed (hypothesis): binary junk, wrong encodings, broken JSON and CSV, huge lines, missing fields,
truncated gzip/xz. The build never crashes; every bad record is reported at its file:line; every good one is
indexed; read = indexed + skipped."""

from __future__ import annotations

import csv
import gzip
import io
import json
import lzma
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import index.articles
from index.errors import BuildFailed
from index.reader import IndexReader
from tests.fakes import fake_build, made_up_text

HUGE = 3000  # MAX_RECORD_CHARS for these tests: a "huge" line is longer


def good(i: int, title: str) -> dict[str, str]:
    return {
        "id": f"good-{i}",
        "title": title,
        "text": made_up_text(i, sentences=3),
        "date": f"2024-02-0{1 + i % 9}",
    }


# Each kind of line: (bytes of the line given its number, whether it is a good record)
titles = st.text(max_size=30)
bad_lines = st.one_of(
    st.binary(min_size=1, max_size=60).map(lambda b: b"\xff" + b.replace(b"\n", b" ").replace(b"\r", b" ")),
    st.sampled_from([b'{"id": "x", "text": ', b"{'id': 1}", b"[1, 2, 3]", b'"just a string"', b"42", b"nul\x00l"]),
    titles.map(lambda t: json.dumps({"id": "no-text", "title": t}).encode()),
    st.sampled_from([b'{"id": "blank", "text": "   "}', b'{"id": "has#hash", "text": "words"}', b'{"text": 5}']),
    titles.map(lambda t: t.replace('"', "").replace("\n", " ").replace("\r", " ")).map(  # one line
        lambda t: ('{"id": "latin", "text": "caf\u00e9 ' + t + '"}').encode("latin-1", "replace")
    ),
    st.integers(HUGE + 1, HUGE * 2).map(lambda n: json.dumps({"id": "huge", "text": "w " * n}).encode()),
)
lines = st.lists(st.one_of(titles.map(lambda t: ("good", t)), bad_lines.map(lambda b: ("bad", b))), max_size=25)


def jsonl_bytes(kinds: list[tuple[str, object]]) -> tuple[bytes, set[str], list[int]]:
    """The file's bytes, the good ids, the line numbers of bad records."""
    out, ids, bad = [], set(), []
    for n, (kind, value) in enumerate(kinds, start=1):
        if kind == "good":
            record = good(n, str(value))
            ids.add(record["id"])
            out.append(json.dumps(record).encode())
        else:
            out.append(value)  # type: ignore[arg-type]
            bad.append(n)
    return b"".join(line + b"\n" for line in out), ids, bad


def build(path: Path, index_dir: Path) -> tuple[object, set[str]]:
    """(report, indexed ids), or (None, set()) when there was nothing to index (a clean refusal, not a crash)."""
    try:
        report = fake_build([path], index_dir)
    except BuildFailed as exc:
        assert "no article could be indexed" in str(exc)
        return None, set()
    reader = IndexReader(index_dir)
    try:
        return report, reader.article_ids()
    finally:
        reader.close()


@pytest.fixture(autouse=True)
def small_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(index.articles, "MAX_RECORD_CHARS", HUGE)


@settings(max_examples=40)
@given(kinds=lines, packing=st.sampled_from(["", ".gz", ".xz"]))
def test_every_bad_jsonl_line_is_reported_at_its_line_and_every_good_one_is_indexed(
    kinds: list[tuple[str, object]], packing: str
) -> None:
    data, ids, bad = jsonl_bytes(kinds)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz.jsonl{packing}"
        path.write_bytes({"": bytes, ".gz": gzip.compress, ".xz": lzma.compress}[packing](data))
        report, indexed = build(path, Path(tmp) / "index")
        if report is None:
            assert not ids
            return
        assert indexed == ids
        skipped = [p for p in report.problems if p.skipped]  # type: ignore[attr-defined]
        assert sorted(p.line for p in skipped) == bad
        assert all(p.path == str(path) for p in report.problems)  # type: ignore[attr-defined]
        assert report.read == report.indexed + report.skipped == len(kinds)  # type: ignore[attr-defined]


@settings(max_examples=30)
@given(kinds=lines, packing=st.sampled_from([".gz", ".xz"]), cut=st.floats(0.05, 0.95))
def test_a_truncated_archive_keeps_the_good_records_before_the_cut_and_says_where_it_broke(
    kinds: list[tuple[str, object]], packing: str, cut: float
) -> None:
    data, ids, _ = jsonl_bytes(kinds)
    packed = (gzip.compress if packing == ".gz" else lzma.compress)(data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"cut.jsonl{packing}"
        path.write_bytes(packed[: max(1, int(len(packed) * cut))])
        report, indexed = build(path, Path(tmp) / "index")
        order = [f"good-{n}" for n, (kind, _) in enumerate(kinds, start=1) if kind == "good"]
        assert indexed <= ids
        assert indexed == set(order[: len(indexed)])  # a prefix: nothing after the cut, nothing skipped before it
        if report is not None:
            assert report.read == report.indexed + report.skipped  # type: ignore[attr-defined]
            assert any("truncated or corrupt" in p.reason for p in report.problems)  # type: ignore[attr-defined]


@settings(max_examples=30)
@given(
    rows=st.lists(
        st.one_of(
            st.tuples(st.just("good"), titles),
            st.tuples(st.just("short"), st.text(max_size=10)),  # too few columns
            st.tuples(st.just("notext"), titles),
        ),
        max_size=15,
    )
)
def test_every_bad_csv_row_is_reported_at_its_line_and_every_good_one_is_indexed(rows: list[tuple[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "title", "text", "date"])
    ids, bad, line = set(), [], 2
    for n, (kind, value) in enumerate(rows):
        if kind == "good":
            record = good(n, value)
            writer.writerow([record["id"], record["title"], record["text"], record["date"]])
            ids.add(record["id"])
        elif kind == "short":
            writer.writerow([f"short-{n}", value.replace("\n", " ") or "x"])
            bad.append(line)
        else:
            writer.writerow([f"notext-{n}", value, "", ""])
            bad.append(line)
        # Quoted line breaks in a title (\n, \r or both) move the next record's line, as the reader counts them.
        line = len(io.StringIO(buffer.getvalue(), newline="").readlines()) + 1
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8")
        report, indexed = build(path, Path(tmp) / "index")
        assert indexed == ids
        if report is not None:
            assert sorted(p.line for p in report.problems if p.skipped) == bad  # type: ignore[attr-defined]
            assert report.read == report.indexed + report.skipped == len(rows)  # type: ignore[attr-defined]


@settings(max_examples=30)
@given(body=st.binary(max_size=300), name=st.sampled_from(["a.txt", "b.txt.gz", "c.txt.xz"]))
def test_a_text_file_of_any_bytes_is_indexed_or_reported_never_a_crash(body: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        pack = {".gz": gzip.compress, ".xz": lzma.compress}.get(path.suffix, bytes)
        path.write_bytes(pack(body))
        report, indexed = build(path, Path(tmp) / "index")
        if report is not None:
            assert report.read == 1 and report.indexed + report.skipped == 1  # type: ignore[attr-defined]
            assert report.indexed == len(indexed)  # type: ignore[attr-defined]
