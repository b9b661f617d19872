"""Copy-on-write edits: a new generation made from the live one, with articles deleted and added, swapped in
atomically like a full build.

The copy: the passage store is copied and changed in place; the lexical index's segment files (immutable in
tantivy) are hard-linked and its small metadata files copied, then documents are deleted and added; the vector
index is read, appended to and written anew. Rows only grow: an added passage takes the next row after every
vector (deleted ones included), a deleted passage leaves its vector behind, masked by the reader until `compact`.
A writer killed at any point leaves a `.tmp-*` folder that the next writer removes; `current` is untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index import lexical
from index import vectors as vecs
from index.articles import Article, Passage
from index.errors import IndexCorrupt, StoreError
from index.store import (
    FORMAT,
    FORMAT_VERSION,
    GENERATIONS,
    LEXICAL,
    STORE,
    VECTORS,
    StoreEditor,
    acquire_write_lock,
    check_files,
    file_entries,
    file_inodes,
    lexical_files,
    new_generation_id,
    publish,
    read_manifest,
    release_write_lock,
    resolve_generation,
)

# tantivy rewrites these (atomically, by rename) on every commit; everything else in the folder is immutable.
_LEXICAL_METADATA = ("meta.json", ".managed.json")


class IndexEditor:
    """One copy-on-write edit of an index: read the live generation, delete and add articles, `commit()`.

    Holds the index's single-writer lock from construction to commit/abort, waiting up to `wait` seconds for it
    (None: as long as it takes).
    """

    def __init__(self, index_dir: Path, wait: float | None = None) -> None:
        self.index_dir = Path(index_dir)
        self._lock = acquire_write_lock(self.index_dir, wait)
        self.tmp: Path | None = None
        try:
            self.base = resolve_generation(self.index_dir)
            if self.base.parent.parent.resolve() != self.index_dir.resolve():
                raise StoreError(f"edit the index folder ({self.base.parent.parent}), not a generation inside it")
            self.manifest = read_manifest(self.base)
            check_files(self.base, self.manifest)
            self.gen_id = new_generation_id()
            self.tmp = self.index_dir / GENERATIONS / f".tmp-{self.gen_id}"
            self.tmp.mkdir()
            self._store = StoreEditor(self.base, self.tmp)
            self._copy_lexical()
            self.vectors = vecs.read(self.base / VECTORS)
            self.dim = vecs.dim(self.vectors)
            self._lexical = lexical.LexicalEditor(self.tmp / LEXICAL) if self._lexical_editable() else None
            self._lexical_rebuild = self._lexical is None and "lexical" in self.manifest
        except BaseException:
            self.abort()
            raise
        self.next_row = vecs.count(self.vectors)
        self.added = self.deleted = 0

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
                try:
                    os.link(f, target / f.name)
                except OSError:  # another file system, or no hard links: copy
                    shutil.copyfile(f, target / f.name)

    def _lexical_editable(self) -> bool:
        meta = self.manifest.get("lexical")
        return (
            meta is not None
            and meta.get("fields", lexical.LEGACY_FIELDS) == lexical.FIELDS
            and bool(meta.get(lexical.ROW_TERMS))
        )

    # --- reads of the base ----------------------------------------------------------------------------------

    def stored(self, article_id: str) -> tuple[str, str, list[int], list[str]] | None:
        """(content_sha1, title, rows, passage texts) of a stored article, or None."""
        return self._store.stored(article_id)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self.vectors.reconstruct_batch(np.asarray(rows, dtype=np.int64)), dtype=np.float32)

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
        self.vectors.add(vectors)
        if self._lexical is not None:
            for i, p in enumerate(passages):
                self._lexical.add(self.next_row + i, article.title, p.text)
        self.next_row += len(passages)
        self.added += 1

    def commit(self, update: dict[str, Any]) -> Path:
        """Write the changed generation, manifest last, and make it current; `update` is recorded in the manifest."""
        assert self.tmp is not None
        try:
            near_duplicates = self._store.group_near_duplicates()
            articles, passages = self._store.counts()
            ntotal = vecs.count(self.vectors)
            manifest = {k: v for k, v in self.manifest.items() if k not in ("files", "update")}
            manifest["near_duplicates"] = near_duplicates
            if self._lexical is not None:
                documents = self._lexical.commit()
                self._lexical = None
            elif self._lexical_rebuild:  # an index from before one-field BM25 or indexed rows: rebuild it once
                shutil.rmtree(self.tmp / LEXICAL, ignore_errors=True)
                documents = lexical.build(self.tmp / LEXICAL, self._store.lexical_documents())
                manifest["lexical"] = {**manifest["lexical"], "fields": lexical.FIELDS, lexical.ROW_TERMS: True}
            self._store.close()
            if "lexical" in manifest:
                if documents != passages:
                    raise IndexCorrupt(
                        f"lexical index holds {documents} passages, the store {passages}; nothing changed"
                    )
                manifest["lexical"] = {**manifest["lexical"], "documents": documents}
            vecs.write(self.vectors, self.tmp / VECTORS)
            names = [STORE, VECTORS, *lexical_files(self.tmp)]
            manifest.update(
                format=FORMAT,
                format_version=FORMAT_VERSION,
                generation=self.gen_id,
                created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                counts={"articles": articles, "passages": passages, "vectors": ntotal, "deleted": ntotal - passages},
                update={**update, "base": self.base.name},
                files=file_entries(self.tmp, names, known=file_inodes(self.base, self.manifest)),
            )
            return publish(self.index_dir, self.tmp, self.gen_id, manifest, names)
        except BaseException:
            self.abort()
            raise
        finally:
            release_write_lock(self._lock)

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
