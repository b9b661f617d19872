"""Service: the HTTP contract (shape, ranks, validation, health) over a fake-built index and the fake encoder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.errors import IndexMissing, ModelMismatch
from index.reader import IndexReader
from search import highlight as hl
from search.app import create_app
from search.schemas import MAX_K, MAX_QUERY_CHARS
from search.searcher import Searcher
from search.settings import Settings
from tests.fakes import FakeEncoder, made_up_articles, query_for

HIT_FIELDS = {"rank", "score", "passage_id", "article_id", "title", "date", "source", "url", "text", "start", "end"}
TEXTS = {r["id"]: r for r in made_up_articles()}
MODES = ["dense", "lexical", "hybrid"]
GROUPS = ["article", "passage"]


@pytest.fixture
def reader(built_index: Path) -> Iterator[IndexReader]:
    with closing(IndexReader(built_index)) as reader:
        yield reader


@pytest.fixture
def client(built_index: Path, reader: IndexReader) -> Iterator[TestClient]:
    app = create_app(Settings(index=built_index), searcher=Searcher(reader, FakeEncoder()))
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def wire_client(wire_index: Path) -> Iterator[TestClient]:
    """The service over tests.fakes.wire_copies; the app closes its searcher when the client exits."""
    searcher = Searcher(IndexReader(wire_index), FakeEncoder())
    with TestClient(create_app(Settings(index=wire_index), searcher=searcher)) as c:
        yield c


def assert_well_ranked(body: dict[str, Any], k: int) -> None:
    hits = body["hits"]
    assert 0 < len(hits) <= k
    assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1))
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    for h in hits:
        assert set(h) >= HIT_FIELDS
        record = TEXTS[h["article_id"]]
        assert h["text"] == record["text"][h["start"] : h["end"]]
        assert h["passage_id"].startswith(f"{h['article_id']}#")
        assert (h["title"], h["date"], h["source"], h["url"]) == (
            record["title"],
            record["date"],
            record["source"],
            record["url"],
        )
    assert body["took_ms"] >= 0
    assert body["timings_ms"] and all(ms >= 0 for ms in body["timings_ms"].values())


# --- search ----------------------------------------------------------------------------------------------------


def test_get_search_returns_ranked_hits_with_their_articles(client: TestClient) -> None:
    response = client.get("/search", params={"q": "ferry crews strike", "k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["query"] == "ferry crews strike" and body["k"] == 5
    assert_well_ranked(body, 5)


def test_post_search_returns_the_same_hits_as_get(client: TestClient) -> None:
    got = client.get("/search", params={"q": "harbour budget vote", "k": 4}).json()
    posted = client.post("/search", json={"q": "harbour budget vote", "k": 4})
    assert posted.status_code == 200
    assert [h["passage_id"] for h in posted.json()["hits"]] == [h["passage_id"] for h in got["hits"]]


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_and_grouping_ranks_hits_one_to_n_with_non_increasing_scores(
    client: TestClient, mode: str, group: str
) -> None:
    body = client.post("/search", json={"q": "council ferry storm", "k": 6, "mode": mode, "group": group}).json()
    assert (body["mode"], body["group"]) == (mode, group)
    assert_well_ranked(body, 6)
    key = "article_id" if group == "article" else "passage_id"
    assert len({h[key] for h in body["hits"]}) == len(body["hits"])


def test_an_article_found_only_by_its_own_words_comes_first(client: TestClient) -> None:
    for mode in ("lexical", "hybrid"):
        body = client.get("/search", params={"q": "crews walked out", "mode": mode}).json()
        assert body["hits"][0]["article_id"] == "ferry-strike"


@pytest.mark.parametrize("mode", MODES)
def test_asking_for_more_hits_than_the_index_holds_returns_only_real_passages(
    client: TestClient, reader: IndexReader, mode: str
) -> None:
    body = client.get("/search", params={"q": "ferry harbour council", "k": MAX_K, "mode": mode, "group": "passage"})
    hits = body.json()["hits"]
    known = {p.passage_id for p in reader.iter_passages()}
    assert 0 < len(hits) <= reader.passages
    assert {h["passage_id"] for h in hits} <= known
    assert len({h["passage_id"] for h in hits}) == len(hits)
    if mode == "dense":
        assert len(hits) == reader.passages  # exact search ranks every passage


def test_grouped_by_article_more_counts_the_articles_other_matching_passages(
    client: TestClient, reader: IndexReader
) -> None:
    hits = client.get("/search", params={"q": "ferry", "k": MAX_K, "mode": "dense"}).json()["hits"]
    assert len(hits) == reader.articles
    per_article: dict[str, int] = {}
    for p in reader.iter_passages():
        per_article[p.article_id] = per_article.get(p.article_id, 0) + 1
    assert {h["article_id"]: h["more"] + 1 for h in hits} == per_article


def test_a_query_with_no_words_is_not_an_error_in_lexical_mode(client: TestClient) -> None:
    response = client.get("/search", params={"q": "?!", "mode": "lexical"})
    assert response.status_code == 200 and response.json()["hits"] == []


def test_rerank_without_a_cross_encoder_is_refused_with_a_message(client: TestClient) -> None:
    response = client.post("/search", json={"q": "ferry", "rerank": True})
    assert response.status_code == 400
    assert "DATELINE_RERANK_MODEL" in response.json()["detail"]


# --- validation ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        pytest.param({"q": ""}, id="empty-q"),
        pytest.param({"q": "   "}, id="blank-q"),
        pytest.param({"q": "\t\n"}, id="whitespace-q"),
        pytest.param({"q": "x" * (MAX_QUERY_CHARS + 1)}, id="long-q"),
        pytest.param({"q": "ferry", "k": 0}, id="k-zero"),
        pytest.param({"q": "ferry", "k": MAX_K + 1}, id="k-over-max"),
        pytest.param({"q": "ferry", "k": -3}, id="k-negative"),
        pytest.param({"q": "ferry", "k": "ten"}, id="k-not-a-number"),
        pytest.param({"q": "ferry", "mode": "semantic"}, id="unknown-mode"),
        pytest.param({"q": "ferry", "group": "site"}, id="unknown-group"),
        pytest.param({}, id="no-q"),
    ],
)
def test_invalid_requests_are_refused_with_422_by_get_and_post(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/search", params=params).status_code == 422
    assert client.post("/search", json=params).status_code == 422


def test_an_unknown_json_field_is_refused_with_422_naming_it(client: TestClient) -> None:
    response = client.post("/search", json={"q": "ferry", "colour": "red"})
    assert response.status_code == 422
    assert "colour" in response.text


def test_an_unknown_query_parameter_is_refused_with_422_naming_it(client: TestClient) -> None:
    response = client.get("/search", params={"q": "ferry", "colour": "red"})
    assert response.status_code == 422
    assert "colour" in response.text


def test_a_query_of_exactly_the_maximum_length_is_accepted(client: TestClient) -> None:
    assert client.post("/search", json={"q": "f" * MAX_QUERY_CHARS}).status_code == 200


def test_a_query_is_trimmed_before_it_is_searched(client: TestClient) -> None:
    assert client.get("/search", params={"q": "  ferry  "}).json()["query"] == "ferry"


# --- health, page, docs ----------------------------------------------------------------------------------------


def test_healthz_reports_the_index_counts_generation_and_model(
    client: TestClient, reader: IndexReader, built_index: Path
) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert (body["articles"], body["passages"]) == (reader.articles, reader.passages)
    assert body["generation"] == reader.manifest.generation
    assert body["model"] == FakeEncoder().info.name
    assert body["dim"] == FakeEncoder().dim
    assert body["index"] == str(built_index)


def test_the_root_serves_the_search_page(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()


def test_the_openapi_document_lists_search_for_get_and_post(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/search"])
    assert "/healthz" in paths


# --- start-up --------------------------------------------------------------------------------------------------


def test_an_app_over_a_missing_index_refuses_to_start_and_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(IndexMissing, match="rebuild-index"):
        create_app(Settings(index=tmp_path / "no-index"))


def test_a_searcher_refuses_an_encoder_other_than_the_one_the_index_was_built_with(reader: IndexReader) -> None:
    with pytest.raises(ModelMismatch, match="rebuild"):
        Searcher(reader, FakeEncoder(fingerprint="some-other-model"))
    with pytest.raises(ModelMismatch):
        Searcher(reader, FakeEncoder(dim=16))


@pytest.mark.parametrize(
    "q",
    [
        '"ferry crews"',
        'ferry AND "crews',
        "ferr*",
        "title:ferry OR NOT council",
        "walked-out (crews) [harbour] {x} ^2 ~1",
        "Ζάππειο ferry 渡轮 café naïve",
        "NEAR(ferry crews, 3)",
        "\\ / : + - && || !",
    ],
)
def test_query_syntax_is_read_as_plain_words_never_a_500(client: TestClient, q: str) -> None:
    for mode in ("lexical", "hybrid"):
        response = client.get("/search", params={"q": q, "mode": mode})
        assert response.status_code == 200, response.text
    words = client.get("/search", params={"q": q, "mode": "lexical"}).json()["hits"]
    if "ferry" in q.lower() or "crews" in q.lower():
        assert "ferry-strike" in {h["article_id"] for h in words}  # the words still count


def test_json_hits_carry_highlights_similar_articles_and_paging(wire_client) -> None:  # type: ignore[no-untyped-def]
    q = query_for(made_up_articles(30)[5])
    body = wire_client.get("/search", params={"q": q, "k": 30, "recency": 0}).json()
    assert body["offset"] == 0 and body["has_more"] is False and body["sort"] == "relevance"
    copy = next(h for h in body["hits"] if h["article_id"].startswith("story-004"))
    assert len(copy["similar"]) == 2 and {"article_id", "title", "date", "source", "url"} <= set(copy["similar"][0])
    stems = set(hl.query_stems(q, lambda _: 1, 1))
    marked = [hit["text"][a:b] for hit in body["hits"] for a, b in hit["highlights"]["terms"]]
    assert marked and all(set(hl.query_stems(word, lambda _: 1, 1)) <= stems for word in marked)  # each by its stem
    page2 = wire_client.get("/search", params={"q": q, "k": 5, "offset": 5, "recency": 0}).json()
    assert [h["rank"] for h in page2["hits"]] == [6, 7, 8, 9, 10] and page2["has_more"] is True
    assert wire_client.get("/search", params={"q": q, "offset": 5000}).status_code == 422
    assert wire_client.get("/search", params={"q": q, "sort": "oldest"}).status_code == 422


def test_sources_lists_outlets_by_size(wire_client) -> None:  # type: ignore[no-untyped-def]
    assert wire_client.get("/sources").json() == [
        {"source": "The Harbour Gazette", "articles": 30},
        {"source": "The Island Courier", "articles": 1},
        {"source": "Valley Post", "articles": 1},
    ]


def test_metrics_count_requests_and_stages(wire_client) -> None:  # type: ignore[no-untyped-def]
    wire_client.get("/search", params={"q": "ferry strike"})
    wire_client.get("/search", params={"q": ""})
    wire_client.get("/no-such-page")
    text = wire_client.get("/metrics").text
    assert re.search(r'dateline_http_requests_total\{endpoint="/search",method="GET",status="200"\} [1-9]', text)
    assert re.search(r'dateline_http_requests_total\{endpoint="/search",method="GET",status="422"\} [1-9]', text)
    assert 'endpoint="(unmatched)",method="GET",status="404"' in text
    assert re.search(r'dateline_http_request_duration_seconds_bucket\{endpoint="/search",le="\+Inf"\} [1-9]', text)
    for stage in ("embed", "vector", "lexical", "fuse", "fetch", "highlight"):
        assert re.search(rf'dateline_search_stage_duration_seconds_count\{{stage="{stage}"\}} [1-9]', text), stage


def test_interpret_says_what_it_understood_and_ignore_takes_parts_out(client: TestClient) -> None:
    q = "New START suspension October 2022"
    body = client.get("/search", params={"q": q, "interpret": "true"}).json()
    assert body["understood"] == {
        "time": {"text": "October 2022", "from": "2022-10-01", "to": "2022-10-31"},
        "phrases": ["New START"],
    }
    assert body["query"] == q
    ignored = client.get("/search", params={"q": q, "interpret": "true", "ignore": ["time", "New START"]}).json()
    assert ignored["understood"] == {"time": None, "phrases": []}
    assert client.get("/search", params={"q": q, "interpret": "false"}).json()["understood"] is None


@pytest.mark.parametrize("q", ["February 30 2023", "13/13/2023", "2023-02-30", '"" ^~ 2022', "last last week week"])
def test_impossible_dates_in_queries_are_answered_not_errors(client: TestClient, q: str) -> None:
    assert client.get("/search", params={"q": q, "interpret": "true"}).status_code == 200


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(min_size=1, max_size=120))
def test_any_query_text_is_interpreted_and_answered_without_a_server_error(client: TestClient, q: str) -> None:
    response = client.get("/search", params={"q": q, "interpret": "true"})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        understood = response.json()["understood"]
        assert understood is not None and isinstance(understood["phrases"], list)
