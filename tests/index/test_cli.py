"""The index CLI: `python -m index build|info|check` return codes and messages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from index import cli as index_cli
from index.cache import default_cache_path
from index.embed import resolve_model
from index.errors import ModelError
from index.generations import CURRENT, VECTORS
from index.reader import IndexReader
from tests.fakes import OpenReader, made_up_articles, run_cli, write_jsonl

# --- index build -----------------------------------------------------------------------------------------------


def test_build_writes_an_index_and_prints_a_summary(
    fake_model: list[dict[str, Any]],
    articles_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    open_reader: OpenReader,
) -> None:
    index_dir = tmp_path / "index"
    code, _, err = run_cli(
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
    assert run_cli(index_cli.main, argv, capsys)[0] == 0
    code, _, err = run_cli(index_cli.main, argv, capsys)
    assert code == 0 and "(0 embedded," in err
    assert (tmp_path / "c.sqlite3").is_file()


def test_build_reports_each_bad_record_and_still_succeeds(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [*made_up_articles(2), "{broken"])
    code, _, err = run_cli(index_cli.main, ["build", str(path), "--index", str(tmp_path / "i"), "--no-cache"], capsys)
    assert code == 0
    assert f"{path}:3: skipped: invalid JSON" in err
    assert "skipped 1" in err


def test_a_strict_build_with_a_bad_record_exits_2_and_leaves_no_index(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [*made_up_articles(2), "{broken"])
    code, _, err = run_cli(
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
    code, _, err = run_cli(
        index_cli.main, ["build", str(missing), "--index", str(tmp_path / "i"), "--no-cache"], capsys
    )
    assert code == 2
    assert err.startswith("error: ") and str(missing) in err
    assert fake_model == [], "the input is checked before the model loads"


def test_a_build_from_an_unknown_format_exits_2_and_lists_the_known_ones(
    fake_model: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "articles.docx"
    odd.write_bytes(b"PK")
    code, _, err = run_cli(index_cli.main, ["build", str(odd), "--index", str(tmp_path / "i"), "--no-cache"], capsys)
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
    code, out, _ = run_cli(index_cli.main, ["info", str(built_index)], capsys)
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
    code, out, _ = run_cli(index_cli.main, ["check", str(built_index)], capsys)
    assert code == 0 and out.startswith("ok: ")
    assert f"{open_reader(built_index).passages:,} passages" in out


def test_check_refuses_an_index_whose_vectors_changed(built_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = built_index / CURRENT / VECTORS
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    code, out, err = run_cli(index_cli.main, ["check", str(built_index)], capsys)
    assert code == 2 and out == ""
    assert "checksum" in err and "rebuild" in err


@pytest.mark.parametrize("command", ["info", "check"])
def test_info_and_check_of_a_missing_index_exit_2_saying_how_to_build_one(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(index_cli.main, [command, str(tmp_path / "nothing")], capsys)
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


# --- with the real model ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_build_with_the_real_model_then_check_then_rebuild_from_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "five.jsonl", made_up_articles(5))
    index_dir, cache = tmp_path / "index", tmp_path / "cache.sqlite3"
    argv = ["build", str(path), "--index", str(index_dir), "--cache", str(cache), "--no-progress"]
    code, _, err = run_cli(index_cli.main, argv, capsys)
    assert code == 0, err
    assert "read 5 articles: indexed 5, skipped 0" in err and "model all-MiniLM-L6-v2 (384-d" in err
    with IndexReader(index_dir) as reader:
        manifest = reader.manifest
    assert manifest.model.name == "all-MiniLM-L6-v2" and manifest.dim == 384
    assert manifest.splitter.max_tokens == 256
    assert run_cli(index_cli.main, ["check", str(index_dir)], capsys)[0] == 0
    code, _, err = run_cli(index_cli.main, argv, capsys)
    assert code == 0 and "(0 embedded," in err
    other = "float32" if manifest.model.dtype == "bfloat16" else "bfloat16"
    code, _, err = run_cli(index_cli.main, [*argv, "--dtype", other], capsys)  # other vectors: none from the cache
    assert code == 0 and re.search(r"\([1-9][\d,]* embedded, 0 from cache\)", err), err
