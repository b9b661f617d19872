"""Store segments: an add writes only its articles (a segment beside its vector part), a delete a small file;
the reader, compaction and `index check` read every segment minus the deletes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from index.articles import Article
from index.check import check_index
from index.generations import (
    DELETED,
    GROUPS,
    STORE,
    first_row,
    group_files,
    resolve_generation,
    store_files,
    vector_files,
)
from index.manifest import Manifest
from index.update import add_articles, compact, delete_articles
from tests.fakes import FakeEncoder, OpenReader, fake_build, fake_index, made_up_articles, wire_copies, write_jsonl

RECORDS = made_up_articles(47)


def as_article(record: dict[str, object]) -> Article:
    return Article(**{"article_id" if k == "id" else k: v for k, v in record.items()})  # type: ignore[arg-type]


def grow(tmp_path: Path) -> Path:
    """40 articles built, then adds of 2 and 1 (neither folded into the build's segment)."""
    index = tmp_path / "grown"
    fake_build([write_jsonl(tmp_path / "base.jsonl", RECORDS[:40])], index)
    for batch in (RECORDS[40:42], RECORDS[42:43]):
        add_articles(index, [as_article(r) for r in batch], FakeEncoder())
    return index


def files(index: Path) -> dict[str, int]:
    """{file: inode} of the live generation's manifest."""
    generation = resolve_generation(index)
    return {name: (generation / name).stat().st_ino for name in Manifest.read(generation).files}


def test_an_add_writes_a_segment_of_its_articles_beside_its_vector_part(tmp_path: Path) -> None:
    index = grow(tmp_path)
    names = list(files(index))
    stores = store_files(names)
    assert [first for first, _ in stores] == [first_row(v) for v in vector_files(names)]
    assert len(stores) >= 2 and GROUPS not in names and group_files(names) == []  # no group changed: no file
    before = files(index)
    add_articles(index, [as_article(RECORDS[43])], FakeEncoder())
    after = files(index)
    assert after[STORE] == before[STORE]  # the build's segment shared (hard link), not copied
    assert check_index(index)[1] == []


def test_a_delete_writes_a_small_file_and_every_segment_stays_shared(tmp_path: Path, open_reader: OpenReader) -> None:
    index = grow(tmp_path)
    before = files(index)
    gone = [str(RECORDS[0]["id"]), str(RECORDS[41]["id"])]  # one from the build's segment, one from an add's
    delete_articles(index, gone)
    after = files(index)
    assert {n: i for n, i in after.items() if n.endswith(".sqlite3")} == {
        n: i for n, i in before.items() if n.endswith(".sqlite3")
    }
    generation = resolve_generation(index)
    assert (generation / DELETED).stat().st_size < 1000
    assert check_index(index)[1] == []
    reader = open_reader(index)
    assert reader.articles == 41 and not any(reader.has_article(a) for a in gone)
    assert not {p.article_id for p in reader.iter_passages()} & set(gone)
    assert reader.fetch(list(range(reader.rows.live.size))) == list(reader.iter_passages())  # type: ignore[union-attr]


def test_an_update_hides_the_old_version_in_its_segment(tmp_path: Path, open_reader: OpenReader) -> None:
    index = grow(tmp_path)
    changed = dataclasses.replace(as_article(RECORDS[3]), title="A new headline for the ferry story")
    add_articles(index, [changed], FakeEncoder())
    reader = open_reader(index)
    assert reader.article(changed.article_id)["title"] == changed.title  # type: ignore[index]
    assert sum(p.article_id == changed.article_id and p.n == 0 for p in reader.iter_passages()) == 1
    assert reader.articles == 43 and check_index(index)[1] == []


def test_compact_writes_one_segment_without_deletes(tmp_path: Path, open_reader: OpenReader) -> None:
    index = grow(tmp_path)
    delete_articles(index, [str(RECORDS[1]["id"])])
    compact(index)
    names = list(files(index))
    assert [n for _, n in store_files(names)] == [STORE] and DELETED not in names
    assert open_reader(index).articles == 42 and check_index(index)[1] == []


def test_check_names_a_delete_of_an_article_not_stored(tmp_path: Path) -> None:
    index = grow(tmp_path)
    delete_articles(index, [str(RECORDS[2]["id"])])
    path = resolve_generation(index) / DELETED
    path.chmod(0o644)
    path.write_text(json.dumps({"deleted": [["no-such-article", 3, 2]]}))
    problems = "\n".join(check_index(index)[1])
    assert f"{DELETED}: deletes of articles not stored" in problems and "no-such-article" in problems


def test_a_fold_drops_the_deleted_articles_of_the_segments_it_folds(tmp_path: Path, open_reader: OpenReader) -> None:
    index = grow(tmp_path)
    gone = str(RECORDS[41]["id"])  # in the adds' segment
    delete_articles(index, [gone])
    assert DELETED in files(index)
    add_articles(index, [as_article(RECORDS[43])], FakeEncoder())  # folds the adds' segment, not the build's
    names = files(index)
    assert len(store_files(names)) == 2 and DELETED not in names
    reader = open_reader(index)
    assert not reader.has_article(gone) and reader.articles == 43 and check_index(index)[1] == []
    assert reader.manifest.counts.deleted > 0  # its vectors stay, masked, until compact


def test_near_duplicate_groups_follow_adds_deletes_and_compaction(tmp_path: Path, open_reader: OpenReader) -> None:
    records = wire_copies()  # the ferry story and two re-prints of it, last
    index = fake_index(tmp_path, records[:-1])
    add_articles(index, [as_article(records[-1])], FakeEncoder())  # the second re-print, in a segment of its own
    story = str(records[5]["id"])
    group = open_reader(index).duplicate_group(story)
    assert group is not None and len(open_reader(index).duplicate_groups()[group]) == 3
    before = files(index)
    assert GROUPS in before  # the add joined a group of two: all of its few groups written whole
    delete_articles(index, [str(records[0]["id"])])  # no one's near-copy: the group files are shared
    assert {n: i for n, i in files(index).items() if n.startswith("near-dup")} == {
        n: i for n, i in before.items() if n.startswith("near-dup")
    }
    delete_articles(index, [f"{story}-copy1"])
    assert len(open_reader(index).duplicate_groups()[group]) == 2
    compact(index)
    assert open_reader(index).duplicate_groups() == {group: [story, f"{story}-copy2"]}


def test_check_names_a_group_of_an_article_not_stored(tmp_path: Path) -> None:
    records = wire_copies()
    index = fake_index(tmp_path, records[:-1])
    add_articles(index, [as_article(records[-1])], FakeEncoder())
    generation = resolve_generation(index)
    path = generation / GROUPS
    path.chmod(0o644)
    path.write_text(json.dumps({"groups": [["gone-article", "gone-article"], [str(records[0]["id"]), "gone-article"]]}))
    problems = "\n".join(check_index(index)[1])
    assert f"{GROUPS}: groups of articles not stored" in problems and "gone-article" in problems
