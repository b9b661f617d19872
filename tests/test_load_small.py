"""benchmarks/load.py at CI size: a real uvicorn server on 127.0.0.1 (fake encoder), 8 concurrent clients, while
articles are POSTed and a rebuild in another process is swapped in: no request fails, every added article is
served afterwards."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path

import pytest

from benchmarks.latency import free_port
from benchmarks.load import Phases, clients, verify, writers
from index.reader import IndexReader
from search.app import create_app
from search.searcher import Searcher
from search.settings import Settings
from tests.fakes import FakeEncoder, fake_build, made_up_articles, made_up_text, write_jsonl

ROOT = Path(__file__).resolve().parents[1]
KEY = "load-key-0123456789abcdef"


@pytest.mark.slow
def test_searches_never_fail_while_articles_are_added_and_a_rebuild_is_swapped_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    import benchmarks.load

    monkeypatch.setattr(benchmarks.load, "START_WRITES_S", 1.0)

    base = write_jsonl(tmp_path / "base.jsonl", made_up_articles(40))
    fake_build([base], tmp_path / "index")
    added = [
        {
            "doc_id": f"new-{i}",
            "title": f"Newly added story {i} about quarry{i}",
            "text": made_up_text(7000 + i, sentences=5),
            "publish_date": f"2024/06/{1 + i % 28}",
            "source": "load",
        }
        for i in range(40)
    ]
    added_file = write_jsonl(tmp_path / "added.jsonl", added)  # type: ignore[arg-type]
    rebuild = [sys.executable, "-m", "tests.crash_worker", "build", str(tmp_path / "index"), str(base), str(added_file)]

    settings = Settings(index=tmp_path / "index", api_key=KEY, reload_seconds=0.2)
    app = create_app(settings, searcher=Searcher(IndexReader(tmp_path / "index"), FakeEncoder()))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = threading.Thread(target=server.run)
    serving.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        phases, t0, result = Phases(), time.perf_counter(), {}
        writer = threading.Thread(
            target=lambda: result.update(writers(url, KEY, added, 10, rebuild, tmp_path / "rebuild.log", phases, t0))
        )
        writer.start()

        async def load() -> list[tuple[str, float, str]]:
            stop = asyncio.Event()

            async def stopper() -> None:
                while writer.is_alive():
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)  # and a second on the rebuilt generation
                stop.set()

            queries = ["harbour ferry strike", "council budget vote", "storm bridge", "quarry", "museum festival"]
            samples, _ = await asyncio.gather(clients(url, queries, 8, stop, phases), stopper())
            return samples

        samples = asyncio.run(load())
        writer.join()
        time.sleep(0.5)
        checked = verify(url, added)
    finally:
        server.should_exit = True
        serving.join(timeout=10)
    assert [o for _, _, o in samples if o != "ok"] == []
    assert {p for p, _, _ in samples} >= {"adding", "rebuilding"}, "the load did not overlap the writes"
    assert [p["status"] for p in result["posts"]] == [200] * 4 and result["rebuild"]["exit"] == 0
    assert checked == {"checked": 40, "not_served": [], "not_found_by_title": []}
