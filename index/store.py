"""The index directory: the ONLY module that knows its file names; owns the SQLite passage store and manifest.

    <index>/current -> generations/<id>     symlink, swapped atomically when a build commits
    <index>/generations/<id>/passages.sqlite3   articles and passages (text, offsets, metadata)
    <index>/generations/<id>/vectors.faiss      one vector per passage; FAISS row == passages.row
    <index>/generations/<id>/lexical/           BM25 index (tantivy) of title + text, one field; its row == passages.row
    <index>/generations/<id>/manifest.json      written last: model, counts, index type, sizes, versions

A build writes a new generation in a temporary folder, writes the manifest last, renames the folder into
place and then swaps `current`, so a reader sees the old index or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index import dedup, lexical
from index import vectors as vecs
from index.articles import Article, Passage

FORMAT = "dateline-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
STORE = "passages.sqlite3"
VECTORS = "vectors.faiss"
LEXICAL = "lexical"
CURRENT = "current"
GENERATIONS = "generations"
LOCK = ".write.lock"
KEEP_GENERATIONS = 2  # the live one and the one before it (a service may still be reading it)

SCHEMA = """
CREATE TABLE articles (
    article_id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, source TEXT, url TEXT,
    content_sha1 TEXT NOT NULL, n_passages INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, passage_id TEXT NOT NULL UNIQUE, article_id TEXT NOT NULL,
    n INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL, text TEXT NOT NULL
);
CREATE INDEX passages_article ON passages(article_id);
CREATE TABLE minhash (article_id TEXT PRIMARY KEY, signature BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE near_duplicates (article_id TEXT PRIMARY KEY, group_id TEXT NOT NULL) WITHOUT ROWID;
"""


EPOCH = datetime.date(1970, 1, 1)
NO_DAY = np.iinfo(np.int32).min


def _day(iso: str | None) -> int:
    """An ISO date (or datetime) -> days since 1970-01-01; NO_DAY when absent or unreadable."""
    if not iso:
        return int(NO_DAY)
    try:
        return (datetime.date.fromisoformat(iso[:10]) - EPOCH).days
    except ValueError:
        return int(NO_DAY)


class StoreError(Exception):
    """Base of index problems; the message always says what to do."""


class IndexMissing(StoreError):
    """No index where one was expected."""


class IndexCorrupt(StoreError):
    """An index whose files disagree with its manifest or with each other."""


REBUILD = "rebuild it with: scripts/rebuild-index --index DIR ARTICLES..."


def build_hint(path: Path) -> str:
    return f"build one with: scripts/rebuild-index --index {path} ARTICLES..."


@dataclass(frozen=True, slots=True)
class StoredPassage:
    """A passage as the read side returns it: text, offsets and its article's metadata."""

    row: int
    passage_id: str
    article_id: str
    n: int
    start: int
    end: int
    text: str
    title: str
    date: str | None
    source: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class ArticleInfo:
    article_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None


def content_sha1(article: Article) -> str:
    return hashlib.sha1(f"{article.title}\x1f{article.text}".encode()).hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def resolve_generation(path: Path) -> Path:
    """The generation folder an index path points at: `<index>/current`, or a generation folder itself."""
    path = Path(path)
    if (path / MANIFEST).is_file():
        return path
    current = path / CURRENT
    if current.exists() and (current / MANIFEST).is_file():
        return current.resolve()
    if not path.exists():
        raise IndexMissing(f"no index at {path}; {build_hint(path)}")
    raise IndexMissing(f"{path} holds no built index (no {CURRENT}/{MANIFEST}); {build_hint(path)}")


def read_manifest(generation: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((generation / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IndexCorrupt(f"{generation / MANIFEST} is unreadable ({exc}); {REBUILD}") from exc
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorrupt(
            f"{generation} is not a {FORMAT} v{FORMAT_VERSION} index "
            f"(found {manifest.get('format')} v{manifest.get('format_version')}); rebuild it with this version"
        )
    return manifest


def check_files(generation: Path, manifest: dict[str, Any], full: bool = False) -> None:
    """Refuse an index whose files are missing or differ from the manifest (sizes; sha256 too when `full`)."""
    for name, meta in manifest["files"].items():
        path = generation / name
        if not path.is_file():
            raise IndexCorrupt(f"{path} is missing; {REBUILD}")
        if path.stat().st_size != meta["bytes"]:
            raise IndexCorrupt(f"{path} is {path.stat().st_size} bytes, manifest says {meta['bytes']}; {REBUILD}")
        if full and _sha256(path) != meta["sha256"]:
            raise IndexCorrupt(f"{path} does not match its checksum in the manifest; {REBUILD}")


class IndexWriter:
    """Writes one new generation; `commit()` makes it live atomically, `abort()` (or an exception) drops it."""

    def __init__(self, index_dir: Path, dim: int) -> None:
        self.index_dir = Path(index_dir)
        (self.index_dir / GENERATIONS).mkdir(parents=True, exist_ok=True)
        self._lock = open(self.index_dir / LOCK, "w")  # noqa: SIM115 - held until commit/abort
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            raise StoreError(f"another build is writing {self.index_dir}; wait for it to finish") from exc
        gen_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.gen_id = gen_id
        self.tmp = self.index_dir / GENERATIONS / f".tmp-{gen_id}"
        self.tmp.mkdir()
        self.dim = dim
        self._db = sqlite3.connect(self.tmp / STORE)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        self._vectors: list[np.ndarray] = []
        self.rows = 0
        self.articles = 0

    def add(self, article: Article, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        if len(passages) != len(vectors):
            raise ValueError("one vector per passage")
        self._db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?)",
            (
                article.article_id,
                article.title,
                article.date,
                article.source,
                article.url,
                content_sha1(article),
                len(passages),
            ),
        )
        self._db.executemany(
            'INSERT INTO passages (row, passage_id, article_id, n, start, "end", text) VALUES (?,?,?,?,?,?,?)',
            [(self.rows + i, p.passage_id, p.article_id, p.n, p.start, p.end, p.text) for i, p in enumerate(passages)],
        )
        self._db.execute(
            "INSERT INTO minhash VALUES (?,?)", (article.article_id, dedup.signature(article.text).tobytes())
        )
        self._vectors.append(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        self.rows += len(passages)
        self.articles += 1

    def has_article(self, article_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM articles WHERE article_id=?", (article_id,)).fetchone() is not None

    def commit(self, manifest: dict[str, Any], index_spec: str = vecs.DEFAULT_SPEC) -> Path:
        """Build the vector index, write the manifest last, move the generation into place and make it current."""
        try:
            near_duplicates = self._group_near_duplicates()
            self._db.commit()
            lexical_docs = lexical.build(
                self.tmp / LEXICAL,
                self._db.execute(
                    "SELECT p.row, a.title, p.text FROM passages p JOIN articles a USING (article_id) ORDER BY p.row"
                ),
            )
            self._db.close()
            matrix = np.concatenate(self._vectors) if self._vectors else np.zeros((0, self.dim), np.float32)
            self._vectors = []
            if index_spec == "auto":
                index_spec = vecs.choose_spec(len(matrix))
            vecs.write(vecs.build(matrix, index_spec), self.tmp / VECTORS)
            lexical_files = sorted(str(f.relative_to(self.tmp)) for f in (self.tmp / LEXICAL).rglob("*") if f.is_file())
            names = [STORE, VECTORS, *lexical_files]
            files = {
                name: {"bytes": (self.tmp / name).stat().st_size, "sha256": _sha256(self.tmp / name)} for name in names
            }
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "generation": self.gen_id,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **manifest,
                "dim": self.dim,
                "counts": {"articles": self.articles, "passages": self.rows},
                "index": {"type": index_spec, "metric": "inner_product", "faiss": vecs.faiss_version()},
                "lexical": {
                    "engine": "tantivy",
                    "tokenizer": lexical.TOKENIZER,
                    "fields": lexical.FIELDS,
                    "ranking": "bm25",
                    "documents": lexical_docs,
                    "folder": LEXICAL,
                },
                "near_duplicates": near_duplicates,
                "files": files,
            }
            for name in names:
                with open(self.tmp / name, "rb+") as data:
                    os.fsync(data.fileno())
            with open(self.tmp / MANIFEST, "w") as out:
                json.dump(manifest, out, indent=2)
                out.flush()
                os.fsync(out.fileno())
            final = self.index_dir / GENERATIONS / self.gen_id
            os.rename(self.tmp, final)
            link = self.index_dir / f".{CURRENT}-{self.gen_id}"
            os.symlink(Path(GENERATIONS) / self.gen_id, link)
            os.replace(link, self.index_dir / CURRENT)  # the atomic switch
            _fsync_dir(self.index_dir)
            self._prune()
            return final
        except BaseException:
            self.abort()
            raise
        finally:
            self._release()

    def _group_near_duplicates(self) -> dict[str, Any]:
        """Group the articles whose texts are near-identical (index.dedup) into the near_duplicates table."""
        ids, signatures = [], []
        for article_id, blob in self._db.execute("SELECT article_id, signature FROM minhash ORDER BY article_id"):
            ids.append(article_id)
            signatures.append(np.frombuffer(blob, dtype=np.uint32))
        found = dedup.groups(signatures)
        self._db.execute("DELETE FROM near_duplicates")
        self._db.executemany(
            "INSERT INTO near_duplicates VALUES (?,?)",
            [(ids[i], ids[members[0]]) for members in found for i in members],
        )
        return {
            "method": "minhash",
            "shingle_words": dedup.SHINGLE,
            "permutations": dedup.NUM_PERM,
            "threshold": dedup.THRESHOLD,
            "groups": len(found),
            "articles": sum(len(m) for m in found),
        }

    def _prune(self) -> None:
        gens = self.index_dir / GENERATIONS
        live = (self.index_dir / CURRENT).resolve().name
        done = sorted((p for p in gens.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
        for old in [p for p in done if p.name != live][: max(0, len(done) - KEEP_GENERATIONS)]:
            shutil.rmtree(old, ignore_errors=True)
        for stale in gens.glob(".tmp-*"):  # left by a build that was killed
            if stale != self.tmp:
                shutil.rmtree(stale, ignore_errors=True)

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if not self._lock.closed:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()


class IndexReader:
    """A loaded generation: vector search and passage fetch. Thread-safe (one SQLite connection per thread)."""

    def __init__(self, path: Path, verify: bool = False) -> None:
        self.generation = resolve_generation(Path(path))
        self.manifest = read_manifest(self.generation)
        check_files(self.generation, self.manifest, full=verify)
        self._store_path = self.generation / STORE
        self._local = threading.local()
        try:
            self.index = vecs.read(self.generation / VECTORS)
        except RuntimeError as exc:
            raise IndexCorrupt(f"{self.generation / VECTORS} is unreadable ({exc}); {REBUILD}") from exc
        counts = self.manifest["counts"]
        stored = self._db().execute("SELECT count(*) FROM passages").fetchone()[0]
        if not (vecs.count(self.index) == counts["passages"] == stored):
            raise IndexCorrupt(
                f"{self.generation}: {vecs.count(self.index)} vectors, {stored} stored passages, manifest says "
                f"{counts['passages']}; {REBUILD}"
            )
        if vecs.dim(self.index) != self.manifest["dim"]:
            raise IndexCorrupt(f"{self.generation}: vector dimension differs from the manifest; {REBUILD}")
        by_row = (
            self._db()
            .execute(
                "SELECT p.article_id, a.date, a.source FROM passages p JOIN articles a USING (article_id) "
                "ORDER BY p.row"
            )
            .fetchall()
        )
        self._article_of_row = [a for a, _, _ in by_row]  # row -> article_id, for grouping candidates
        # row -> the article's day (days since 1970-01-01; NO_DAY where undated), for date filters and recency
        self.row_days = np.array([_day(d) for _, d, _ in by_row], dtype=np.int32)
        # row -> a code of the article's source (case-folded), for source filters
        self._source_codes: dict[str, int] = {}
        self.row_sources = np.array(
            [self._source_codes.setdefault((src or "").casefold(), len(self._source_codes)) for _, _, src in by_row],
            dtype=np.int32,
        )
        # article -> its near-duplicate group (the group's first article id); absent in indexes built before them
        self._group_of: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}
        if "near_duplicates" in self.manifest:
            for article_id, group_id in self._db().execute("SELECT article_id, group_id FROM near_duplicates"):
                self._group_of[article_id] = group_id
                self._members.setdefault(group_id, []).append(article_id)
        self.lexical: lexical.LexicalIndex | None = None
        if "lexical" in self.manifest:
            try:
                fields = self.manifest["lexical"].get("fields", lexical.LEGACY_FIELDS)
                self.lexical = lexical.LexicalIndex(self.generation / LEXICAL, fields)
            except (ValueError, OSError) as exc:
                raise IndexCorrupt(f"{self.generation / LEXICAL} is unreadable ({exc}); {REBUILD}") from exc
            if self.lexical.count() != stored:
                raise IndexCorrupt(
                    f"{self.generation}: lexical index holds {self.lexical.count()} passages, store {stored}; {REBUILD}"
                )

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            uri = f"file:{self._store_path}?mode=ro"
            db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.db = db
        return db

    @property
    def passages(self) -> int:
        return int(self.manifest["counts"]["passages"])

    @property
    def articles(self) -> int:
        return int(self.manifest["counts"]["articles"])

    def article_of(self, row: int) -> str:
        return self._article_of_row[row]

    def search_lexical(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (row, BM25 score) among `allowed` rows, best first; [] for an index built without one.

        With a filter the search widens (k, 4k, 16k, ...) until k rows pass or the matches run out.
        """
        if self.lexical is None:
            return []
        if allowed is None:
            return self.lexical.search(query, k)
        want = k
        while True:
            hits = self.lexical.search(query, want)
            passed = [(row, score) for row, score in hits if allowed[row]]
            if len(passed) >= k or len(hits) < want:
                return passed[:k]
            want *= 4

    def age_in_days(self, reference: datetime.date) -> Callable[[int], float | None]:
        """row -> its article's age in days on `reference` (None where undated), for the recency boost."""
        day = (reference - EPOCH).days
        days = self.row_days
        return lambda row: None if days[row] == NO_DAY else float(day - days[row])

    def rows_from(self, sources: Iterable[str]) -> np.ndarray:
        """A bool per row: its article comes from one of `sources` (exact names, case-insensitive)."""
        codes = [self._source_codes[s.casefold()] for s in sources if s.casefold() in self._source_codes]
        return np.isin(self.row_sources, np.array(codes, dtype=np.int32))

    def rows_dated(self, start: datetime.date | None = None, end: datetime.date | None = None) -> np.ndarray:
        """A bool per row: its article is dated within [start, end] (undated articles never pass a date filter)."""
        mask = self.row_days != NO_DAY
        if start is not None:
            mask &= self.row_days >= (start - EPOCH).days
        if end is not None:
            mask &= self.row_days <= (end - EPOCH).days
        return mask

    def has_article(self, article_id: str) -> bool:
        return self._db().execute("SELECT 1 FROM articles WHERE article_id=?", (article_id,)).fetchone() is not None

    def sources(self) -> list[tuple[str, int]]:
        """(source, number of articles) for every named source, most articles first."""
        return [
            (name, int(n))
            for name, n in self._db().execute(
                "SELECT source, count(*) AS n FROM articles WHERE source IS NOT NULL AND source != '' "
                "GROUP BY source ORDER BY n DESC, source"
            )
        ]

    def rows_of_article(self, article_id: str) -> np.ndarray:
        """A bool per row: the passage belongs to `article_id`."""
        mask = np.zeros(self.passages, dtype=bool)
        rows = [r for (r,) in self._db().execute("SELECT row FROM passages WHERE article_id=?", (article_id,))]
        mask[rows] = True
        return mask

    def duplicate_group(self, article_id: str) -> str | None:
        """The near-duplicate group of an article (an id shared by its near-copies), None when it has none."""
        return self._group_of.get(article_id)

    def near_duplicates(self, article_id: str) -> list[ArticleInfo]:
        """The other articles of `article_id`'s near-duplicate group, newest first."""
        group = self._group_of.get(article_id)
        if group is None:
            return []
        others = [a for a in self._members[group] if a != article_id]
        marks = ",".join("?" * len(others))
        found = self._db().execute(
            f"SELECT article_id, title, date, source, url FROM articles WHERE article_id IN ({marks})", others
        )
        return sorted((ArticleInfo(*r) for r in found), key=lambda a: (a.date or "", a.article_id), reverse=True)

    @property
    def near_duplicate_groups(self) -> int:
        return len(self._members)

    def search(
        self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top-k (row, score) per query vector among `allowed` rows, best first; FAISS's -1 padding is dropped."""
        scores, rows = vecs.search(self.index, query_vectors, k, allowed)
        return [
            [(int(r), float(s)) for r, s in zip(row_ids, row_scores, strict=True) if r >= 0]
            for row_ids, row_scores in zip(rows, scores, strict=True)
        ]

    def fetch(self, rows: Sequence[int]) -> list[StoredPassage]:
        """Passages with their article metadata, in the order of `rows`."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = (
            self._db()
            .execute(
                f'SELECT p.row, p.passage_id, p.article_id, p.n, p.start, p."end", p.text, a.title, a.date, a.source, '
                f"a.url FROM passages p JOIN articles a USING (article_id) WHERE p.row IN ({marks})",
                list(rows),
            )
            .fetchall()
        )
        by_row = {r[0]: StoredPassage(*r) for r in found}
        return [by_row[r] for r in rows if r in by_row]

    def iter_passages(self) -> Iterator[StoredPassage]:
        yield from (
            StoredPassage(*r)
            for r in self._db().execute(
                'SELECT p.row, p.passage_id, p.article_id, p.n, p.start, p."end", p.text, a.title, a.date, '
                "a.source, a.url FROM passages p JOIN articles a USING (article_id) ORDER BY p.row"
            )
        )

    def vectors(self, rows: Iterable[int]) -> np.ndarray:
        return np.stack([self.index.reconstruct(int(r)) for r in rows])

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()


class EmbeddingCache:
    """Vectors keyed by (model fingerprint, sha1 of the embedded text), so a rebuild embeds only new text."""

    def __init__(self, path: Path, model_fingerprint: str, dim: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.executescript(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key BLOB, vector BLOB, PRIMARY KEY (model, key))"
            " WITHOUT ROWID;"
        )
        self.model, self.dim = model_fingerprint, dim

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
