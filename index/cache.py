"""The embedding cache: vectors of already embedded text, so a rebuild embeds only what is new."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

HOME_CACHE = Path("~/.cache/dateline")


def cache_folder(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The embedding cache's folder: DATELINE_CACHE, else ~/.cache/dateline; None when DATELINE_CACHE=off."""
    base = environ.get("DATELINE_CACHE") or str(HOME_CACHE)
    return None if base == "off" else Path(base).expanduser()


def default_cache_path(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The embedding cache's database, or None when the cache is turned off."""
    folder = cache_folder(environ)
    return None if folder is None else folder / "embeddings.sqlite3"


class EmbeddingCache:
    """Vectors keyed by (the model's cache key, sha1 of the embedded text), so a rebuild embeds only new text.

    The cache key (`ModelInfo.cache_key`) names the weights and the passage dtype."""

    def __init__(self, path: Path, model_key: str, dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vector BLOB, PRIMARY KEY (model, key))"
            " WITHOUT ROWID;"
        )
        self.model, self.dim = model_key, dim

    @staticmethod
    def key(text: str) -> bytes:
        return hashlib.sha1(text.encode("utf-8")).digest()

    def get_many(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        keys = [self.key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(
                f"SELECT key, vector FROM vectors WHERE model=? AND key IN ({marks})", [self.model, *chunk]
            ):
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape[0] == self.dim:
                    found[key] = vector
        return [found.get(k) for k in keys]

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?,?,?)",
            [
                (self.model, self.key(t), np.asarray(v, dtype=np.float32).tobytes())
                for t, v in zip(texts, vectors, strict=True)
            ],
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()
