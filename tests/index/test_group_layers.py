"""Near-duplicate groups as layers: an edit writes only the groups it changed, and the groups after any sequence
of adds, updates and deletes are those of one build of the same articles."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from index.articles import Article
from index.check import check_index
from index.generations import GROUPS, STORE, group_files, resolve_generation, store_files
from index.grouping import near_duplicate_pairs
from index.manifest import Manifest
from index.reader import IndexReader
from index.segments import opened
from index.update import add_articles, compact, delete_articles
from tests.fakes import FakeEncoder, fake_index, made_up_articles, made_up_text


def copy_of(story: dict[str, Any], n: int) -> dict[str, Any]:
    """A re-print of `story` under a new id, headline and sign-off: its near-duplicate."""
    text = f"{story['text']}\n\nRepublished by outlet number {n} under its own headline."
    return {**story, "id": f"{story['id']}-c{n}", "title": f"{story['title']} ({n})", "text": text}


def as_article(record: dict[str, Any]) -> Article:
    return Article(**{"article_id" if k == "id" else k: v for k, v in record.items()})  # type: ignore[arg-type]


def stored_groups(index: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[str]]:
    """(the groups the live generation reads, those of grouping its articles' signatures anew, its group files)."""
    generation = resolve_generation(index)
    names = Manifest.read(generation).files
    with opened(generation, names) as store:
        found = sorted(store.near_duplicate_groups())
        fresh = sorted(near_duplicate_pairs(store.signatures())[0])
    return found, fresh, [n for n in names if n.startswith("near-duplicates")]


def test_edits_keep_the_groups_of_one_build_and_write_only_what_they_change(tmp_path: Path) -> None:
    stories = made_up_articles(16)[4:]  # long enough texts to be compared
    live = {r["id"]: r for s in stories for r in (s, copy_of(s, 1), copy_of(s, 2))}  # 12 groups of 3
    index = fake_index(tmp_path, list(live.values()))
    rng = np.random.default_rng(11)
    seen_parts, seen_whole, copies = 0, 0, 3
    for step in range(14):
        if step == 9:  # a big add: its vector part (and store segment) folds the build's, the table with it
            batch = [copy_of(s, copies) for s in stories] + [copy_of(s, copies + 1) for s in stories]
            copies += 2
        else:
            batch = [copy_of(stories[int(i)], copies) for i in rng.choice(len(stories), size=2, replace=False)]
            copies += 1
            updated = dict(live[str(rng.choice(sorted(live)))])  # an update: its text no one's copy any more
            batch.append({**updated, "text": made_up_text(500 + step, sentences=20)})
        gone = [str(a) for a in rng.choice(sorted(live), size=2, replace=False) if a not in {r["id"] for r in batch}]
        add_articles(index, [as_article(r) for r in batch], FakeEncoder(), delete=gone)
        live.update({r["id"]: r for r in batch})
        for article_id in gone:
            live.pop(article_id)
        found, fresh, names = stored_groups(index)
        assert found == fresh, step
        seen_parts += bool(group_files(names))
        seen_whole += GROUPS in names
    assert seen_parts >= 3 and seen_whole >= 1  # edits wrote parts, and folded them whole at least once
    assert check_index(index)[1] == []
    (tmp_path / "again").mkdir()
    again = fake_index(tmp_path / "again", list(live.values()))
    with IndexReader(index) as grown, IndexReader(again) as built:
        assert grown.duplicate_groups() == built.duplicate_groups() and grown.duplicate_groups()
    compact(index)
    found, fresh, names = stored_groups(index)
    assert found == fresh and names == []  # a compacted store holds its groups in its table again


def test_an_edit_writes_the_groups_it_changes_not_every_group(tmp_path: Path) -> None:
    stories = made_up_articles(30)[4:]
    records = [r for s in stories for r in (s, copy_of(s, 1))]  # 26 groups of 2
    index = fake_index(tmp_path, records)
    add_articles(index, [as_article(copy_of(stories[0], 2))], FakeEncoder())
    generation = resolve_generation(index)
    names = Manifest.read(generation).files
    assert GROUPS not in names and len(group_files(names)) == 1
    part = (generation / group_files(names)[0]).read_text()
    assert stories[0]["id"] in part and stories[1]["id"] not in part  # only the group it joined
    delete_articles(index, [stories[0]["id"]])  # the group's first article: its members' group id changes
    found, fresh, names = stored_groups(index)
    assert found == fresh and len(group_files(names)) == 1  # folded into the newest part, still no whole file


def test_a_fold_of_the_builds_segment_keeps_the_groups_its_table_held(tmp_path: Path) -> None:
    stories = made_up_articles(30)[4:]
    index = fake_index(tmp_path, [r for s in stories for r in (s, copy_of(s, 1))])
    others = [{**s, "id": f"other-{i}", "text": made_up_text(900 + i, sentences=30)} for i, s in enumerate(stories)]
    add_articles(index, [as_article(r) for r in [copy_of(stories[0], 2), *others]], FakeEncoder())
    found, fresh, names = stored_groups(index)
    files = Manifest.read(resolve_generation(index)).files
    assert store_files(files) == [(0, STORE)]  # the add's part folded the build's: one segment, rewritten
    assert GROUPS not in names and len(group_files(names)) == 1  # still the table's groups and one part
    assert found == fresh and len(found) == 53


def test_a_store_from_before_band_tables_regroups_from_every_signature_until_a_fold_gives_it_one(
    tmp_path: Path,
) -> None:
    stories = made_up_articles(30)[4:]
    index = fake_index(tmp_path, [r for s in stories for r in (s, copy_of(s, 1))])
    generation = resolve_generation(index)
    with opened(generation, Manifest.read(generation).files) as store:
        assert store.near_copies([store.signatures_of([stories[0]["id"]])[stories[0]["id"]]]) == {
            stories[0]["id"],
            copy_of(stories[0], 1)["id"],
        }
    (generation / STORE).chmod(0o644)
    with sqlite3.connect(generation / STORE) as db:  # as a build before band tables wrote it
        db.execute("DROP TABLE minhash_bands")
    add_articles(index, [as_article(copy_of(stories[0], 2))], FakeEncoder())
    found, fresh, _ = stored_groups(index)
    assert found == fresh and len(found) == 53
    generation = resolve_generation(index)
    with opened(generation, Manifest.read(generation).files) as store:
        assert store.near_copies([]) is None  # the build's segment has no band table: every signature is read
    others = [{**s, "id": f"other-{i}", "text": made_up_text(900 + i, sentences=30)} for i, s in enumerate(stories)]
    add_articles(index, [as_article(r) for r in others], FakeEncoder())  # folds the build's segment
    generation = resolve_generation(index)
    assert store_files(Manifest.read(generation).files) == [(0, STORE)]
    with sqlite3.connect(f"file:{generation / STORE}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(DISTINCT article_id) FROM minhash_bands").fetchone()[0] == 53 + len(others)
    add_articles(index, [as_article(copy_of(stories[1], 2))], FakeEncoder())
    found, fresh, _ = stored_groups(index)
    assert found == fresh and len(found) == 54


def test_an_index_from_before_grouping_is_grouped_by_its_edits(tmp_path: Path) -> None:
    stories = made_up_articles(12)[4:]
    index = fake_index(tmp_path, [*stories, copy_of(stories[0], 1)])
    generation = resolve_generation(index)
    (generation / STORE).chmod(0o644)
    with sqlite3.connect(generation / STORE) as db:  # as a build before near-duplicate detection wrote it
        for table in ("minhash", "minhash_bands", "near_duplicates"):
            db.execute(f"DROP TABLE {table}")
    manifest = json.loads((generation / "manifest.json").read_text())
    del manifest["near_duplicates"]
    (generation / "manifest.json").chmod(0o644)
    (generation / "manifest.json").write_text(json.dumps(manifest))
    for n in (2, 3):  # the first edit groups every signature; the second regroups from there
        add_articles(index, [as_article(copy_of(stories[1], n))], FakeEncoder())
        found, fresh, _ = stored_groups(index)
        assert found == fresh and len(found) == 2 * (n == 3)  # the copies with signatures: the two added
