"""`python -m search coverage`: the series and top sources as a table, the series as CSV, the matched list."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from search import cli as search_cli
from tests.fakes import fake_index, run_cli
from tests.search.coverage_data import QUERY, records, rescue_ids


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_index(tmp_path_factory.mktemp("coverage-cli"), records())


def test_coverage_prints_the_weekly_series_and_top_sources_as_a_table(
    fake_model: list[dict[str, Any]], index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["coverage", QUERY, "--index", str(index), "--interval", "week", "--cut", "0.5"]
    code, out, _ = run_cli(search_cli.main, argv, capsys)
    assert code == 0
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.strip()}
    assert (rows["2019-W52"], rows["2020-W01"], rows["2020-W53"], rows["2021-W02"]) == ("1", "2", "2", "0")
    assert (rows["undated"], rows["total"]) == ("2", "9") and "BM25 share" in out and ">= 0.5" in out
    assert "Alpine Courier" in out and out.index("Alpine Courier") < out.index("Valley Post")


def test_coverage_csv_prints_the_series(
    fake_model: list[dict[str, Any]], index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["coverage", QUERY, "--index", str(index), "--interval", "month", "--cut", "0.5", "--csv"]
    code, out, _ = run_cli(search_cli.main, argv, capsys)
    series = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(series) == 15 and sum(int(r["count"]) for r in series) == 7
    assert series[0] == {"start": "2019-12-01", "label": "2019-12", "count": "2"}


def test_coverage_export_prints_every_matched_article(
    fake_model: list[dict[str, Any]], index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["coverage", QUERY, "--index", str(index), "--cut", "0.5", "--no-collapse", "--export", "jsonl"]
    code, out, _ = run_cli(search_cli.main, argv, capsys)
    assert code == 0 and {json.loads(line)["id"] for line in out.splitlines()} == rescue_ids(collapse=False)


@pytest.mark.parametrize(
    ("argv", "says"),
    [(["--interval", "day", "--from", "2000-01-01", "--to", "2020-01-01"], "use interval=week"), (["--cut", "2"], "")],
)
def test_coverage_refuses_bad_requests_with_exit_2(
    fake_model: list[dict[str, Any]], index: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    code, out, err = run_cli(search_cli.main, ["coverage", QUERY, "--index", str(index), *argv], capsys)
    assert code == 2 and out == "" and err.startswith("error: ") and says in err
