"""CLIs: `python -m index build|info|check` and `python -m search` return codes and messages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import index.embed
import search.searcher
from index import cli as index_cli
from index.build import default_cache_path
from index.embed import resolve_model
from index.errors import ModelError
from index.generations import CURRENT, VECTORS
from index.reader import IndexReader
from search import cli as search_cli
from tests.fakes import FakeEncoder, OpenReader, made_up_articles, write_jsonl


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Both CLIs get the fake encoder instead of loading the real model; returns the arguments they asked with."""
    asked: list[dict[str, Any]] = []

    def make(
        spec: str = "all-MiniLM-L6-v2", dtype: str = "auto", threads: int | None = None, queries: str = "auto"
    ) -> FakeEncoder:
        asked.append({"spec": spec, "dtype": dtype, "threads": threads, "queries": queries})
        return FakeEncoder()

    monkeypatch.setattr(index.embed, "Encoder", make)
    monkeypatch.setattr(search.searcher, "Encoder", make)
    return asked


def run(main: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- index build -----------------------------------------------------------------------------------------------


def test_build_writes_an_index_and_prints_a_summary(
    fake_model: list[dict[str, Any]],
    articles_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    open_reader: OpenReader,
) -> None:
    index_dir = tmp_path / "index"
    code, _, err = run(
        index_cli.main, ["build", str(articles_file), "--index", str(index_dir), "--no-cache", "--no-progress"], capsys
    )
    assert code == 0
    n = len(made_up_articles())
    assert f"read {n} articles: indexed {n}, skipped 0" in err
    assert "index ready" in err
    assert open_reader(index_dir).articles == n
    assert fake_model == [{"spec": "all-MiniLM-L6-v2", "dtype": "auto", "threads": None, "queries": "auto"}]


def test_build_with_a_cache_file_reuses_its_vectors_the_second_time(
    fake_model: list[dict[str, Any]], articles_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "build",
        str(articles_file),
        "--index",
        str(tmp_path / "index"),
        "--cache",
        str(tmp_path / "c.sqlite3"),
        "--no-progress",
    ]
    assert run(index_cli.main, argv, capsys)[0] == 0
    code, _, err = run(index_cli.main, argv, capsys)
    assert code == 0 and "(0 embedded," in err
    assert (tmp_path / "c.sqlite3").is_file()


def test_build_reports_each_bad_record_and_still_succeeds(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [*made_up_articles(2), "{broken"])
    code, _, err = run(index_cli.main, ["build", str(path), "--index", str(tmp_path / "i"), "--no-cache"], capsys)
    assert code == 0
    assert f"{path}:3: skipped: invalid JSON" in err
    assert "skipped 1" in err


def test_a_strict_build_with_a_bad_record_exits_2_and_leaves_no_index(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [*made_up_articles(2), "{broken"])
    code, _, err = run(
        index_cli.main,
        ["build", str(path), "--index", str(tmp_path / "i"), "--no-cache", "--strict", "--no-progress"],
        capsys,
    )
    assert code == 2
    assert "error: --strict" in err and "index is unchanged" in err
    assert not (tmp_path / "i" / CURRENT).exists()


def test_a_build_from_a_missing_file_exits_2_naming_it(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.jsonl"
    code, _, err = run(index_cli.main, ["build", str(missing), "--index", str(tmp_path / "i"), "--no-cache"], capsys)
    assert code == 2
    assert err.startswith("error: ") and str(missing) in err
    assert fake_model == [], "the input is checked before the model loads"


def test_a_build_from_an_unknown_format_exits_2_and_lists_the_known_ones(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "articles.docx"
    odd.write_bytes(b"PK")
    code, _, err = run(index_cli.main, ["build", str(odd), "--index", str(tmp_path / "i"), "--no-cache"], capsys)
    assert code == 2 and ".jsonl" in err
    assert fake_model == []


def test_the_default_cache_lives_where_dateline_cache_says(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATELINE_CACHE", str(tmp_path / "cache"))
    assert default_cache_path() == tmp_path / "cache" / "embeddings.sqlite3"


def test_an_unknown_model_is_refused_with_how_to_name_one(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="known name"):
        resolve_model(str(tmp_path / "not-a-model"))


# --- index info / check ----------------------------------------------------------------------------------------


def test_info_prints_the_manifest_as_json(
    built_index: Path, capsys: pytest.CaptureFixture[str], open_reader: OpenReader
) -> None:
    code, out, _ = run(index_cli.main, ["info", str(built_index)], capsys)
    assert code == 0
    manifest = json.loads(out)
    assert manifest["counts"] == {
        "articles": open_reader(built_index).articles,
        "passages": open_reader(built_index).passages,
        "vectors": open_reader(built_index).passages,
        "deleted": 0,
    }


def test_check_passes_a_sound_index(
    built_index: Path, capsys: pytest.CaptureFixture[str], open_reader: OpenReader
) -> None:
    code, out, _ = run(index_cli.main, ["check", str(built_index)], capsys)
    assert code == 0 and out.startswith("ok: ")
    assert f"{open_reader(built_index).passages:,} passages" in out


def test_check_refuses_an_index_whose_vectors_changed(built_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = built_index / CURRENT / VECTORS
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    code, out, err = run(index_cli.main, ["check", str(built_index)], capsys)
    assert code == 2 and out == ""
    assert "checksum" in err and "rebuild" in err


@pytest.mark.parametrize("command", ["info", "check"])
def test_info_and_check_of_a_missing_index_exit_2_saying_how_to_build_one(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(index_cli.main, [command, str(tmp_path / "nothing")], capsys)
    assert code == 2
    assert err.startswith("error: ") and "rebuild-index" in err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        index_cli.main([])
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_help_exits_0_and_names_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        index_cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert all(command in out for command in ("build", "info", "check"))


# --- search ----------------------------------------------------------------------------------------------------


def test_search_of_a_missing_index_exits_2_saying_how_to_build_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(search_cli.main, ["ferry strike", "--index", str(tmp_path / "nothing")], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and "rebuild-index" in err


@pytest.mark.parametrize("argv", [["   "], ["ferry", "-k", "0"], ["ferry", "-k", "101"]])
def test_search_refuses_a_blank_query_or_a_bad_k_before_loading_anything(
    argv: list[str], built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(search_cli.main, [*argv, "--index", str(built_index)], capsys)
    assert code == 2 and out == "" and err.startswith("error: ")


def test_search_prints_ranked_hits_with_titles_and_links(
    fake_model: list[dict[str, Any]], built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(search_cli.main, ["crews", "walked", "out", "--index", str(built_index), "-k", "3"], capsys)
    assert code == 0
    assert out.lstrip().startswith("1. ")
    assert "Ferry crews strike over winter shifts" in out
    assert "https://www.harbour-gazette.example/ferry-strike" in out
    assert "hits in" in err


def test_search_json_prints_the_http_response(
    fake_model: list[dict[str, Any]], built_index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
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
    code, _, err = run(search_cli.main, ["ferry", "--index", str(built_index), "--rerank"], capsys)
    assert code == 2 and "DATELINE_RERANK_MODEL" in err


# --- with the real model ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_with_the_real_model_then_check_then_rebuild_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "five.jsonl", made_up_articles(5))
    index_dir, cache = tmp_path / "index", tmp_path / "cache.sqlite3"
    argv = ["build", str(path), "--index", str(index_dir), "--cache", str(cache), "--no-progress"]
    code, _, err = run(index_cli.main, argv, capsys)
    assert code == 0, err
    assert "read 5 articles: indexed 5, skipped 0" in err and "model all-MiniLM-L6-v2 (384-d" in err
    with IndexReader(index_dir) as reader:
        manifest = reader.manifest
    assert manifest.model.name == "all-MiniLM-L6-v2" and manifest.dim == 384
    assert manifest.splitter.max_tokens == 256
    assert run(index_cli.main, ["check", str(index_dir)], capsys)[0] == 0
    code, _, err = run(index_cli.main, argv, capsys)
    assert code == 0 and "(0 embedded," in err
    other = "float32" if manifest.model.dtype == "bfloat16" else "bfloat16"
    code, _, err = run(index_cli.main, [*argv, "--dtype", other], capsys)  # other vectors: none from the cache
    assert code == 0 and re.search(r"\([1-9][\d,]* embedded, 0 from cache\)", err), err
