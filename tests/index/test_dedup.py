"""Near-duplicates: MinHash signatures, groups of copies, kept by build, add and delete."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index import dedup
from index.reader import IndexReader
from search.searcher import Searcher, SearchOptions
from tests.fakes import FakeEncoder, OpenReader, fake_index, made_up_articles, made_up_text


def test_signature_is_stable_and_estimates_jaccard() -> None:
    a = made_up_text(1, sentences=40)
    words = a.split()
    b = " ".join([*words[:-15], "Reporting", "by", "the", "wire", "desk", "with", "additional", "staff", "work"])
    c = made_up_text(2, sentences=40)
    sa, sb, sc = dedup.signature(a), dedup.signature(b), dedup.signature(c)
    assert np.array_equal(sa, dedup.signature(a))
    exact = len(dedup.shingles(a) & dedup.shingles(b)) / len(dedup.shingles(a) | dedup.shingles(b))
    assert abs(dedup.similarity(sa, sb) - exact) < 0.12  # 128 permutations: standard error ~0.04
    assert dedup.similarity(sa, sc) < 0.2


def test_short_texts_are_never_grouped() -> None:
    brief = "Ferry crossings stop until Thursday, the harbour master said."
    assert not dedup.is_comparable(dedup.signature(brief))
    assert dedup.groups([dedup.signature(brief), dedup.signature(brief)]) == []


def test_lsh_pairs_are_every_pair_sharing_a_band_and_similar_enough() -> None:
    """Against all pairs checked one by one: random signatures with planted copies (some entries changed, some
    bands equal by chance) and incomparable ones."""
    rng = np.random.default_rng(3)
    sigs = [rng.integers(0, 5, dedup.NUM_PERM, dtype=np.uint32) for _ in range(60)]  # 5 values: bands collide
    for i in range(0, 60, 6):
        copy = sigs[i].copy()
        changed = rng.choice(dedup.NUM_PERM, int(rng.integers(0, 40)), replace=False)
        copy[changed] = rng.integers(0, 5, len(changed), dtype=np.uint32)
        sigs.append(copy)
    sigs += [dedup.signature("too short"), dedup.signature("too short")]
    rows = dedup.ROWS

    def share_a_band(a: np.ndarray, b: np.ndarray) -> bool:
        return any(
            np.array_equal(a[k * rows : (k + 1) * rows], b[k * rows : (k + 1) * rows]) for k in range(dedup.BANDS)
        )

    for threshold in (0.0, 0.3, dedup.THRESHOLD):
        expected = {
            (i, j, dedup.similarity(sigs[i], sigs[j]))
            for i in range(len(sigs))
            for j in range(i + 1, len(sigs))
            if dedup.is_comparable(sigs[i])
            and dedup.is_comparable(sigs[j])
            and share_a_band(sigs[i], sigs[j])
            and dedup.similarity(sigs[i], sigs[j]) >= threshold
        }
        found = list(dedup.pairs(sigs, threshold))
        assert len(found) == len(set(found)) and set(found) == expected
        assert expected  # planted copies at every threshold


def test_groups_join_copies_transitively_and_leave_others_alone() -> None:
    base = made_up_text(7, sentences=40)
    copy1 = base + " Copyright the wire service."
    copy2 = "Updated at noon. " + base
    other = made_up_text(8, sentences=40)
    sigs = [dedup.signature(t) for t in (other, base, copy1, copy2, made_up_text(9, sentences=40))]
    assert dedup.groups(sigs) == [[1, 2, 3]]


def test_build_finds_the_wire_copies(wire_index: Path, open_reader: OpenReader) -> None:
    reader = open_reader(wire_index)
    assert reader.manifest.near_duplicates.groups == 1
    assert reader.manifest.near_duplicates.articles == 3
    group = reader.duplicate_group("story-004")
    assert group is not None and group == reader.duplicate_group("story-004-copy1") == reader.duplicate_group(
        "story-004-copy2"
    )
    assert reader.duplicate_group("story-005") is None
    assert {a.article_id for a in reader.near_duplicates("story-004-copy1")} == {"story-004", "story-004-copy2"}


def test_adds_and_deletes_keep_the_near_duplicate_groups(tmp_path: Path, open_reader: OpenReader) -> None:
    from index.articles import Article
    from index.update import add_articles, delete_articles

    records = made_up_articles(12)
    fake_index(tmp_path, records)
    with IndexReader(tmp_path / "index") as reader:
        assert reader.manifest.near_duplicates.groups == 0
    story = records[3]
    copy = Article("wire-copy", story["title"], story["text"] + "\n\nDistributed by the wire.", "2024-03-01", "Wire")
    add_articles(tmp_path / "index", [copy], FakeEncoder(), cache_path=None)
    reader = open_reader(tmp_path / "index")
    assert (reader.manifest.near_duplicates.groups, reader.manifest.near_duplicates.articles) == (1, 2)
    assert reader.duplicate_group("wire-copy") == reader.duplicate_group(story["id"]) is not None
    hits = Searcher(reader, FakeEncoder()).search(story["title"], SearchOptions(k=12, mode="lexical", recency=0)).hits
    assert sum(h.passage.article_id in ("wire-copy", story["id"]) for h in hits) == 1
    delete_articles(tmp_path / "index", [story["id"]])
    reader = open_reader(tmp_path / "index")
    assert reader.manifest.near_duplicates.groups == 0 and reader.duplicate_group("wire-copy") is None


def test_the_reader_lists_every_group_with_the_articles_each_of_them_says_it_belongs_to(
    wire_searcher: Searcher,
) -> None:
    reader = wire_searcher.reader
    groups = reader.duplicate_groups()
    assert [len(members) for members in groups.values()] == [3]
    for group, members in groups.items():
        assert group in members and {reader.duplicate_group(a) for a in members} == {group}


def test_regrouping_only_the_changed_groups_gives_what_grouping_every_signature_gives() -> None:
    from index.grouping import applied, near_duplicate_pairs, regrouped

    rng = np.random.default_rng(7)
    vocabulary = [f"w{i}" for i in range(2000)]

    def text(start: int) -> str:  # windows of one word list: 7 words apart ~0.86 alike, 14 apart ~0.75 (a chain)
        return " ".join(vocabulary[start : start + 100])

    starts = [s for base in range(0, 1800, 200) for s in (base, base + 7, base + 14)]
    live = {f"a{i}": dedup.signature(text(s)).tobytes() for i, s in enumerate(starts[:20])}
    live["brief"] = dedup.signature("too short to compare").tobytes()
    groups, _ = near_duplicate_pairs(live.items())
    grouped_steps = 0
    for step in range(12):
        changed = set(rng.choice(sorted(live), size=3, replace=False).tolist())
        for article_id in changed:
            del live[article_id]
        for n in range(int(rng.integers(1, 6))):
            article_id = f"new{step}-{n}" if n else str(rng.choice(sorted(changed)))  # one re-added: an update
            live[article_id] = dedup.signature(text(int(rng.choice(starts)))).tobytes()
            changed.add(article_id)
        want, want_summary = near_duplicate_pairs(live.items())
        for signed in (live, needed(live, groups, changed)):  # every signature, or those regrouping needs
            changes, summary = regrouped(groups, signed, changed)
            assert applied(groups, changes.items()) == want and summary == want_summary, step
        groups = want
        grouped_steps += bool(changes)
    assert grouped_steps >= 6  # the edits had groups to change


def needed(live: dict[str, bytes], groups: list[tuple[str, str]], changed: set[str]) -> dict[str, bytes]:
    """The live signatures `regrouped` needs: the changed articles', their groups' and those sharing a band."""
    group_of = dict(groups)
    touched = {group_of[a] for a in changed if a in group_of}
    bands = {(b, blob[16 * b : 16 * (b + 1)]) for a, blob in live.items() if a in changed for b in range(dedup.BANDS)}
    near = {a for a, blob in live.items() if any((b, blob[16 * b : 16 * (b + 1)]) in bands for b in range(dedup.BANDS))}
    return {a: blob for a, blob in live.items() if a in changed or a in near or group_of.get(a) in touched}
