"""The typed manifest: today's JSON round-trips exactly, older layouts read with their defaults, other formats
are refused with a message that says to rebuild; a reader releases its generation when its `with` ends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from index import lexical
from index.errors import IndexCorrupt
from index.generations import CURRENT, MANIFEST, _in_use
from index.manifest import FORMAT_VERSION, Manifest
from index.reader import IndexReader
from index.update import compact, delete_articles
from tests.fakes import made_up_articles


def stored(index_dir: Path) -> dict[str, Any]:
    return json.loads((index_dir / CURRENT / MANIFEST).read_text())


def test_a_built_manifest_round_trips_key_for_key_in_the_same_order(built_index: Path) -> None:
    found = stored(built_index)
    assert json.dumps(Manifest.from_json(found).to_json()) == json.dumps(found)


def test_the_manifests_of_a_delete_and_a_compaction_round_trip_too(built_index: Path) -> None:
    delete_articles(built_index, [made_up_articles()[0]["id"]])
    deleted = stored(built_index)
    assert deleted["update"]["kind"] == "delete" and deleted["counts"]["deleted"] > 0
    assert json.dumps(Manifest.from_json(deleted).to_json()) == json.dumps(deleted)
    compact(built_index)
    compacted = stored(built_index)
    assert "compacted" in compacted and "update" not in compacted
    assert json.dumps(Manifest.from_json(compacted).to_json()) == json.dumps(compacted)


def test_an_edit_writes_the_build_s_keys_in_the_build_s_order_with_its_update(built_index: Path) -> None:
    built = list(stored(built_index))
    delete_articles(built_index, [made_up_articles()[0]["id"]])
    assert list(stored(built_index)) == [*built[:-1], "update", "files"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"format": "something-else"}, id="format"),
        pytest.param({"format_version": 99}, id="version"),
    ],
)
def test_another_format_is_refused_with_a_message_that_says_to_rebuild(built_index: Path, change: Any) -> None:
    with pytest.raises(IndexCorrupt, match="rebuild"):
        Manifest.from_json({**stored(built_index), **change})


def test_an_index_of_the_version_before_layered_groups_is_read_and_an_edit_writes_the_current_version(
    built_index: Path,
) -> None:
    """Version 1 is version 2 without near-duplicate layers or band tables: read as it is, rewritten as 2."""
    assert stored(built_index)["format_version"] == FORMAT_VERSION == 2
    path = (built_index / CURRENT / MANIFEST).resolve()
    path.write_text(json.dumps({**stored(built_index), "format_version": 1}))
    with IndexReader(built_index) as reader:
        assert reader.passages > 0
    delete_articles(built_index, [made_up_articles()[1]["id"]])
    assert stored(built_index)["format_version"] == 2


@pytest.mark.parametrize("key", ["model", "counts", "files", "dim"])
def test_a_manifest_without_a_required_part_is_refused_with_a_message_that_says_to_rebuild(
    built_index: Path, key: str
) -> None:
    found = stored(built_index)
    del found[key]
    with pytest.raises(IndexCorrupt, match=f"{key}.*rebuild"):
        Manifest.from_json(found)


def test_an_older_layout_reads_with_the_defaults_its_version_implied(built_index: Path) -> None:
    found = stored(built_index)
    found["counts"] = {"articles": found["counts"]["articles"], "passages": found["counts"]["passages"]}
    found["lexical"] = {k: v for k, v in found["lexical"].items() if k not in ("fields", lexical.ROW_TERMS)}
    del found["near_duplicates"]
    del found["model"]["dtype"]
    manifest = Manifest.from_json(found)
    assert manifest.counts.vectors == manifest.counts.passages and manifest.counts.deleted == 0
    assert manifest.lexical is not None
    assert list(manifest.lexical.fields) == lexical.LEGACY_FIELDS and not manifest.lexical.row_terms
    assert not manifest.lexical.editable
    assert manifest.near_duplicates is None and manifest.model.dtype is None
    assert "dtype" not in manifest.to_json()["model"]


def test_a_reader_holds_its_generation_inside_with_and_releases_it_after(built_index: Path) -> None:
    with IndexReader(built_index) as reader:
        assert _in_use(reader.generation)
        assert reader.fetch([0])
    assert not _in_use(reader.generation)


def test_keys_a_later_version_may_add_are_ignored_not_refused(built_index: Path) -> None:
    found = stored(built_index)
    for part in ("splitter", "index", "near_duplicates", "model", "lexical"):
        found[part] = {**found[part], "added_later": 1}
    manifest = Manifest.from_json(found)
    assert manifest.to_json()["splitter"] == stored(built_index)["splitter"]
