"""Copy-on-write edits: a new generation made from the live one, with articles deleted and added, swapped in
atomically like a full build.

The copy: the passage store's segments are hard-linked, the added articles written as a new segment and the
deleted ones listed in a small file (index/segments.py); the lexical index's segment files (immutable in tantivy)
are hard-linked and its small metadata files copied, then documents are deleted and added; the added vectors
become a new vector part beside the hard-linked ones (folded with the newest, and the store segments with them,
as `vectors.merge_plan` says). Rows
only grow: an added passage takes the next row after every vector (deleted ones included), a deleted passage
leaves its vector behind, masked by the reader until `compact`. A writer killed at any point leaves a `.tmp-*`
folder that the next writer removes; `current` is untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index import lexical
from index import vectors as vecs
from index.articles import Article, Passage
from index.errors import IndexCorrupt, StoreError
from index.generations import (
    LEXICAL,
    VECTORS,
    acquire_write_lock,
    check_files,
    committing,
    data_files,
    file_entries,
    first_row,
    new_generation,
    publish,
    release_write_lock,
    resolve_generation,
    share,
    vector_files,
    vector_part,
)
from index.manifest import Counts, LexicalMeta, Manifest
from index.segments import SegmentEditor

# tantivy rewrites these (atomically, by rename) on every commit; everything else in the folder is immutable.
_LEXICAL_METADATA = ("meta.json", ".managed.json")


class IndexEditor:
    """One copy-on-write edit of an index: read the live generation, delete and add articles, `commit()`.

    Holds the index's single-writer lock from construction to commit/abort, waiting up to `wait` seconds for it
    (None: as long as it takes). `merge=False` keeps an add's vectors a part of their own, folding none of the
    older parts (Lucene's NoMergePolicy); `compact` still makes one.
    """

    def __init__(self, index_dir: Path, wait: float | None = None, merge: bool = True) -> None:
        self.index_dir = Path(index_dir)
        self.merge = merge
        self._lock = acquire_write_lock(self.index_dir, wait)
        self.tmp: Path | None = None
        try:
            self.base = resolve_generation(self.index_dir)
            if self.base.parent.parent.resolve() != self.index_dir.resolve():
                raise StoreError(f"edit the index folder ({self.base.parent.parent}), not a generation inside it")
            self.manifest = Manifest.read(self.base)
            check_files(self.base, self.manifest.files)
            self.gen_id, self.tmp = new_generation(self.index_dir)
            rows = self.manifest.counts.vectors
            grouped = self.manifest.near_duplicates is not None
            self._store = SegmentEditor(self.base, self.manifest.files, self.tmp, rows, grouped)
            self._copy_lexical()
            self._parts = vector_files(self.manifest.files)
            self.dim = self.manifest.dim
            meta = self.manifest.lexical
            self._lexical = lexical.LexicalEditor(self.tmp / LEXICAL) if meta and meta.editable else None
        except BaseException:
            self.abort()
            raise
        self.base_rows = self.next_row = self.manifest.counts.vectors
        self._new: list[np.ndarray] = []  # the vectors added, in row order from base_rows
        self.added = self.deleted = 0

    @functools.cached_property
    def vectors(self) -> Any:
        """The base's vectors, read only when an update reuses some (an add or a delete never reads them)."""
        return vecs.read_parts([self.base / name for name in self._parts])

    def _copy_lexical(self) -> None:
        source = self.base / LEXICAL
        if not source.is_dir():
            return
        target = self.tmp / LEXICAL  # type: ignore[operator]
        target.mkdir()
        for f in source.iterdir():
            if not f.is_file() or f.name.endswith(".lock"):
                continue
            if f.name in _LEXICAL_METADATA:
                shutil.copyfile(f, target / f.name)
            else:
                share(f, target / f.name)

    # --- reads of the base ----------------------------------------------------------------------------------

    def stored(self, article_id: str) -> tuple[str, str, list[int], list[str]] | None:
        """(content_sha1, title, rows, passage texts) of a stored article, or None."""
        return self._store.stored(article_id)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The vectors of `rows`: the base's, or (rows from base_rows on) those this edit added."""
        wanted = np.asarray(rows, dtype=np.int64)
        out = np.zeros((len(wanted), self.dim), dtype=np.float32)
        old = wanted < self.base_rows
        if old.any():
            out[old] = self.vectors.reconstruct_batch(wanted[old])
        if not old.all():
            out[~old] = np.concatenate(self._new)[wanted[~old] - self.base_rows]
        return out

    def is_unchanged(self, article: Article) -> bool:
        return self._store.is_unchanged(article)

    # --- changes --------------------------------------------------------------------------------------------

    def delete(self, article_id: str) -> bool:
        """Remove an article's passages from the store and the lexical index; False if it is not there."""
        rows = self._store.delete(article_id)
        if rows is None:
            return False
        if self._lexical is not None:
            for first, last in _runs(sorted(rows)):
                self._lexical.delete_rows(first, last)
        self.deleted += 1
        return True

    def add(self, article: Article, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        """Add an article (delete() any earlier version first) with one vector per passage."""
        if len(passages) != len(vectors):
            raise ValueError("one vector per passage")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self._store.add(article, self.next_row, passages)
        self._new.append(vectors)
        if self._lexical is not None:
            for i, p in enumerate(passages):
                self._lexical.add(self.next_row + i, article.title, p.text)
        self.next_row += len(passages)
        self.added += 1

    def commit(self, update: dict[str, Any]) -> Path:
        """Write the changed generation, manifest last, and make it current; `update` is recorded in the manifest."""
        assert self.tmp is not None
        with committing(self.abort, self._lock):
            near_duplicates = self._store.group_near_duplicates()
            articles, passages = self._store.counts()
            lexical_meta = self._commit_lexical(passages)
            self._store.write(self._write_vectors())
            ntotal = self.next_row
            manifest = Manifest.create(
                self.manifest.origin,
                generation=self.gen_id,
                dim=self.manifest.dim,
                counts=Counts(articles, passages, ntotal, ntotal - passages),
                index=self.manifest.index,
                lexical=lexical_meta,
                near_duplicates=near_duplicates,
                files=file_entries(self.tmp, data_files(self.tmp), self.base, self.manifest.files),
                update={**update, "base": self.base.name},
            )
            return publish(self.index_dir, self.tmp, manifest)

    def _write_vectors(self) -> int | None:
        """Share the base's vector files (hard links); the added vectors become a new part, folded with the newest
        parts as `vecs.merge_plan` says (none with `merge=False`): only the parts it folds are read and rebuilt.
        The new part's first row (the store folds its segments from there), None when nothing was added."""
        assert self.tmp is not None
        first = None
        sizes = np.diff([*map(first_row, self._parts), self.base_rows]).tolist()
        keep = len(self._parts)
        if self._new:
            if self.merge:
                keep -= vecs.merge_plan([*sizes, self.next_row - self.base_rows]) - 1
            folded = [vecs.read(self.base / name) for name in self._parts[keep:]]
            matrix = np.concatenate([*(part.reconstruct_n(0, vecs.count(part)) for part in folded), *self._new])
            first = self.next_row - len(matrix)
            spec = self.manifest.index.type if first == 0 else vecs.choose_spec(len(matrix))
            vecs.write(vecs.build(matrix, spec), self.tmp / (VECTORS if first == 0 else vector_part(first)))
        for name in self._parts[:keep]:
            share(self.base / name, self.tmp / name)  # unchanged: the same bytes, shared
        return first

    def _commit_lexical(self, passages: int) -> LexicalMeta | None:
        """Finish the lexical index (an older layout is rebuilt once in today's); its manifest entry."""
        assert self.tmp is not None
        meta = self.manifest.lexical
        if meta is None:
            return None
        if self._lexical is not None:
            documents = self._lexical.commit()
            self._lexical = None
        else:  # an index from before one-field BM25 or indexed rows: rebuild it once
            shutil.rmtree(self.tmp / LEXICAL, ignore_errors=True)
            documents = lexical.build(self.tmp / LEXICAL, self._store.lexical_documents())
            meta = dataclasses.replace(meta, fields=tuple(lexical.FIELDS), row_terms=True)
        if documents != passages:
            raise IndexCorrupt(f"lexical index holds {documents} passages, the store {passages}; nothing changed")
        return dataclasses.replace(meta, documents=documents)

    def abort(self) -> None:
        """Drop the unfinished generation and release the lock; the live index is untouched."""
        with contextlib.suppress(AttributeError):
            self._store.close()
        self._lexical = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        release_write_lock(self._lock)


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted rows -> inclusive (first, last) runs of consecutive rows: an article's rows are one run."""
    runs: list[tuple[int, int]] = []
    for r in rows:
        if runs and r == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], r)
        else:
            runs.append((r, r))
    return runs
