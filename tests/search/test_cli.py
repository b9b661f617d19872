"""The search CLI: `python -m search` return codes, messages, and its text and JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from search import cli as search_cli
from tests.fakes import run_cli


def test_search_of_a_missing_index_exits_2_saying_how_to_build_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(search_cli.main, ["ferry strike", "--index", str(tmp_path / "nothing")], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "rebuild-index" in err


@pytest.mark.parametrize("argv", [["   "], ["ferry", "-k", "0"], ["ferry", "-k", "101"]])
def test_search_refuses_a_blank_query_or_a_bad_k_before_loading_anything(
    argv: list[str], built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(search_cli.main, [*argv, "--index", str(built_index)], capsys)
    assert code == 2 and out == "" and err.startswith("error: ")


def test_search_prints_ranked_hits_with_titles_and_links(
    fake_model: list[dict[str, Any]], built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        search_cli.main, ["crews", "walked", "out", "--index", str(built_index), "-k", "3"], capsys
    )
    assert code == 0
    assert out.lstrip().startswith("1. ")
    assert "Ferry crews strike over winter shifts" in out
    assert "https://www.harbour-gazette.example/ferry-strike" in out
    assert "hits in" in err


def test_search_json_prints_the_http_response(
    fake_model: list[dict[str, Any]], built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(
        search_cli.main,
        ["harbour", "ferry", "--index", str(built_index), "-k", "4", "--json", "--group", "passage"],
        capsys,
    )
    assert code == 0
    body = json.loads(out)
    assert body["query"] == "harbour ferry" and body["k"] == 4 and body["group"] == "passage"
    assert [h["rank"] for h in body["hits"]] == list(range(1, len(body["hits"]) + 1)) and body["hits"]


def test_search_with_rerank_but_no_cross_encoder_exits_2_with_a_message(
    fake_model: list[dict[str, Any]],
    built_index: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATELINE_RERANK_MODEL", raising=False)
    code, _, err = run_cli(search_cli.main, ["ferry", "--index", str(built_index), "--rerank"], capsys)
    assert code == 2 and "DATELINE_RERANK_MODEL" in err
