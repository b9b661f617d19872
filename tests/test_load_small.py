"""benchmarks/load.py at CI size: a real uvicorn server on 127.0.0.1 (fake encoder), 8 concurrent clients, while
articles are POSTed and a rebuild in another process is swapped in, or while a stream of small adds runs: no
request fails, every added article is served afterwards."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.latency import free_port
from benchmarks.load import Phases, clients, post_batch, reload_stats, stream, stream_summary, verify, writers
from index.reader import IndexReader
from search.app import create_app
from search.searcher import Searcher
from search.settings import Settings
from tests.fakes import FakeEncoder, fake_build, made_up_articles, made_up_text, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
KEY = "load-key-0123456789abcdef"
QUERIES = ["harbour ferry strike", "council budget vote", "storm bridge", "quarry", "museum festival"]


def new_articles(n: int) -> list[dict[str, Any]]:
    return [
        {
            "doc_id": f"new-{i}",
            "title": f"Newly added story {i} about quarry{i}",
            "text": made_up_text(7000 + i, sentences=5),
            "publish_date": f"2024/06/{1 + i % 28}",
            "source": "load",
        }
        for i in range(n)
    ]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A served index of 40 made-up articles, writes on; its URL."""
    import uvicorn

    import benchmarks.load

    monkeypatch.setattr(benchmarks.load, "START_WRITES_S", 1.0)
    fake_build([write_jsonl(tmp_path / "base.jsonl", made_up_articles(40))], tmp_path / "index")
    settings = Settings(index=tmp_path / "index", api_key=KEY, reload_seconds=0.2)
    app = create_app(settings, searcher=Searcher(IndexReader(tmp_path / "index"), FakeEncoder()))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run)
    serving.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        serving.join(timeout=10)


def load_during(url: str, write: Callable[[Phases, float], dict[str, Any]]) -> tuple[list, dict[str, Any]]:
    """8 clients search while `write(phases, t0)` runs in a thread, and a second after it; (samples, its result)."""
    phases, t0, result = Phases(), time.perf_counter(), {}
    writer = threading.Thread(target=lambda: result.update(write(phases, t0)))
    writer.start()

    async def load() -> list[tuple[str, float, str]]:
        stop = asyncio.Event()

        async def stopper() -> None:
            while writer.is_alive():
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # and a second on the last generation
            stop.set()

        samples, _ = await asyncio.gather(clients(url, QUERIES, 8, stop, phases), stopper())
        return samples

    samples = asyncio.run(load())
    writer.join()
    return samples, result


@pytest.mark.slow
def test_searches_never_fail_while_articles_are_added_and_a_rebuild_is_swapped_in(served: str, tmp_path: Path) -> None:
    added = new_articles(40)
    added_file = write_jsonl(tmp_path / "added.jsonl", added)  # type: ignore[arg-type]
    base = tmp_path / "base.jsonl"
    rebuild = [sys.executable, "-m", "tests.crash_worker", "build", str(tmp_path / "index"), str(base), str(added_file)]
    samples, result = load_during(
        served, lambda phases, t0: writers(served, KEY, added, 10, rebuild, tmp_path / "rebuild.log", phases, t0)
    )
    time.sleep(0.5)
    assert [o for _, _, o in samples if o != "ok"] == []
    assert {p for p, _, _ in samples} >= {"adding", "rebuilding"}, "the load did not overlap the writes"
    assert [p["status"] for p in result["posts"]] == [200] * 4 and result["rebuild"]["exit"] == 0
    assert verify(served, added) == {"checked": 40, "not_served": [], "not_found_by_title": []}


@pytest.mark.slow
def test_a_stream_of_posted_adds_is_served_as_each_returns_and_no_search_fails(served: str) -> None:
    added = new_articles(15)
    samples, result = load_during(served, lambda phases, t0: stream(served, KEY, post_batch, added, 3, 0.3, phases, t0))
    assert [o for _, _, o in samples if o != "ok"] == []
    assert "streaming adds" in {p for p, _, _ in samples}, "the load did not overlap the adds"
    adds = result["adds"]
    assert [(a["status"], a["added"]) for a in adds] == [(200, 3)] * 5 and result["error"] is None
    # The service reloads before it answers a POST: the first check after it finds every article.
    assert all(a["lag_s"] is not None and a["lag_s"] < 5 for a in adds)
    summary = stream_summary(adds, 3, 0.3)
    assert summary["batches"] == 5 and summary["batches_never_served"] == 0
    assert summary["lag_s"]["max"] == max(a["lag_s"] for a in adds)
    assert verify(served, added) == {"checked": 15, "not_served": [], "not_found_by_title": []}
    assert summary["max_late_s"] < 1.0  # each add starts on the clock, whether or not the one before returned
    # Adds that arrive while one is written share the next generation: one load per generation, at most one per add.
    assert reload_stats(httpx.get(f"{served}/metrics").text)["count"] == summary["generations"] <= 5
