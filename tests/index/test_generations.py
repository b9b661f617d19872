"""Generations: a build publishes a new one by switching `current`, keeps the one before, cleans up a killed build."""

from __future__ import annotations

import os
from pathlib import Path

from index.generations import CURRENT, GENERATIONS, STORE
from tests.fakes import OpenReader, made_up_articles, unit_queries, write_jsonl
from tests.fakes import fake_build as build


def generation_folders(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / GENERATIONS).iterdir())


def test_a_second_build_switches_current_and_the_old_reader_keeps_working(
    built_index: Path, tmp_path: Path, open_reader: OpenReader
) -> None:
    old = open_reader(built_index)
    old_hits = old.search(unit_queries(2, old.manifest.dim), 5)
    smaller = write_jsonl(tmp_path / "smaller.jsonl", made_up_articles(2))
    build([smaller], built_index)
    assert (built_index / CURRENT).is_symlink()
    new = open_reader(built_index)
    assert new.generation != old.generation
    assert new.articles == 2
    assert old.search(unit_queries(2, old.manifest.dim), 5) == old_hits
    assert [p.row for p in old.fetch([row for row, _ in old_hits[0]])] == [row for row, _ in old_hits[0]]
    assert open_reader(old.generation).passages == old.passages  # the previous generation is kept on disk


def test_only_the_live_and_the_previous_generation_are_kept(built_index: Path, articles_file: Path) -> None:
    for _ in range(3):
        build([articles_file], built_index)
    live = (built_index / CURRENT).resolve().name
    kept = generation_folders(built_index)
    assert len(kept) == 2 and live in kept


def test_a_stale_temporary_folder_from_a_killed_build_is_cleaned_by_the_next_build(
    built_index: Path, articles_file: Path
) -> None:
    stale = built_index / GENERATIONS / ".tmp-19700101T000000-deadbeef"
    stale.mkdir()
    (stale / STORE).write_bytes(b"half written")
    build([articles_file], built_index)
    assert not stale.exists()


def test_current_is_a_relative_symlink_so_the_index_folder_can_be_moved(
    built_index: Path, tmp_path: Path, open_reader: OpenReader
) -> None:
    target = os.readlink(built_index / CURRENT)
    assert not os.path.isabs(target)
    moved = tmp_path / "moved-index"
    built_index.rename(moved)
    assert open_reader(moved).passages > 0
