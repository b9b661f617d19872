"""A generation's passage store as immutable segments: one store file per vector part, from the same first row,
minus the articles deleted since (deleted.json), with the near-duplicate groups of the whole generation.

A build writes one segment (passages.sqlite3). An edit hard-links the segments it keeps, writes the articles it
adds as one new segment (folding into it the newest segments its vector part folds) and records deletes in a
small file, so it writes about the batch, never the archive. One connection per segment (SQLite allows only a
few ATTACHed databases): a row goes to the segment holding it, an article-level question to every segment,
newest first. Reader, editor, compaction and `index check` all read through `Segments`.
"""

from __future__ import annotations

import bisect
import contextlib
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from index import dedup
from index.articles import Article, Passage
from index.errors import IndexCorrupt
from index.generations import (
    DELETED,
    GROUPS,
    STORE,
    read_list,
    share,
    store_files,
    store_part,
    write_list,
)
from index.group_layers import GroupLayers
from index.grouping import Pair, applied, near_duplicate_pairs, regrouped
from index.manifest import Counts, Manifest, NearDuplicates
from index.passages import (
    ArticleInfo,
    PassageStore,
    StoredPassage,
    StoreFileError,
    first_few,
)

Deleted = tuple[str, int, int]  # (article_id, its first row, its passages): an article deleted from a segment
PENDING = ".pending.sqlite3"  # the segment an edit is writing, renamed by its first row when it commits


class Segments:
    """The store segments of a generation (oldest first), read as one store without the deleted articles."""

    def __init__(
        self,
        stores: list[PassageStore],
        firsts: list[int],
        deleted: Iterable[Deleted] = (),
        layers: GroupLayers | None = None,
    ) -> None:
        self.stores, self.firsts = stores, firsts
        self.deleted: list[Deleted] = sorted(tuple(d) for d in deleted)  # type: ignore[misc]
        self._gone: list[set[str]] = [set() for _ in stores]  # per segment: its deleted articles
        self._gone_rows: set[int] = set()
        for article_id, first, n in self.deleted:
            self._gone[self.segment_of(first)].add(article_id)
            self._gone_rows.update(range(first, first + n))
        self._layers = layers  # the group files (none: the build's table in the first segment)
        self._groups: list[Pair] | None = None  # the groups, once read

    @classmethod
    def open(cls, generation: Path, files: Mapping[str, Any] | Iterable[str], any_thread: bool = False) -> Segments:
        """The store of a generation whose manifest lists `files`, read-only."""
        names = set(files)
        parts = store_files(names)
        stores = [PassageStore.read_only(generation / name, any_thread) for _, name in parts]
        deleted = (
            [(str(a), int(r), int(n)) for a, r, n in read_list(generation / DELETED, "deleted")]
            if (DELETED in names)
            else []
        )
        return cls(stores, [first for first, _ in parts], deleted, GroupLayers(generation, names))

    def close(self) -> None:
        for store in self.stores:
            store.close()

    def segment_of(self, row: int) -> int:
        return bisect.bisect_right(self.firsts, row) - 1

    def _find(self, article_id: str) -> int | None:
        """The segment holding the article (not deleted), newest first; None if none does."""
        for i in reversed(range(len(self.stores))):
            if article_id not in self._gone[i] and self.stores[i].has_article(article_id):
                return i
        return None

    # --- reads (PassageStore's, over every segment) ---------------------------------------------------------

    def has_article(self, article_id: str) -> bool:
        return self._find(article_id) is not None

    def counts(self) -> tuple[int, int]:
        """(articles, passages) stored and not deleted."""
        found = [store.counts() for store in self.stores]
        deleted_passages = sum(n for _, _, n in self.deleted)
        return sum(a for a, _ in found) - len(self.deleted), sum(p for _, p in found) - deleted_passages

    def stored(self, article_id: str) -> tuple[str, str, list[int], list[str]] | None:
        i = self._find(article_id)
        return None if i is None else self.stores[i].stored(article_id)

    def rows_of(self, article_id: str) -> list[int]:
        i = self._find(article_id)
        return [] if i is None else self.stores[i].rows_of(article_id)

    def article(self, article_id: str) -> dict[str, Any] | None:
        i = self._find(article_id)
        return None if i is None else self.stores[i].article(article_id)

    def is_unchanged(self, article: Article) -> bool:
        return self.unchanged([article]) == {article.article_id}

    def unchanged(self, articles: Iterable[Article]) -> set[str]:
        articles = list(articles)
        found: set[str] = set()
        for store, gone in zip(self.stores, self._gone, strict=True):
            found |= store.unchanged(articles) - gone
        return found

    def article_ids(self) -> set[str]:
        found: set[str] = set()
        for store, gone in zip(self.stores, self._gone, strict=True):
            found |= store.article_ids() - gone
        return found

    def articles(self, article_ids: Sequence[str]) -> list[ArticleInfo]:
        found: list[ArticleInfo] = []
        for store, gone in zip(self.stores, self._gone, strict=True):
            found += [a for a in store.articles(article_ids) if a.article_id not in gone]
        return found

    def sources(self) -> list[tuple[str, int]]:
        """(source, number of articles) for every named source, most articles first."""
        counted: Counter[str] = Counter()
        for store, gone in zip(self.stores, self._gone, strict=True):
            counted.update(dict(store.sources()))
            counted.subtract(a.source for a in store.articles(sorted(gone)) if a.source)
        return sorted(((s, n) for s, n in counted.items() if n > 0), key=lambda sn: (-sn[1], sn[0]))

    def fetch(self, rows: Sequence[int]) -> list[StoredPassage]:
        """Passages with their article metadata, in the order of `rows` (deleted ones left out)."""
        by_segment: dict[int, list[int]] = {}
        for r in rows:
            by_segment.setdefault(self.segment_of(int(r)), []).append(int(r))
        by_row = {
            p.row: p
            for i, wanted in by_segment.items()
            if i >= 0
            for p in self.stores[i].fetch(wanted)
            if p.row not in self._gone_rows
        }
        return [by_row[r] for r in rows if r in by_row]

    def iter_passages(self) -> Iterator[StoredPassage]:
        for store in self.stores:
            yield from (p for p in store.iter_passages() if p.row not in self._gone_rows)

    def lexical_documents(self) -> Iterator[tuple[int, str, str]]:
        for store in self.stores:
            yield from (d for d in store.lexical_documents() if d[0] not in self._gone_rows)

    def row_facts(self, first_row: int = 0) -> list[tuple[int, str, str | None, str | None, int]]:
        """(row, article_id, date, source, n) of every passage from `first_row` on, in row order."""
        stores = self.stores[max(0, self.segment_of(first_row)) :]  # the segments holding rows from first_row on
        return [f for store in stores for f in store.row_facts(first_row) if f[0] not in self._gone_rows]

    def rows_below(self, end: int) -> list[int]:
        """The stored rows before `end`."""
        stores = [store for store, first in zip(self.stores, self.firsts, strict=True) if first < end]
        return [r for store in stores for r in store.rows_below(end) if r not in self._gone_rows]

    def stored_articles(self) -> Iterator[tuple[tuple[Any, ...], list[int], list[Passage]]]:
        for store, gone in zip(self.stores, self._gone, strict=True):
            yield from (s for s in store.stored_articles() if s[0][0] not in gone)

    def near_duplicate_groups(self) -> Iterator[tuple[str, str]]:
        """(article_id, group_id) of every grouped article: the build's table or the folded groups file, with the
        changes edits wrote since (index/group_layers.py)."""
        if self._groups is None:
            table = self.stores[0].near_duplicate_groups
            self._groups = self._layers.applied(table) if self._layers is not None else list(table())
        return iter(self._groups)

    def signatures_of(self, article_ids: Iterable[str]) -> dict[str, bytes]:
        """The MinHash signatures of those of `article_ids` stored (not deleted)."""
        wanted = sorted(set(article_ids))
        found: dict[str, bytes] = {}
        for store, gone in zip(self.stores, self._gone, strict=True):
            found.update((a, blob) for a, blob in store.signatures_of(wanted) if a not in gone)
        return found

    def near_copies(self, signed: Iterable[bytes]) -> set[str] | None:
        """The stored articles sharing an LSH band with one of the `signed` (signatures), from each segment's
        band table; None when a segment has none (written before them)."""
        keys = sorted(set(dedup.band_keys(list(signed))[1].tolist()))
        found: set[str] = set()
        for store, gone in zip(self.stores, self._gone, strict=True):
            matched = store.band_matches(keys)
            if matched is None:
                return None
            found |= matched - gone
        return found

    def signatures(self) -> list[tuple[str, bytes]]:
        return [
            s
            for store, gone in zip(self.stores, self._gone, strict=True)
            for s in store.signatures()
            if s[0] not in gone
        ]

    # --- checks ---------------------------------------------------------------------------------------------

    def problems(self, counts: Counts, vectors: int | None) -> tuple[set[int], list[str]]:
        """(rows stored and not deleted, problems) against the manifest's counts and the number of vectors, each
        problem one line naming its file, for `index check`."""
        names = [store_part(first) for first in self.firsts]
        ends = [*self.firsts[1:], vectors]
        rows: set[int] = set()
        problems: list[str] = []
        for name, store, first, end in zip(names, self.stores, self.firsts, ends, strict=True):
            try:
                found, wrong = store.problems(first, end)
            except StoreFileError as exc:
                problems.append(f"{name}: unreadable ({exc})")
                continue
            rows |= found
            problems += [f"{name}: {p}" for p in wrong]
        problems += self._deleted_problems()
        live = rows - self._gone_rows
        articles = self.counts()[0]
        if len(live) != counts.passages:
            problems.append(f"{STORE}: {len(live):,} passages, the manifest says {counts.passages:,}")
        if articles != counts.articles:
            problems.append(f"{STORE}: {articles:,} articles, the manifest says {counts.articles:,}")
        pairs = zip(self.stores, self._gone, strict=True)
        seen = Counter(a for store, gone in pairs for a in store.article_ids() - gone)
        if twice := [a for a, n in seen.items() if n > 1]:
            problems.append(f"{STORE}: articles stored in more than one segment: {first_few(twice)}")
        grouped = self._layers is not None and (self._layers.whole or self._layers.parts)
        if grouped and (strays := {a for pair in self.near_duplicate_groups() for a in pair} - set(seen)):
            problems.append(f"{GROUPS}: groups of articles not stored (deleted?): {first_few(strays)}")
        return live, problems

    def _deleted_problems(self) -> list[str]:
        """Every deleted.json entry that is not an article stored in its segment with those rows."""
        wrong = []
        for article_id, first, n in self.deleted:
            i = self.segment_of(first)
            stored = self.stores[i].rows_of(article_id) if i >= 0 else []
            if sorted(stored) != list(range(first, first + n)):
                wrong.append(f"{article_id} (rows {first:,}+{n})")
        if len({(a, r) for a, r, _ in self.deleted}) != len(self.deleted):
            wrong.append("an entry listed twice")
        return [f"{DELETED}: deletes of articles not stored so: {first_few(wrong)}"] if wrong else []


class SegmentEditor(Segments):
    """The base generation's segments plus a new one (first row `first`) an edit writes in its folder `tmp`."""

    def __init__(self, base: Path, files: Mapping[str, Any], tmp: Path, first: int, grouped: bool) -> None:
        found = Segments.open(base, files)
        self.base, self.tmp = base, tmp
        stores, firsts = [*found.stores, PassageStore.create(tmp / PENDING)], [*found.firsts, first]
        super().__init__(stores, firsts, found.deleted, found._layers)
        # The base's groups (its layers over the table of the index as built), None when it was never `grouped`.
        self._base_groups = list(found.near_duplicate_groups()) if grouped else None
        self._changed: set[str] = set()  # the articles this edit deletes or adds: only their groups change
        self._regrouped: dict[str, str | None] | None = None  # what the edit changed in the groups, once known

    @property
    def _new(self) -> PassageStore:
        return self.stores[-1]

    def add(self, article: Article, first_row: int, passages: Sequence[Passage]) -> None:
        self._new.add(article, first_row, passages)
        self._changed.add(article.article_id)

    def delete(self, article_id: str) -> list[int] | None:
        """Delete an article (from the new segment, or recorded as deleted from an older one); its rows, or None
        if it is not stored."""
        i = self._find(article_id)
        if i is None:
            return None
        self._changed.add(article_id)
        if i == len(self.stores) - 1:
            return self._new.delete(article_id)
        rows = self.stores[i].rows_of(article_id)
        self.deleted.append((article_id, min(rows), len(rows)))
        self._gone[i].add(article_id)
        self._gone_rows.update(rows)
        return rows

    def group_near_duplicates(self) -> NearDuplicates:
        """The near-duplicate groups: regrouped from the base's (only the groups of the articles changed) and
        written as the base's group files (hard links) and one of what changed (index/group_layers.py); from
        every signature into one groups file when the base was never grouped."""
        self._new.index_bands()  # the edit's articles, before the segments it folds join them (`write`)
        if self._base_groups is None or self._layers is None:
            pairs, summary = near_duplicate_pairs(self.signatures())
            write_list(self.tmp / GROUPS, "groups", pairs)
            self._groups = pairs
        else:
            changed, summary = regrouped(self._base_groups, self._signatures_to_regroup(), self._changed)
            self._layers.write(self.tmp, self._base_groups, changed)
            self._regrouped = changed
        return summary

    def _signatures_to_regroup(self) -> dict[str, bytes]:
        """The signatures `regrouped` needs: the changed articles', the other members of their groups' and those
        of the articles sharing a band with them (the segments' band tables); every one when a segment has no
        band table."""
        changed = self.signatures_of(self._changed)
        near = self.near_copies(changed.values())
        if near is None:
            return dict(self.signatures())
        touched = {g for a, g in self._base_groups or () if a in self._changed}
        return {**self.signatures_of(near | {a for a, g in self._base_groups or () if g in touched}), **changed}

    def near_duplicate_groups(self) -> Iterator[Pair]:
        if self._groups is None and self._regrouped is not None:  # the base's groups with the edit's changes
            self._groups = applied(self._base_groups or [], self._regrouped.items())
        return super().near_duplicate_groups()

    def write(self, fold_from: int | None) -> None:
        """Finish the generation's store: fold the segments from row `fold_from` on (the vector parts folded with
        them) into the new one, name it by its first row, hard-link the others and write what is deleted."""
        folded = [i for i in range(len(self.stores) - 1) if fold_from is not None and self.firsts[i] >= fold_from]
        for i in folded:
            self._new.absorb(self.base / store_part(self.firsts[i]), self._gone[i])
        kept = [i for i in range(len(self.stores) - 1) if i not in folded]
        first = min([self.firsts[i] for i in folded] + [self.firsts[-1]])
        empty = self._new.counts() == (0, 0) and not folded
        self.close()
        if empty:
            (self.tmp / PENDING).unlink()
        else:
            os.replace(self.tmp / PENDING, self.tmp / store_part(first))
        for i in kept:
            share(self.base / store_part(self.firsts[i]), self.tmp / store_part(self.firsts[i]))
        kept_firsts = {self.firsts[i] for i in kept}
        deleted = [d for d in self.deleted if self.firsts[self.segment_of(d[1])] in kept_firsts]
        if deleted:
            write_list(self.tmp / DELETED, "deleted", sorted(deleted))


@contextlib.contextmanager
def opened(generation: Path, files: Mapping[str, Any]) -> Iterator[Segments]:
    """The generation's store, read-only, closed after the block."""
    found = Segments.open(generation, files)
    try:
        yield found
    finally:
        found.close()


def unchanged_articles(generation: Path, articles: Iterable[Article]) -> set[str]:
    """Ids of `articles` stored in `generation` exactly as given (title, text, date, source, url), read-only."""
    with opened(generation, Manifest.read(generation).files) as store:
        return store.unchanged(articles)


def store_problems(
    generation: Path, files: Mapping[str, Any], counts: Counts, vectors: int | None
) -> tuple[set[int], list[str]]:
    """(rows stored and not deleted, problems) of a generation's store segments, each problem one line."""
    try:
        with opened(generation, files) as store:
            return store.problems(counts, vectors)
    except (StoreFileError, IndexCorrupt) as exc:
        return set(), [f"{STORE}: unreadable ({exc})"]
