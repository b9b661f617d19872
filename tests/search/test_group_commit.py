"""Group commit through the API: writes queued behind one in progress share the next generation, each answered
with its own counts; a failed group fails each of its writes with a message; the committer's bound and wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import search.routes.articles
from index.errors import IndexBusy
from index.generations import CURRENT
from search.group_commit import GroupCommitter
from tests.search.test_live import API_KEY, WRITE, make_client, new_article, searchable


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class HeldFirstWrite:
    """Wraps add_batches: the first call waits until `release` is set (so later writes queue behind it); the
    call numbered `fail_on` raises instead of writing."""

    def __init__(self, real: Callable[..., Any], fail_on: int | None = None) -> None:
        self.real, self.fail_on = real, fail_on
        self.release, self.entered = threading.Event(), threading.Event()
        self.groups: list[int] = []  # batches per call

    def __call__(self, index: Path, batches: list[Any], *args: Any, **kwargs: Any) -> Any:
        self.groups.append(len(batches))
        if len(self.groups) == 1:
            self.entered.set()
            assert self.release.wait(30)
        if len(self.groups) == self.fail_on:
            raise OSError("No space left on device")
        return self.real(index, batches, *args, **kwargs)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldFirstWrite:
    wrapper = HeldFirstWrite(search.routes.articles.add_batches)
    monkeypatch.setattr(search.routes.articles, "add_batches", wrapper)
    return wrapper


@pytest.fixture
def writer(built_index: Path) -> Iterator[TestClient]:
    with make_client(built_index, api_key=API_KEY, reload_seconds=0) as client:
        yield client


def queue_writes(
    client: TestClient, held: HeldFirstWrite, writes: list[Callable[[], Any]]
) -> tuple[list[Any], list[threading.Thread]]:
    """Start writes[0] (held inside its write), then each next one once the one before is queued; returns the
    answers (filled as the threads end) and the threads."""
    answers: list[Any] = [None] * len(writes)
    committer = client.app.state.committer  # type: ignore[attr-defined]

    def run(i: int) -> None:
        answers[i] = writes[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(writes))]
    threads[0].start()
    assert held.entered.wait(20)
    for i, thread in enumerate(threads[1:], start=1):
        thread.start()
        wait_for(lambda i=i: committer.queued == i)  # type: ignore[misc]
    return answers, threads


def finish(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a write never answered"


def test_writes_queued_behind_one_share_one_generation_and_each_gets_its_own_counts(
    writer: TestClient, held: HeldFirstWrite
) -> None:
    found_after: dict[int, set[str]] = {}

    def post(i: int, articles: list[dict[str, Any]]) -> Callable[[], Any]:
        def go() -> Any:
            r = writer.post("/articles", json={"articles": articles}, headers=WRITE)
            found_after[i] = searchable(writer, "zanzibarite") | searchable(writer, "wombats")
            return r

        return go

    writes = [
        post(0, [new_article(1)]),
        post(1, [new_article(2), new_article(3)]),
        post(2, [new_article(3, "wombats"), new_article(4)]),  # live-3 again, changed: an update of the group's add
        post(3, [new_article(2)]),  # live-2 again, the same: unchanged
        lambda: writer.delete("/articles/ferry-strike", headers=WRITE),
    ]
    answers, threads = queue_writes(writer, held, writes)
    held.release.set()
    finish(threads)
    assert [a.status_code for a in answers] == [200] * 5
    bodies = [a.json() for a in answers]
    counts = [(b["added"], b["updated"], b["unchanged"], b["deleted"]) for b in bodies]
    assert counts == [(1, 0, 0, 0), (2, 0, 0, 0), (1, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)]
    assert held.groups == [1, 4]  # five writes, two generations
    assert len({b["generation"] for b in bodies[1:]}) == 1 and bodies[0]["generation"] != bodies[1]["generation"]
    for i, article_ids in [(0, {"live-1"}), (1, {"live-2", "live-3"}), (2, {"live-3", "live-4"}), (3, {"live-2"})]:
        assert article_ids <= found_after[i], i  # searchable when its own POST returned
    assert "live-3" not in searchable(writer, "zanzibarite")  # the later batch's version won
    assert writer.get("/articles/ferry-strike").status_code == 404


def test_a_group_that_fails_answers_each_of_its_writes_with_a_503_and_writes_none(
    writer: TestClient, held: HeldFirstWrite, built_index: Path
) -> None:
    held.fail_on = 2

    def post(i: int) -> Callable[[], Any]:
        return lambda: writer.post("/articles", json={"articles": [new_article(i)]}, headers=WRITE)

    answers, threads = queue_writes(writer, held, [post(1), post(2), post(3), post(4)])
    held.release.set()
    finish(threads)
    assert answers[0].status_code == 200
    generation = (built_index / CURRENT).resolve().name
    assert answers[0].json()["generation"] == generation
    for answer in answers[1:]:
        assert answer.status_code == 503
        detail = answer.json()["detail"]
        assert (
            "No space left on device" in detail and "with 2 other writes" in detail and "nothing was written" in detail
        )
    assert held.groups == [1, 3]
    assert searchable(writer, "zanzibarite") & {"live-2", "live-3", "live-4"} == set()
    assert writer.post("/articles", json={"articles": [new_article(2)]}, headers=WRITE).json()["added"] == 1


class HeldApply:
    """An `apply` for a GroupCommitter that upper-cases its items; its first group waits until `release` is set."""

    def __init__(self) -> None:
        self.applied: list[list[str]] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, items: list[str]) -> list[str]:
        self.entered.set()
        assert self.release.wait(20)
        self.applied.append(items)
        return [item.upper() for item in items]


def test_a_group_takes_queued_items_in_order_up_to_its_bound() -> None:
    apply = HeldApply()
    committer: GroupCommitter[str, str] = GroupCommitter(apply, max_size=10)
    sizes = {"a": 1, "b": 6, "c": 4, "d": 3, "e": 20, "f": 1}
    results: dict[str, str] = {}

    def submit(name: str) -> None:
        results[name] = committer.submit(name, sizes[name], 30)

    threads = [threading.Thread(target=submit, args=(name,)) for name in sizes]
    threads[0].start()
    assert apply.entered.wait(20)  # "a" is being applied: the others queue
    for i, thread in enumerate(threads[1:], start=1):
        thread.start()
        wait_for(lambda i=i: committer.queued == i)  # type: ignore[misc]
    apply.release.set()
    finish(threads)
    assert apply.applied == [["a"], ["b", "c"], ["d"], ["e"], ["f"]]  # b+c = 10 fits; e (20) alone, over the bound
    assert results == {n: n.upper() for n in sizes}
    assert committer.groups == 5


def test_a_write_that_waits_too_long_is_busy_and_never_applied() -> None:
    apply = HeldApply()
    committer: GroupCommitter[str, str] = GroupCommitter(apply, max_size=10)
    first = threading.Thread(target=committer.submit, args=("first", 1, 30))
    first.start()
    assert apply.entered.wait(20)
    with pytest.raises(IndexBusy):
        committer.submit("late", 1, 0.1)
    apply.release.set()
    finish([first])
    assert apply.applied == [["first"]] and committer.queued == 0
