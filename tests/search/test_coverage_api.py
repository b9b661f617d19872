"""GET /coverage and its streamed exports (/coverage.csv, format=jsonl) over the made-up coverage data."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from index.reader import IndexReader
from search import export
from search.app import create_app
from search.searcher import Searcher
from search.settings import Settings
from tests.fakes import FakeEncoder, fake_index
from tests.search.coverage_data import QUERY, records, rescue_ids

CUT = "0.5"  # as in test_coverage.py: the rescue reports score >= 0.57 with the fake encoder, the others <= 0.43


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    index = fake_index(tmp_path_factory.mktemp("coverage-api"), records())
    searcher = Searcher(IndexReader(index), FakeEncoder())
    with TestClient(create_app(Settings(index=index), searcher=searcher)) as c:
        yield c


def test_coverage_answers_the_weekly_series_top_sources_and_what_matching_meant(client: TestClient) -> None:
    r = client.get("/coverage", params={"q": QUERY, "cut": CUT, "interval": "week"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["undated"], body["interval"], body["cut"]) == (9, 2, "week", 0.5)
    assert "BM25 share" in body["matching"] and ">= 0.5" in body["matching"] and "counted once" in body["matching"]
    nonzero = {b["label"]: b["count"] for b in body["series"] if b["count"]}
    assert nonzero == {"2019-W52": 1, "2020-W01": 2, "2020-W53": 2, "2021-W01": 1, "2021-W07": 1}
    assert body["top_sources"][0] == {"source": "Alpine Courier", "articles": 4}


def test_coverage_takes_the_search_filters_and_collapse(client: TestClient) -> None:
    params = {"q": QUERY, "cut": CUT, "from": "2020-12-28", "to": "2021-01-05", "interval": "day"}
    one = client.get("/coverage", params=params).json()
    copies = client.get("/coverage", params={**params, "collapse": "false"}).json()
    assert (one["total"], copies["total"], one["undated"]) == (3, 4, 0)
    assert [b["label"] for b in copies["series"] if b["count"]] == [
        "2020-12-28",
        "2021-01-03",
        "2021-01-04",
        "2021-01-05",
    ]
    by_source = client.get("/coverage", params={"q": QUERY, "cut": CUT, "source": "valley post"}).json()
    assert (by_source["total"], by_source["undated"]) == (3, 1)


def test_the_query_s_period_narrows_the_count_unless_ignored_or_not_interpreted(client: TestClient) -> None:
    params = {"q": f"{QUERY} in January 2021", "cut": CUT, "collapse": "false", "interpret": "true"}
    read = client.get("/coverage", params=params).json()
    assert (read["total"], read["undated"], read["interval"]) == (3, 0, "day") and len(read["series"]) == 31
    for unread in ({"ignore": "time"}, {"interpret": "false"}):
        assert client.get("/coverage", params={**params, **unread, "cut": -1}).json()["total"] == 14  # every article


def test_an_interval_making_too_many_buckets_is_refused_with_400_naming_one_that_fits(client: TestClient) -> None:
    params = {"q": QUERY, "from": "2000-01-01", "to": "2020-01-01", "interval": "day"}
    r = client.get("/coverage", params=params)
    assert r.status_code == 400 and "use interval=week" in r.json()["detail"]


def test_an_empty_result_is_an_empty_series(client: TestClient) -> None:
    body = client.get("/coverage", params={"q": QUERY, "cut": "0.99"}).json()
    assert (body["total"], body["series"], body["top_sources"]) == (0, [], [])


def test_bad_coverage_requests_are_refused_with_422(client: TestClient) -> None:
    for params in ({"q": " "}, {"q": "x", "interval": "year"}, {"q": "x", "from": "2021-01-02", "to": "2021-01-01"}):
        assert client.get("/coverage", params=params).status_code == 422


@pytest.mark.parametrize("collapse", ["true", "false"])
def test_the_csv_export_has_one_row_per_counted_article(client: TestClient, collapse: str) -> None:
    params = {"q": QUERY, "cut": CUT, "collapse": collapse}
    total = client.get("/coverage", params=params).json()["total"]
    with client.stream("GET", "/coverage.csv", params=params) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        text = "".join(r.iter_text())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == total == int(r.headers["x-total-count"])
    assert {row["id"] for row in rows} == rescue_ids(collapse == "true")
    assert list(rows[0]) == list(export.COLUMNS) and float(rows[0]["score"]) >= 0.5


def test_the_jsonl_export_matches_the_csv_one(client: TestClient) -> None:
    params = {"q": "avalanche ridge", "mode": "lexical"}
    lines = client.get("/coverage", params={**params, "format": "jsonl"}).text.splitlines()
    csv_rows = list(csv.DictReader(io.StringIO(client.get("/coverage", params={**params, "format": "csv"}).text)))
    assert [json.loads(line)["id"] for line in lines] == [row["id"] for row in csv_rows]
    assert len(lines) == client.get("/coverage", params=params).json()["total"]


def test_the_export_streams_in_chunks_of_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "ROWS_PER_CHUNK", 3)
    from index.passages import StoredPassage

    passages = [StoredPassage(i, f"a{i}#0", f"a{i}", 0, 0, 1, "t", "t", None, None, None) for i in range(7)]
    chunks = list(export.lines(((p, 1.0) for p in passages), "jsonl"))
    assert [c.count("\n") for c in chunks] == [3, 3, 1]


def test_a_name_in_the_query_is_required_by_default_and_names_false_turns_it_off(client: TestClient) -> None:
    params = {"q": f"{QUERY} by Wire Echo", "cut": -1, "collapse": "false"}
    read = client.get("/coverage", params=params).json()
    assert read["total"] == 1 and '"Wire Echo"' in read["matching"]  # only the wire copy holds the name
    assert client.get("/coverage", params={**params, "names": "false"}).json()["total"] == 14  # every article
