"""The OpenAPI schema fuzzed with schemathesis, in process (ASGI, fake encoder): no request, valid or not by the
schema, gets a 5xx, whether it carries a wrong key or the right one (so the write routes really add and delete)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from index.check import check_index
from index.reader import IndexReader
from search.app import create_app
from search.searcher import Searcher
from search.settings import Settings
from tests.fakes import FakeEncoder, fake_index, made_up_articles

KEY = "fuzz-key-0123456789abcdef"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_index(tmp_path_factory.mktemp("api-fuzz"), made_up_articles(), "a.jsonl")


@pytest.fixture(scope="module")
def client(index_dir: Path) -> Iterator[TestClient]:
    settings_ = Settings(index=index_dir, api_key=KEY, max_batch=20, max_body_bytes=200_000, reload_seconds=0)
    app = create_app(settings_, searcher=Searcher(IndexReader(index_dir), FakeEncoder()))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def api_schema(client: TestClient) -> Any:
    return schemathesis.openapi.from_dict(client.app.openapi())  # type: ignore[attr-defined]


# Every operation in the schema (a test below keeps this list and the schema in step). schemathesis' own pytest
# plugin does not load under this pytest, so hypothesis drives each operation's strategy directly.
OPERATIONS = [
    ("GET", "/search"),
    ("POST", "/search"),
    ("GET", "/coverage"),
    ("GET", "/coverage.csv"),
    ("GET", "/articles/{article_id}"),
    ("DELETE", "/articles/{article_id}"),
    ("POST", "/articles"),
    ("GET", "/healthz"),
    ("GET", "/sources"),
    ("POST", "/admin/reload"),
]


def send(client: TestClient, case: Any, headers: dict[str, str] | None = None) -> Any:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    if "data" in kwargs:  # raw bodies: httpx calls them content
        kwargs["content"] = kwargs.pop("data")
    kwargs.pop("cookies", None)
    return client.request(**kwargs)


def test_every_operation_in_the_schema_is_fuzzed(api_schema: Any) -> None:
    found = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_request_gets_a_server_error(method: str, path: str, api_schema: Any, client: TestClient) -> None:
    [operation] = [
        op.ok() for op in api_schema.get_all_operations() if (op.ok().method.upper(), op.ok().path) == (method, path)
    ]
    statuses: set[int] = set()

    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        for headers in (None, {"Authorization": f"Bearer {KEY}"}):
            response = send(client, case, headers)
            statuses.add(response.status_code)
            assert response.status_code < 500, f"{method} {case.formatted_path}: {response.status_code} {response.text}"

    fuzz()
    # Past validation too (random ids are simply not found).
    assert any(200 <= s < 300 for s in statuses) or (path.endswith("{article_id}") and 404 in statuses), statuses


def test_after_the_fuzzing_the_index_is_still_sound(index_dir: Path, client: TestClient) -> None:
    assert check_index(index_dir)[1] == []
    assert client.get("/search", params={"q": "harbour"}).status_code == 200
