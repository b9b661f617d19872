"""The Ray build's stages and driver, run inline without Ray: they write what the local build writes."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index import cli
from index import distributed as dist
from index.split import SplitSettings
from tests.fakes import FakeEncoder, OpenReader, fake_build, fake_split_settings, made_up_articles, write_jsonl


@pytest.fixture
def messy_inputs(tmp_path: Path) -> list[Path]:
    """Good articles over two files and a folder, with a bad line, a text-less record and duplicate ids."""
    good = made_up_articles(9)
    a = tmp_path / "a.jsonl"
    lines = [json.dumps(r) for r in good[:5]]
    lines.insert(2, '{"id": "broken", ')
    lines.insert(3, json.dumps({"id": "no-text", "title": "Title only"}))
    lines.append(json.dumps({**good[6], "id": good[1]["id"]}))  # a duplicate id in the same file
    a.write_text("\n".join(lines) + "\n")
    b = write_jsonl(tmp_path / "b.jsonl", [*good[5:], {**good[0], "title": "Again"}])  # a duplicate across files
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "t1.txt").write_text(" date 2024-05-06 Lighthouse keeper retires\nThe keeper retired after 40 years.")
    return [a, b, texts]


def inline_rows(
    inputs: list[Path], encoder: FakeEncoder, settings: SplitSettings, batch: int = 3
) -> list[dict[str, Any]]:
    """What the Ray pipeline hands the driver, computed here: the same stage functions, batches of `batch` rows."""
    rows = [row for source in dist.source_files(inputs) for row in dist.read_stage(source)]
    out: list[dict[str, Any]] = []
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        columns = {key: np.array([r[key] for r in chunk], dtype=object) for key in chunk[0]}
        split = dist.split_batch(columns, encoder.count_tokens, dataclasses.asdict(settings))  # the fake's counts
        done = dist.embed_batch(
            {key: np.array(v, dtype=object) for key, v in split.items()}, encoder, 8, "this-process"
        )
        out += [{key: values[j] for key, values in done.items()} for j in range(len(chunk))]
    return out


def test_the_pipeline_s_stages_and_driver_write_the_local_build_s_index(
    messy_inputs: list[Path], tmp_path: Path, open_reader: OpenReader
) -> None:
    encoder, settings = FakeEncoder(), fake_split_settings()
    local = fake_build(messy_inputs, tmp_path / "local", encoder)
    rows = inline_rows(messy_inputs, encoder, settings)
    ray = dist.write_rows(rows, tmp_path / "ray", encoder, settings, messy_inputs, build={"engine": "ray"})
    assert (ray.read, ray.indexed, ray.passages, ray.skipped) == (
        local.read,
        local.indexed,
        local.passages,
        local.skipped,
    )
    assert local.skipped == 4  # bad JSON, no text, two duplicate ids
    assert sorted(map(str, ray.problems)) == sorted(map(str, local.problems))
    a, b = open_reader(tmp_path / "local"), open_reader(tmp_path / "ray")
    assert list(a.iter_passages()) == list(b.iter_passages())  # ids, rows, offsets, text, article metadata
    rows_all = range(a.passages)
    assert np.array_equal(a.vectors(rows_all), b.vectors(rows_all))
    assert a.search_lexical("ferry harbour strike", 20) == b.search_lexical("ferry harbour strike", 20)
    assert b.manifest.build["engine"] == "ray"
    assert b.manifest.build["passages_by_node"] == [local.passages]
    assert b.manifest.lexical == a.manifest.lexical and b.manifest.counts == a.manifest.counts


def test_shards_hold_each_article_once_in_the_shard_its_id_picks(
    messy_inputs: list[Path], tmp_path: Path, open_reader: OpenReader
) -> None:
    encoder, settings = FakeEncoder(), fake_split_settings()
    rows = inline_rows(messy_inputs, encoder, settings)
    dist.write_rows(rows, tmp_path / "sharded", encoder, settings, messy_inputs, shards=3)
    fake_build(messy_inputs, tmp_path / "one", encoder)
    readers = [open_reader(d) for d in dist.shard_dirs(tmp_path / "sharded", 3)]
    passages = [p for r in readers for p in r.iter_passages()]
    assert sorted(p.passage_id for p in passages) == sorted(
        p.passage_id for p in open_reader(tmp_path / "one").iter_passages()
    )
    for i, reader in enumerate(readers):
        assert reader.manifest.shard.index == i and reader.manifest.shard.of == 3
        assert {dist.shard_of(p.article_id, 3) for p in reader.iter_passages()} <= {i}
    assert len({r.manifest.shard.build for r in readers}) == 1


def test_the_shard_of_an_article_is_stable_and_spreads_ids_evenly() -> None:
    ids = [f"article-{i}" for i in range(3000)]
    # Pinned: the rule (sha1 of the id, not Python's salted hash) must not change under an existing sharded index.
    assert [dist.shard_of("ferry-strike", n) for n in (1, 2, 3, 4, 7)] == [0, 0, 1, 0, 6]
    counts = np.bincount([dist.shard_of(i, 4) for i in ids], minlength=4)
    assert counts.min() > 650, counts


def test_a_ray_build_without_ray_installed_says_how_to_install_it(
    articles_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert cli.main(["build", str(articles_file), "--index", str(tmp_path / "i"), "--engine", "ray"]) == 2
    assert "pip install 'dateline[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "i").exists()


@pytest.mark.parametrize("flag", [["--shards", "2"], ["--address", "127.0.0.1:6379"], ["--actors", "2"]])
def test_ray_only_options_are_refused_for_a_local_build(
    articles_file: Path, tmp_path: Path, flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["build", str(articles_file), "--index", str(tmp_path / "i"), *flag]) == 2
    assert "need --engine ray" in capsys.readouterr().err


@pytest.mark.slow
def test_the_split_stage_s_tokenizer_counts_as_the_model_does(shared_data: Path, real_encoder: Any) -> None:
    """The split stage loads only the tokenizer; its counts must be the model's, or passage ids would differ."""
    from index.embed import Tokenizer
    from tests.fakes import real_articles

    texts = [t for a in real_articles(60) for t in (a.title, a.text, a.text[:300])] + [
        "",
        "Ζάππειο café 🚀",
        "a " * 600,
    ]
    assert Tokenizer().count_tokens(texts) == real_encoder.count_tokens(texts)


def test_the_pipeline_writes_the_local_build_s_index_from_a_warc_and_saved_pages(
    tmp_path: Path, open_reader: OpenReader
) -> None:
    from tests.webpages import ERROR_PAGE, Fetch, news_page, write_warc

    fetches = [Fetch(f"https://news.example.org/story-{i}", news_page(i).encode()) for i in range(4)]
    fetches.append(Fetch("https://news.example.org/logo.png", b"\x89PNG", content_type="image/png"))
    warc = write_warc(tmp_path / "crawl.warc.gz", fetches)
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "front.html").write_text(ERROR_PAGE, encoding="utf-8")
    (pages / "story.html").write_text(news_page(9), encoding="utf-8")
    inputs = [warc, pages]
    encoder, settings = FakeEncoder(), fake_split_settings()
    local = fake_build(inputs, tmp_path / "local", encoder)
    ray = dist.write_rows(inline_rows(inputs, encoder, settings), tmp_path / "ray", encoder, settings, inputs)
    assert (local.read, local.indexed, local.skipped, local.passed_over) == (
        6,
        5,
        1,
        12,
    )  # 1 warcinfo, 5 requests, 5 metadata, 1 image
    assert (ray.read, ray.indexed, ray.skipped, ray.passed_over) == (6, 5, 1, 12)
    assert sorted(map(str, ray.problems)) == sorted(map(str, local.problems))
    a, b = open_reader(tmp_path / "local"), open_reader(tmp_path / "ray")
    assert list(a.iter_passages()) == list(b.iter_passages())
