"""IndexWriter: writes one new generation (passage store, lexical index, vector index, manifest last) and
makes it live atomically."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index import lexical
from index import vectors as vecs
from index.articles import Article, Passage
from index.generations import (
    GENERATIONS,
    LEXICAL,
    STORE,
    VECTORS,
    acquire_write_lock,
    committing,
    data_files,
    file_entries,
    new_generation,
    publish,
    release_write_lock,
)
from index.manifest import Counts, LexicalMeta, Manifest, Origin, VectorIndex
from index.passages import PassageStore


class IndexWriter:
    """Writes one new generation; `commit()` makes it live atomically, `abort()` (or an exception) drops it."""

    def __init__(self, index_dir: Path, dim: int, wait: float | None = 0.0) -> None:
        self.index_dir = Path(index_dir)
        (self.index_dir / GENERATIONS).mkdir(parents=True, exist_ok=True)
        self._lock = acquire_write_lock(self.index_dir, wait)
        self.gen_id, self.tmp = new_generation(self.index_dir)
        self.dim = dim
        self._store = PassageStore.create(self.tmp / STORE)
        self._vectors: list[np.ndarray] = []
        self.rows = 0
        self.articles = 0

    def add(self, article: Article, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        if len(passages) != len(vectors):
            raise ValueError("one vector per passage")
        self._store.add(article, self.rows, passages)
        self._append(len(passages), vectors)

    def has_article(self, article_id: str) -> bool:
        return self._store.has_article(article_id)

    def add_stored(self, article_row: Sequence[Any], passages: Sequence[Passage], vectors: np.ndarray) -> None:
        """Copy an article as another generation stores it (its `articles` row kept as is), for compaction."""
        self._store.add_stored(article_row, self.rows, passages)
        self._append(len(passages), vectors)

    def add_signatures(self, signed: Iterable[tuple[str, bytes]]) -> None:
        """The copied articles' near-duplicate signatures (compaction), so they are grouped as before."""
        self._store.add_signatures(signed)

    def _append(self, n: int, vectors: np.ndarray) -> None:
        self._vectors.append(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        self.rows += n
        self.articles += 1

    def commit(self, origin: Origin, index_spec: str = vecs.DEFAULT_SPEC) -> Path:
        """Build the vector index, write the manifest last, move the generation into place and make it current."""
        with committing(self.abort, self._lock):
            near_duplicates = self._store.group_near_duplicates()
            documents = lexical.build(self.tmp / LEXICAL, self._store.lexical_documents())
            self._store.close()
            matrix = np.concatenate(self._vectors) if self._vectors else np.zeros((0, self.dim), np.float32)
            self._vectors = []
            if index_spec == "auto":
                index_spec = vecs.choose_spec(len(matrix))
            vecs.write(vecs.build(matrix, index_spec), self.tmp / VECTORS)
            manifest = Manifest.create(
                origin,
                generation=self.gen_id,
                dim=self.dim,
                counts=Counts(self.articles, self.rows, self.rows, 0),
                index=VectorIndex(index_spec, "inner_product", vecs.faiss_version()),
                lexical=LexicalMeta(documents=documents, folder=LEXICAL),
                near_duplicates=near_duplicates,
                files=file_entries(self.tmp, data_files(self.tmp)),
            )
            return publish(self.index_dir, self.tmp, manifest)

    def abort(self) -> None:
        self._store.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        release_write_lock(self._lock)
