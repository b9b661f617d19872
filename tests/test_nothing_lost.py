"""Nothing lost (a property): after any sequence of adds, updates, deletes, compactions and killed writers, the
searchable article ids are exactly those accepted minus those deleted, each at its latest accepted version."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from index.articles import Article
from index.check import check_index
from index.generations import first_row, resolve_generation, store_files, vector_files
from index.manifest import Manifest
from index.reader import IndexReader
from index.update import add_articles, compact, delete_articles
from search.searcher import Searcher, SearchOptions
from tests.fakes import FakeEncoder, fake_build, made_up_text, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
IDS = [f"a{n}" for n in range(10)]


def marker(article_id: str, version: int) -> str:
    return f"kw{article_id}v{version}"  # one word, in no other article or version


def record(article_id: str, version: int) -> dict[str, str]:
    seed = int(article_id[1:]) * 10 + version
    return {
        "id": article_id,
        "title": f"Harbour story {article_id}",
        "text": f"{made_up_text(seed, sentences=3 + version)} The marker is {marker(article_id, version)} here.",
        "date": f"2024-01-{1 + seed % 28:02d}",
    }


def article(article_id: str, version: int) -> Article:
    r = record(article_id, version)
    return Article(r["id"], r["title"], r["text"], r["date"])


batches = st.dictionaries(st.sampled_from(IDS), st.integers(0, 3), min_size=1, max_size=4)


class NothingLost(RuleBasedStateMachine):
    crashes = True

    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="dateline-nothing-lost-"))
        self.index = self.root / "index"
        self.model: dict[str, int] = {}  # article id -> version accepted and not deleted

    @initialize(first=batches)
    def build(self, first: dict[str, int]) -> None:
        fake_build([write_jsonl(self.root / "first.jsonl", [record(i, v) for i, v in first.items()])], self.index)
        self.model = dict(first)

    @rule(batch=batches)
    def add(self, batch: dict[str, int]) -> None:
        add_articles(self.index, [article(i, v) for i, v in batch.items()], FakeEncoder())
        self.model.update(batch)

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=3, unique=True))
    def delete(self, ids: list[str]) -> None:
        report = delete_articles(self.index, ids)
        assert set(report.missing) == set(ids) - set(self.model)
        for i in ids:
            self.model.pop(i, None)

    @rule(batch=batches, gone=st.lists(st.sampled_from(IDS), max_size=2, unique=True))
    def add_and_delete(self, batch: dict[str, int], gone: list[str]) -> None:
        add_articles(self.index, [article(i, v) for i, v in batch.items()], FakeEncoder(), delete=gone)
        for i in gone:
            if i not in batch:
                self.model.pop(i, None)
        self.model.update(batch)

    @rule()
    def compact(self) -> None:
        compact(self.index)

    @precondition(lambda self: self.crashes)
    @rule(batch=batches, gone=st.lists(st.sampled_from(IDS), max_size=2, unique=True), kill_at=st.integers(1, 40))
    def killed_add(self, batch: dict[str, int], gone: list[str], kill_at: int) -> None:
        """An add in another process, SIGKILLed before its `kill_at`-th file operation (if it gets that far)."""
        inputs = write_jsonl(self.root / "batch.jsonl", [record(i, v) for i, v in batch.items()])
        extra = [a for g in gone for a in ("--delete", g)]
        args = [sys.executable, "-m", "tests.crash_worker", "add", str(self.index), str(inputs), *extra]
        done = subprocess.run([*args, "--kill-at", str(kill_at)], cwd=ROOT, capture_output=True, text=True, timeout=120)
        after = dict(self.model)
        for i in gone:
            if i not in batch:
                after.pop(i, None)
        after.update(batch)
        if done.returncode == 0:
            self.model = after
            return
        assert done.returncode == -signal.SIGKILL, done.stderr
        served = self.served()
        assert served in (self.model, after), "a killed add left a mix of old and new"
        self.model = served

    def served(self) -> dict[str, int]:
        """Article id -> version, as the served index has them (read from each article's marker word)."""
        reader = IndexReader(self.index)
        try:
            found: dict[str, int] = {}
            for p in reader.iter_passages():
                for v in range(4):
                    if marker(p.article_id, v) in p.text:
                        found[p.article_id] = v
            return found
        finally:
            reader.close()

    @invariant()
    def searchable_ids_are_accepted_minus_deleted(self) -> None:
        if not self.index.exists():
            return
        assert check_index(self.index)[1] == []
        files = Manifest.read(resolve_generation(self.index)).files
        # the store's segments start where the vector parts do (the build's, then each add's, folded alike)
        assert [first for first, _ in store_files(files)] == [first_row(v) for v in vector_files(files)]
        reader = IndexReader(self.index)
        try:
            assert reader.article_ids() == set(self.model)
            searcher = Searcher(reader, FakeEncoder())
            dense = searcher.search("harbour story marker", SearchOptions(k=100, mode="dense", recency=0)).hits
            assert {h.passage.article_id for h in dense} == set(self.model)
            for i in IDS:
                for v in range(4):
                    hits = searcher.search(marker(i, v), SearchOptions(k=5, mode="lexical", recency=0)).hits
                    expected = {i} if self.model.get(i) == v else set()
                    assert {h.passage.article_id for h in hits} == expected, (i, v)
        finally:
            reader.close()

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class NothingLostInProcess(NothingLost):
    crashes = False


TestNothingLostInProcess = NothingLostInProcess.TestCase
TestNothingLostInProcess.settings = settings(max_examples=10, stateful_step_count=8, deadline=None)

TestNothingLostWithKilledWriters = pytest.mark.slow(NothingLost.TestCase)
TestNothingLostWithKilledWriters.settings = settings(max_examples=25, stateful_step_count=10, deadline=None)
