"""The living service: write API (keys, limits, atomic batches), hot reload without failing a request."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import search.write_worker
from index.articles import Article
from index.errors import SettingsError
from index.generations import acquire_write_lock
from index.reader import IndexReader
from index.update import add_articles, add_batches, delete_articles
from search.app import create_app
from search.live import LiveSearcher
from search.searcher import Searcher, SearchOptions
from search.settings import Settings
from tests.fakes import Closes, FakeEncoder, fake_split_settings, made_up_articles, made_up_text

API_KEY = "write-key-0123456789abcdef"
READ_KEY = "read-key-0123456789abcdef"
WRITE = {"Authorization": f"Bearer {API_KEY}"}


def new_article(i: int, word: str = "") -> dict[str, Any]:
    return {
        "id": f"live-{i}",
        "title": f"Live story {i} {word}".strip(),
        "text": f"{made_up_text(500 + i)} The keyword {word or 'zanzibarite'} appears here.",
        "date": "2024-03-01",
        "source": "Live Wire",
    }


def make_client(index: Path, **settings: Any) -> TestClient:
    app = create_app(
        Settings(index=index, reload_seconds=settings.pop("reload_seconds", 0.05), **settings),
        searcher=Searcher(IndexReader(index), FakeEncoder()),
    )
    return TestClient(app)


@pytest.fixture
def writer(built_index: Path) -> Iterator[TestClient]:
    with make_client(built_index, api_key=API_KEY) as client:
        yield client


def searchable(client: TestClient, word: str, headers: dict[str, str] | None = None) -> set[str]:
    r = client.get("/search", params={"q": word, "mode": "lexical", "k": 100, "recency": 0}, headers=headers or {})
    assert r.status_code == 200, r.text
    return {h["article_id"] for h in r.json()["hits"]}


# --- keys -----------------------------------------------------------------------------------------------------


def test_without_an_api_key_there_is_no_write_api(built_index: Path) -> None:
    with make_client(built_index) as client:
        assert client.post("/articles", json={"articles": [new_article(1)]}).status_code in (404, 405)
        assert client.delete("/articles/ferry-strike").status_code in (404, 405)
        assert client.post("/admin/reload").status_code in (404, 405)
        assert "/admin/reload" not in client.get("/openapi.json").json()["paths"]
        assert client.get("/healthz").json()["writes"] is False


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong-key-0123456789"}, 403), ({"Authorization": "Basic eDp5"}, 401)],
)
def test_writes_need_the_api_key_401_without_it_403_with_a_wrong_one(
    writer: TestClient, headers: dict[str, str], status: int
) -> None:
    for response in (
        writer.post("/articles", json={"articles": [new_article(1)]}, headers=headers),
        writer.delete("/articles/ferry-strike", headers=headers),
        writer.post("/admin/reload", headers=headers),
    ):
        assert response.status_code == status, response.text
    assert "live-1" not in searchable(writer, "zanzibarite")
    assert "ferry-strike" in searchable(writer, "ferry")


def test_a_read_key_gates_searches_and_the_api_key_also_reads(built_index: Path) -> None:
    with make_client(built_index, api_key=API_KEY, read_key=READ_KEY) as client:
        assert client.get("/search", params={"q": "ferry"}).status_code == 401
        assert client.get("/search", params={"q": "ferry"}, headers={"Authorization": "Bearer nope"}).status_code == 403
        assert client.get("/articles/ferry-strike").status_code == 401
        assert searchable(client, "ferry", {"Authorization": f"Bearer {READ_KEY}"})
        assert searchable(client, "ferry", WRITE)
        assert (
            client.post("/articles", json={"articles": []}, headers={"Authorization": f"Bearer {READ_KEY}"}).status_code
            == 403
        )
        assert client.get("/healthz").status_code == 200  # liveness stays open


def test_keys_must_be_long_enough() -> None:
    with pytest.raises(SettingsError, match="DATELINE_API_KEY"):
        Settings.from_env({"DATELINE_API_KEY": "short"})
    settings = Settings.from_env({"DATELINE_API_KEY": API_KEY, "DATELINE_READ_KEY": READ_KEY})
    assert (settings.api_key, settings.read_key) == (API_KEY, READ_KEY)
    assert API_KEY not in repr(settings)


# --- writes ---------------------------------------------------------------------------------------------------


def test_posted_articles_are_searchable_when_the_post_returns(writer: TestClient) -> None:
    r = writer.post("/articles", json={"articles": [new_article(1), new_article(2)]}, headers=WRITE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["added"], body["updated"], body["unchanged"]) == (2, 0, 0)
    assert body["generation"] == writer.get("/healthz").json()["generation"]
    assert {"live-1", "live-2"} <= searchable(writer, "zanzibarite")
    assert writer.get("/articles/live-1").json()["title"] == "Live story 1"
    again = writer.post("/articles", json={"articles": [new_article(1)]}, headers=WRITE).json()
    assert (again["unchanged"], again["generation"]) == (1, body["generation"])


def test_reader_field_aliases_are_accepted(writer: TestClient) -> None:
    item = {
        "doc_id": "alias-1",
        "headline": "An alias story",
        "body": "Quixotry in the harbour.",
        "publish_date": "2024/2/3",
    }
    r = writer.post("/articles", json={"articles": [item]}, headers=WRITE)
    assert r.status_code == 200, r.text
    assert writer.get("/articles/alias-1").json() | {"passages": 1} == {
        "article_id": "alias-1",
        "title": "An alias story",
        "date": "2024-02-03",
        "source": None,
        "url": None,
        "passages": 1,
    }


def test_an_update_replaces_the_old_text_and_a_delete_removes_the_article(writer: TestClient) -> None:
    writer.post("/articles", json={"articles": [new_article(3, "quokkas")]}, headers=WRITE)
    changed = {**new_article(3, "wombats")}
    assert writer.post("/articles", json={"articles": [changed]}, headers=WRITE).json()["updated"] == 1
    assert "live-3" not in searchable(writer, "quokkas")
    assert "live-3" in searchable(writer, "wombats")
    r = writer.delete("/articles/live-3", headers=WRITE)
    assert r.status_code == 200 and r.json()["deleted"] == 1
    assert "live-3" not in searchable(writer, "wombats")
    assert writer.get("/articles/live-3").status_code == 404
    assert writer.delete("/articles/live-3", headers=WRITE).status_code == 404


def test_a_batch_with_a_bad_article_is_refused_whole_with_each_problem_and_its_index(writer: TestClient) -> None:
    batch = [new_article(4), {"id": "no-text", "title": "t"}, {"id": "a#b", "text": "x"}, new_article(4)]
    r = writer.post("/articles", json={"articles": batch}, headers=WRITE)
    assert r.status_code == 422
    problems = r.json()["detail"]["problems"]
    assert [p["index"] for p in problems] == [1, 2, 3]
    assert "no article text" in problems[0]["reason"] and "duplicate" in problems[2]["reason"]
    assert writer.get("/articles/live-4").status_code == 404


def test_an_unreadable_date_is_a_warning_and_the_article_is_added(writer: TestClient) -> None:
    r = writer.post("/articles", json={"articles": [{**new_article(5), "date": "someday"}]}, headers=WRITE)
    assert r.status_code == 200
    assert r.json()["warnings"][0]["index"] == 0 and "unreadable date" in r.json()["warnings"][0]["reason"]


def test_a_body_or_batch_over_the_limits_is_refused_with_413_before_any_work(built_index: Path) -> None:
    with make_client(built_index, api_key=API_KEY, max_body_bytes=20_000, max_batch=3) as client:
        big = {"articles": [{**new_article(6), "text": "word " * 5000}]}
        assert client.post("/articles", json=big, headers=WRITE).status_code == 413
        chunked = client.post(
            "/articles",
            content=iter([b'{"articles": [', b" " * 30_000, b"]}"]),
            headers=WRITE | {"Content-Type": "application/json"},
        )
        assert chunked.status_code == 413
        many = {"articles": [new_article(i) for i in range(4)]}
        r = client.post("/articles", json=many, headers=WRITE)
        assert r.status_code == 413 and "DATELINE_MAX_BATCH" in r.json()["detail"]
        assert client.post("/articles", json={"articles": [new_article(7)]}, headers=WRITE).status_code == 200


def test_a_write_while_another_process_holds_the_index_is_a_503_with_retry_after(built_index: Path) -> None:
    with make_client(built_index, api_key=API_KEY, write_wait_seconds=0.2) as client:
        lock = acquire_write_lock(built_index)
        try:
            r = client.post("/articles", json={"articles": [new_article(8)]}, headers=WRITE)
        finally:
            lock.close()
        assert r.status_code == 503 and r.headers["Retry-After"] == "5"
        assert client.post("/articles", json={"articles": [new_article(8)]}, headers=WRITE).status_code == 200


def test_concurrent_posts_all_land(writer: TestClient) -> None:
    results: list[int] = []

    def post(i: int) -> None:
        results.append(writer.post("/articles", json={"articles": [new_article(100 + i)]}, headers=WRITE).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 6
    assert {f"live-{100 + i}" for i in range(6)} <= searchable(writer, "zanzibarite")


# --- hot reload -----------------------------------------------------------------------------------------------


def test_the_service_picks_up_a_change_made_by_another_process_by_itself(built_index: Path) -> None:
    with make_client(built_index, reload_seconds=0.05) as client:
        before = client.get("/healthz").json()["generation"]
        record = new_article(9, "pangolins")
        add_articles(
            built_index, [Article(record["id"], record["title"], record["text"], record["date"])], FakeEncoder()
        )
        deadline = time.monotonic() + 10
        while client.get("/healthz").json()["generation"] == before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert client.get("/healthz").json()["reloads"] == 1
        assert "live-9" in searchable(client, "pangolins")
        assert "dateline_reload_seconds_count 1.0" in client.get("/metrics").text


def test_admin_reload_swaps_at_once(built_index: Path) -> None:
    with make_client(built_index, api_key=API_KEY, reload_seconds=0) as client:
        delete_articles(built_index, ["ferry-strike"])
        assert "ferry-strike" in searchable(client, "ferry")  # no watcher: still the old generation
        r = client.post("/admin/reload", headers=WRITE)
        assert r.json()["reloaded"] is True
        assert "ferry-strike" not in searchable(client, "ferry")
        assert client.post("/admin/reload", headers=WRITE).json()["reloaded"] is False


def test_a_swap_waits_for_requests_in_flight_before_closing_the_old_searcher(built_index: Path, closes: Closes) -> None:
    live = closes(LiveSearcher(built_index, Searcher(IndexReader(built_index), FakeEncoder())))
    closed: list[str] = []
    with live.lease() as old:
        old_close = old.close
        old.close = lambda: (closed.append("old"), old_close())  # type: ignore[method-assign]
        delete_articles(built_index, ["ferry-strike"])
        assert live.reload() is True
        assert closed == []  # still leased
        hits = old.search("ferry crews strike", SearchOptions(k=3, mode="lexical")).hits  # the old index still answers
        assert hits[0].passage.article_id == "ferry-strike"
        with live.lease() as new:
            assert new is not old and "ferry-strike" not in new.reader.article_ids()
            assert new.reader.index is old.reader.index  # the delete kept the vector file: loaded once, shared
    assert closed == ["old"]


def test_searches_never_fail_while_the_index_changes_under_them(built_index: Path) -> None:
    records = made_up_articles(9)
    failures: list[str] = []
    stop = threading.Event()
    with make_client(built_index, api_key=API_KEY, reload_seconds=0.01) as client:

        def search_forever() -> None:
            while not stop.is_set():
                for mode in ("dense", "lexical", "hybrid"):
                    r = client.get("/search", params={"q": "harbour ferry council", "mode": mode, "k": 20})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")

        threads = [threading.Thread(target=search_forever) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for i in range(8):
                add_articles(
                    built_index,
                    [Article(f"churn-{i}", f"Churn {i}", made_up_text(900 + i), "2024-04-01")],
                    FakeEncoder(),
                    delete=[records[1 + i % 6]["id"]] if i % 2 else [],
                )
                client.post("/articles", json={"articles": [new_article(200 + i)]}, headers=WRITE)
                time.sleep(0.02)
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert failures == []
        assert client.get("/healthz").json()["reloads"] >= 8


def test_the_service_embeds_adds_on_the_index_s_own_passage_path_and_queries_in_fp32(
    fake_model: list[dict[str, Any]], articles_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.build import build_index

    made_by = FakeEncoder(dtype="bfloat16", passages="openvino-bf16")
    build_index([articles_file], tmp_path / "index", made_by, fake_split_settings(), progress=False)
    monkeypatch.setattr(search.write_worker, "WriteWorker", InProcessWorker)  # the fake model lives in this process
    with TestClient(create_app(Settings(index=tmp_path / "index", api_key=API_KEY, reload_seconds=0))) as client:
        r = client.post("/articles", json={"articles": [new_article(3)]}, headers=WRITE)
        assert r.status_code == 200 and r.json()["added"] == 1
    assert [a["dtype"] for a in fake_model] == ["float32", "openvino-bf16"]  # queries in fp32, adds as the index
    assert InProcessWorker.closed


class InProcessWorker:
    """A WriteWorker that makes its encoder and writes in this process."""

    closed = False

    def __init__(self, make_encoder: Any, threads: int = 1) -> None:
        self.encoder = make_encoder()

    def add_batches(self, index: Path, batches: Any, cache_path: Path | None, wait: float) -> Any:
        return add_batches(index, batches, self.encoder, cache_path=cache_path, wait=wait)

    def close(self) -> None:
        InProcessWorker.closed = True


def test_a_bounded_request_pool_still_serves_searches_and_writes_side_by_side(built_index: Path) -> None:
    with make_client(built_index, api_key=API_KEY, request_threads=2) as client:
        import anyio.to_thread

        assert client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens) == 2
        r = client.post("/articles", json={"articles": [new_article(5, "okapis")]}, headers=WRITE)
        assert r.status_code == 200 and "live-5" in searchable(client, "okapis")
