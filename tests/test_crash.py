"""Crash safety: real build and add processes SIGKILLed at every file operation (and at random moments) leave the
served index whole: the old state or the new one, never a mix; `index check` passes; the next add completes."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from index.articles import Article
from index.check import check_index
from index.generations import GENERATIONS, resolve_generation, store_files
from index.manifest import Manifest
from index.reader import IndexReader
from index.update import add_articles
from search.searcher import Searcher, SearchOptions
from tests.fakes import FakeEncoder, fake_build, made_up_articles, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
RECORDS = made_up_articles(60)
OLD = {r["id"] for r in RECORDS[:40]}
DELETED = RECORDS[1]["id"]
NEW = (OLD | {r["id"] for r in RECORDS[40:]}) - {DELETED}
REBUILT = {r["id"] for r in RECORDS}
ONE_MORE = OLD | {RECORDS[40]["id"]}  # add-small: one article, written as a new vector part beside the build's


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the first 40 articles in two store segments (39 built, 1 added), and the inputs: a.jsonl
    (those 40), b.jsonl (20 more), c.jsonl (the first of those 20). So an add writes a segment (add-small folds
    it with the one before), a delete a deletes file, an add of 20 folds every segment into one."""
    root = tmp_path_factory.mktemp("crash")
    write_jsonl(root / "a.jsonl", RECORDS[:40])
    write_jsonl(root / "b.jsonl", RECORDS[40:])
    write_jsonl(root / "c.jsonl", RECORDS[40:41])
    fake_build([write_jsonl(root / "first.jsonl", RECORDS[:39])], root / "index")
    add_articles(root / "index", [Article(**as_fields(RECORDS[39]))], FakeEncoder())
    assert len(store_files(Manifest.read(resolve_generation(root / "index")).files)) == 2
    return root


def as_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {"article_id" if k == "id" else k: v for k, v in record.items()}


def worker(command: str, index: Path, inputs: list[Path], *extra: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.crash_worker", command, str(index), *map(str, inputs), *extra]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def steps_of(command: str, base: Path, tmp_path: Path) -> int:
    index = fresh_copy(base, tmp_path / "count")
    out, err = run(command, index, base).communicate(timeout=120)
    assert out.startswith("steps="), err
    return int(out.split("=")[1])


def job(command: str, base: Path) -> tuple[list[Path], ...]:
    if command == "build":
        return ([base / "a.jsonl", base / "b.jsonl"],)
    if command == "delete":
        return ([], ["--delete", DELETED])  # type: ignore[return-value]
    if command == "add-small":
        return ([base / "c.jsonl"],)
    return ([base / "b.jsonl"], ["--delete", DELETED])  # type: ignore[return-value]


def run(command: str, index: Path, base: Path, *extra: str) -> subprocess.Popen[str]:
    inputs, *more = job(command, base)
    return worker(command, index, inputs, *(more[0] if more else []), *extra)


def fresh_copy(base: Path, target: Path) -> Path:
    shutil.copytree(base / "index", target, symlinks=True)
    return target


def served_state(index: Path) -> set[str]:
    """The served index is sound (check passes) and searchable in every mode; returns its article ids."""
    _, problems = check_index(index)
    assert problems == [], problems
    reader = IndexReader(index)
    try:
        searcher = Searcher(reader, FakeEncoder())
        for mode in ("dense", "lexical", "hybrid"):
            assert searcher.search("harbour council ferry", SearchOptions(k=5, mode=mode)).hits  # type: ignore[arg-type]
        ids = reader.article_ids()
        found = {
            h.passage.article_id
            for h in searcher.search("harbour council story", SearchOptions(k=100, mode="dense")).hits
        }
        assert found == ids  # every stored article is found, nothing deleted comes back
        return ids
    finally:
        reader.close()


def assert_crash_then_recovery(command: str, index: Path, base: Path, process: subprocess.Popen[str]) -> None:
    out, err = process.communicate(timeout=120)
    after = served_state(index)
    if process.returncode == -signal.SIGKILL:
        done = {"add": NEW, "add-small": ONE_MORE, "delete": OLD - {DELETED}, "build": REBUILT}[command]
        assert after in ({*OLD}, done), "a mix of old and new state"
    else:
        assert process.returncode == 0, err
    # The next add completes, on whatever the crash left.
    out, err = run("add", index, base).communicate(timeout=120)
    assert out.startswith("steps="), err
    assert served_state(index) == (NEW if after != REBUILT else REBUILT - {DELETED})
    assert not list((index / GENERATIONS).glob(".tmp-*")), "a killed writer's leftovers were not cleaned up"


def kill_points(n: int, sample: int | None) -> list[int]:
    points = list(range(1, n + 1))
    if sample is None or sample >= n:
        return points
    return sorted(random.Random(n).sample(points, sample))


@pytest.mark.parametrize("command", ["build", "add", "add-small", "delete"])
def test_a_writer_killed_at_sampled_file_operations_leaves_a_sound_index(
    command: str, base: Path, tmp_path: Path
) -> None:
    n = steps_of(command, base, tmp_path)
    for at in kill_points(n, sample=3):
        index = fresh_copy(base, tmp_path / f"{command}-{at}")
        assert_crash_then_recovery(command, index, base, run(command, index, base, "--kill-at", str(at)))


@pytest.mark.slow
@pytest.mark.parametrize("command", ["build", "add", "add-small", "delete"])
def test_a_writer_killed_at_every_file_operation_leaves_a_sound_index(command: str, base: Path, tmp_path: Path) -> None:
    n = steps_of(command, base, tmp_path)
    killed = 0
    for at in kill_points(n, sample=None):
        index = fresh_copy(base, tmp_path / f"{command}-{at}")
        process = run(command, index, base, "--kill-at", str(at))
        assert_crash_then_recovery(command, index, base, process)
        killed += process.returncode == -signal.SIGKILL
    assert killed == n


@pytest.mark.slow
@pytest.mark.parametrize("command", ["build", "add"])
def test_a_writer_killed_at_random_moments_leaves_a_sound_index(command: str, base: Path, tmp_path: Path) -> None:
    rng = random.Random(5)
    started = time.perf_counter()
    run(command, fresh_copy(base, tmp_path / "timing"), base).communicate(timeout=120)
    duration = time.perf_counter() - started
    for i in range(15):
        index = fresh_copy(base, tmp_path / f"{command}-random-{i}")
        process = run(command, index, base)
        time.sleep(rng.uniform(0, duration))
        process.send_signal(signal.SIGKILL)
        assert_crash_then_recovery(command, index, base, process)
