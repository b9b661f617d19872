"""The index directory: the ONLY module that knows its file names; owns the SQLite passage store and manifest.

    <index>/current -> generations/<id>     symlink, swapped atomically when a build commits
    <index>/generations/<id>/passages.sqlite3   articles and passages (text, offsets, metadata)
    <index>/generations/<id>/vectors.faiss      one vector per passage; FAISS row == passages.row
    <index>/generations/<id>/lexical/           BM25 index (tantivy) of title + text, one field; its row == passages.row
    <index>/generations/<id>/manifest.json      written last: model, counts, index type, sizes, versions

A build writes a new generation in a temporary folder, writes the manifest last, renames the folder into
place and then swaps `current`, so a reader sees the old index or the new one, never half of one. An add or
delete (index/edit.py) does the same from a copy of the live generation.

Rows are append-only within a line of generations: a deleted passage leaves its vector in `vectors.faiss`
(HNSW cannot remove one) and only its store row and lexical document go; the reader masks such rows out of
every vector search. So `vectors` (FAISS ntotal) = `passages` (store rows) + `deleted`, and `compact` rewrites
the generation without them. One writer at a time per index: every writer holds `.write.lock` (flock).
A reader holds a shared flock on its generation's manifest, so pruning never removes a generation in use.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import functools
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
from index.errors import IndexBusy, IndexCorrupt, IndexMissing

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
"""
NEAR_DUPLICATE_TABLES = """
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


# A filter passing under this share of the rows is applied inside the lexical index (a term set over `row`; its
# cost grows with the rows that pass); a broader one widens the search instead (its cost grows as fewer pass).
# Both grow with the index, so the crossover is a share: 3.2% on the whole RealTimeQA corpus (benchmarks/filters.py:
# 0.03% of rows 176 -> 1.1 ms, 0.3% 79 -> 3.1 ms, 2% 14.7 -> 8.6 ms; 6.6% 9.2 widening against 19.3 inside).
LEXICAL_WITHIN_SHARE = 0.03
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


def new_generation_id() -> str:
    """Sortable by creation time (to the microsecond: updates come faster than one a second), then unique."""
    now = time.time()
    return (
        time.strftime("%Y%m%dT%H%M%S", time.localtime(now))
        + f".{int(now * 1e6) % 1_000_000:06d}-"
        + uuid.uuid4().hex[:8]
    )


def acquire_write_lock(index_dir: Path, wait: float | None = 0.0) -> Any:
    """Take the index's single-writer lock; wait up to `wait` seconds (None: as long as it takes)."""
    lock = open(Path(index_dir) / LOCK, "w")  # noqa: SIM115 - held until the writer commits or aborts
    deadline = None if wait is None else time.monotonic() + wait
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return lock
        except BlockingIOError as exc:
            if deadline is not None and time.monotonic() >= deadline:
                lock.close()
                raise IndexBusy(f"another build or update is writing {index_dir}; wait for it to finish") from exc
            time.sleep(0.05)


def release_write_lock(lock: Any) -> None:
    if not lock.closed:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()


def file_entries(folder: Path, names: Iterable[str], known: dict[str, Any] | None = None) -> dict[str, Any]:
    """{name: {bytes, sha256}} for the manifest; `known` lends the sha256 of a file hard-linked from another
    generation (same inode: same bytes), so an update re-hashes only what it wrote."""
    out: dict[str, Any] = {}
    for name in names:
        st = (folder / name).stat()
        prior = (known or {}).get(name)
        if prior and prior.get("inode") == [st.st_dev, st.st_ino] and prior["bytes"] == st.st_size:
            digest = prior["sha256"]
        else:
            digest = _sha256(folder / name)
        out[name] = {"bytes": st.st_size, "sha256": digest}
    return out


def file_inodes(generation: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's file entries with each file's (device, inode), for file_entries(known=...)."""
    out = {}
    for name, meta in manifest["files"].items():
        with contextlib.suppress(OSError):
            st = (generation / name).stat()
            out[name] = {**meta, "inode": [st.st_dev, st.st_ino]}
    return out


def lexical_files(folder: Path) -> list[str]:
    return sorted(str(f.relative_to(folder)) for f in (folder / LEXICAL).rglob("*") if f.is_file())


def publish(index_dir: Path, tmp: Path, gen_id: str, manifest: dict[str, Any], names: Iterable[str]) -> Path:
    """fsync the files, write the manifest last, move the folder into place and swap `current` atomically."""
    for name in names:
        with open(tmp / name, "rb+") as data:
            os.fsync(data.fileno())
    with open(tmp / MANIFEST, "w") as out:
        json.dump(manifest, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    _fsync_dir(tmp)
    final = index_dir / GENERATIONS / gen_id
    os.rename(tmp, final)
    _fsync_dir(index_dir / GENERATIONS)
    link = index_dir / f".{CURRENT}-{gen_id}"
    os.symlink(Path(GENERATIONS) / gen_id, link)
    os.replace(link, index_dir / CURRENT)  # the atomic switch
    _fsync_dir(index_dir)
    prune(index_dir, keep=tmp)
    return final


def _in_use(generation: Path) -> bool:
    """A reader (this process or another) holds a shared lock on the generation's manifest."""
    try:
        probe = open(generation / MANIFEST, "rb")  # noqa: SIM115
    except OSError:
        return False
    with probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def prune(index_dir: Path, keep: Path | None = None) -> None:
    """Drop old generations (all but the live one and the newest before it, and any a reader still holds) and
    whatever a killed writer left behind. Call only while holding the write lock."""
    gens = index_dir / GENERATIONS
    live = (index_dir / CURRENT).resolve().name
    done = sorted((p for p in gens.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    for old in [p for p in done if p.name != live][: max(0, len(done) - KEEP_GENERATIONS)]:
        if not _in_use(old):
            shutil.rmtree(old, ignore_errors=True)
    for stale in gens.glob(".tmp-*"):  # left by a writer that was killed
        if stale != keep:
            shutil.rmtree(stale, ignore_errors=True)
    for link in index_dir.glob(f".{CURRENT}-*"):  # a symlink made but never swapped in (killed in between)
        with contextlib.suppress(OSError):
            link.unlink()


class IndexWriter:
    """Writes one new generation; `commit()` makes it live atomically, `abort()` (or an exception) drops it."""

    def __init__(self, index_dir: Path, dim: int, wait: float | None = 0.0) -> None:
        self.index_dir = Path(index_dir)
        (self.index_dir / GENERATIONS).mkdir(parents=True, exist_ok=True)
        self._lock = acquire_write_lock(self.index_dir, wait)
        gen_id = new_generation_id()
        self.gen_id = gen_id
        self.tmp = self.index_dir / GENERATIONS / f".tmp-{gen_id}"
        self.tmp.mkdir()
        self.dim = dim
        self._db = sqlite3.connect(self.tmp / STORE)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA + NEAR_DUPLICATE_TABLES)
        self._vectors: list[np.ndarray] = []
        self.rows = 0
        self.articles = 0

    def add(self, article: Article, passages: Sequence[Passage], vectors: np.ndarray) -> None:
        if len(passages) != len(vectors):
            raise ValueError("one vector per passage")
        insert_article(self._db, article, len(passages))
        insert_passages(self._db, self.rows, passages)
        self._vectors.append(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        self.rows += len(passages)
        self.articles += 1

    def has_article(self, article_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM articles WHERE article_id=?", (article_id,)).fetchone() is not None

    def add_stored(self, article_row: Sequence[Any], passages: Sequence[Passage], vectors: np.ndarray) -> None:
        """Copy an article as another generation stores it (its `articles` row kept as is), for compaction."""
        self._db.execute("INSERT INTO articles VALUES (?,?,?,?,?,?,?)", tuple(article_row))
        insert_passages(self._db, self.rows, passages)
        self._vectors.append(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim))
        self.rows += len(passages)
        self.articles += 1

    def commit(self, manifest: dict[str, Any], index_spec: str = vecs.DEFAULT_SPEC) -> Path:
        """Build the vector index, write the manifest last, move the generation into place and make it current."""
        try:
            near_duplicates = group_near_duplicates(self._db)
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
            names = [STORE, VECTORS, *lexical_files(self.tmp)]
            files = file_entries(self.tmp, names)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "generation": self.gen_id,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                **manifest,
                "dim": self.dim,
                "counts": {"articles": self.articles, "passages": self.rows, "vectors": self.rows, "deleted": 0},
                "index": {"type": index_spec, "metric": "inner_product", "faiss": vecs.faiss_version()},
                "lexical": {
                    "engine": "tantivy",
                    "tokenizer": lexical.TOKENIZER,
                    "fields": lexical.FIELDS,
                    lexical.ROW_TERMS: True,
                    "ranking": "bm25",
                    "documents": lexical_docs,
                    "folder": LEXICAL,
                },
                "near_duplicates": near_duplicates,
                "files": files,
            }
            return publish(self.index_dir, self.tmp, self.gen_id, manifest, names)
        except BaseException:
            self.abort()
            raise
        finally:
            self._release()

    def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        release_write_lock(self._lock)


def insert_article(db: sqlite3.Connection, article: Article, n_passages: int) -> None:
    db.execute(
        "INSERT INTO articles VALUES (?,?,?,?,?,?,?)",
        (
            article.article_id,
            article.title,
            article.date,
            article.source,
            article.url,
            content_sha1(article),
            n_passages,
        ),
    )
    db.execute("INSERT INTO minhash VALUES (?,?)", (article.article_id, dedup.signature(article.text).tobytes()))


def group_near_duplicates(db: sqlite3.Connection) -> dict[str, Any]:
    """Group the articles whose texts are near-identical (index.dedup) into the near_duplicates table, from the
    signatures in the minhash table; the manifest's summary of them."""
    ids, signatures = [], []
    for article_id, blob in db.execute("SELECT article_id, signature FROM minhash ORDER BY article_id"):
        ids.append(article_id)
        signatures.append(np.frombuffer(blob, dtype=np.uint32))
    found = dedup.groups(signatures)
    db.execute("DELETE FROM near_duplicates")
    db.executemany(
        "INSERT INTO near_duplicates VALUES (?,?)", [(ids[i], ids[members[0]]) for members in found for i in members]
    )
    return {
        "method": "minhash",
        "shingle_words": dedup.SHINGLE,
        "permutations": dedup.NUM_PERM,
        "threshold": dedup.THRESHOLD,
        "groups": len(found),
        "articles": sum(len(m) for m in found),
    }


def insert_passages(db: sqlite3.Connection, first_row: int, passages: Sequence[Passage]) -> None:
    db.executemany(
        'INSERT INTO passages (row, passage_id, article_id, n, start, "end", text) VALUES (?,?,?,?,?,?,?)',
        [(first_row + i, p.passage_id, p.article_id, p.n, p.start, p.end, p.text) for i, p in enumerate(passages)],
    )


class StoreEditor:
    """A writable copy of a generation's passage store, for a copy-on-write edit (index/edit.py)."""

    def __init__(self, source: Path, target: Path) -> None:
        shutil.copyfile(source / STORE, target / STORE)
        self._db = sqlite3.connect(target / STORE)
        self._db.execute("PRAGMA journal_mode=OFF")  # a killed edit leaves a .tmp folder nobody reads
        self._db.execute("PRAGMA synchronous=OFF")  # publish() fsyncs every file before the manifest
        # Stores from before near-duplicate detection get the tables; their old articles have no signature and
        # are never grouped (a rebuild groups them).
        self._db.executescript(NEAR_DUPLICATE_TABLES.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))

    def stored(self, article_id: str) -> tuple[str, str, list[int], list[str]] | None:
        """(content_sha1, title, rows, passage texts in order) of a stored article, or None."""
        query = "SELECT content_sha1, title FROM articles WHERE article_id=?"
        found = self._db.execute(query, (article_id,)).fetchone()
        if found is None:
            return None
        passages = self._db.execute("SELECT row, text FROM passages WHERE article_id=? ORDER BY n", (article_id,))
        pairs = passages.fetchall()
        return found[0], found[1], [r for r, _ in pairs], [t for _, t in pairs]

    def is_unchanged(self, article: Article) -> bool:
        """Stored with the same title, text (content hash), date, source and url."""
        found = self._db.execute(
            "SELECT content_sha1, date, source, url FROM articles WHERE article_id=?", (article.article_id,)
        ).fetchone()
        return found is not None and tuple(found) == (content_sha1(article), article.date, article.source, article.url)

    def delete(self, article_id: str) -> list[int] | None:
        """Delete an article and its passages; their rows, or None if it is not stored."""
        rows = [r for (r,) in self._db.execute("SELECT row FROM passages WHERE article_id=?", (article_id,))]
        if not self._db.execute("DELETE FROM articles WHERE article_id=?", (article_id,)).rowcount:
            return None
        self._db.execute("DELETE FROM passages WHERE article_id=?", (article_id,))
        self._db.execute("DELETE FROM minhash WHERE article_id=?", (article_id,))
        return rows

    def group_near_duplicates(self) -> dict[str, Any]:
        return group_near_duplicates(self._db)

    def add(self, article: Article, first_row: int, passages: Sequence[Passage]) -> None:
        insert_article(self._db, article, len(passages))
        insert_passages(self._db, first_row, passages)

    def counts(self) -> tuple[int, int]:
        """(articles, passages) stored."""
        self._db.commit()
        articles = self._db.execute("SELECT count(*) FROM articles").fetchone()[0]
        return articles, self._db.execute("SELECT count(*) FROM passages").fetchone()[0]

    def lexical_documents(self) -> Iterator[tuple[int, str, str]]:
        """(row, title, text) of every passage, for rebuilding a lexical index."""
        return iter(
            self._db.execute(
                "SELECT p.row, a.title, p.text FROM passages p JOIN articles a USING (article_id) ORDER BY p.row"
            )
        )

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.commit()
            self._db.close()


def unchanged_articles(generation: Path, articles: Iterable[Article]) -> set[str]:
    """Ids of `articles` stored in `generation` exactly as given (title, text, date, source, url), read-only."""
    wanted = {a.article_id: (content_sha1(a), a.date, a.source, a.url) for a in articles}
    found: set[str] = set()
    db = sqlite3.connect(f"file:{generation / STORE}?mode=ro", uri=True)
    with contextlib.closing(db):
        ids = list(wanted)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = db.execute(
                f"SELECT article_id, content_sha1, date, source, url FROM articles WHERE article_id IN "
                f"({','.join('?' * len(chunk))})",
                chunk,
            )
            found |= {r[0] for r in rows if tuple(r[1:]) == wanted[r[0]]}
    return found


def store_problems(generation: Path, counts: dict[str, Any], vectors: int | None) -> tuple[set[int], list[str]]:
    """(rows stored, problems) of a generation's passage store against the manifest's counts and the number of
    vectors: every disagreement one line, for `index check`."""
    problems: list[str] = []
    rows: set[int] = set()

    def some(items: Iterable[Any]) -> str:
        found = sorted(items)
        return ", ".join(map(str, found[:5])) + (f" and {len(found) - 5:,} more" if len(found) > 5 else "")

    try:
        db = sqlite3.connect(f"file:{generation / STORE}?mode=ro", uri=True)
        with contextlib.closing(db):
            rows = {r for (r,) in db.execute("SELECT row FROM passages")}
            n_articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
            if len(rows) != counts.get("passages"):
                problems.append(f"{STORE}: {len(rows):,} passages, the manifest says {counts.get('passages'):,}")
            if n_articles != counts.get("articles"):
                problems.append(f"{STORE}: {n_articles:,} articles, the manifest says {counts.get('articles'):,}")
            if vectors is not None and (outside := [r for r in rows if not 0 <= r < vectors]):
                problems.append(f"{STORE}: rows without a vector (there are {vectors:,}): {some(outside)}")
            orphans = db.execute("SELECT DISTINCT article_id FROM passages EXCEPT SELECT article_id FROM articles")
            if found := [a for (a,) in orphans]:
                problems.append(f"{STORE}: passages of articles not in the articles table: {some(found)}")
            miscounted = db.execute(
                "SELECT a.article_id FROM articles a LEFT JOIN passages p USING (article_id) "
                "GROUP BY a.article_id HAVING count(p.row) != a.n_passages"
            )
            if found := [a for (a,) in miscounted]:
                problems.append(f"{STORE}: articles whose passages differ from their n_passages: {some(found)}")
            bad_ids = db.execute("SELECT passage_id FROM passages WHERE passage_id != article_id || '#' || n")
            if found := [p for (p,) in bad_ids]:
                problems.append(f"{STORE}: passage ids that are not <article_id>#<n>: {some(found)}")
    except sqlite3.Error as exc:
        problems.append(f"{STORE}: unreadable ({exc})")
    return rows, problems


class IndexReader:
    """A loaded generation: vector search and passage fetch. Thread-safe (one SQLite connection per thread)."""

    def __init__(self, path: Path, verify: bool = False) -> None:
        self.generation = resolve_generation(Path(path))
        # A shared lock on the manifest while this reader lives: pruning skips a generation someone reads.
        self._lease = open(self.generation / MANIFEST, "rb")  # noqa: SIM115 - released in close()
        fcntl.flock(self._lease, fcntl.LOCK_SH)
        try:
            self._load(verify)
        except BaseException:
            self._lease.close()
            raise

    def _load(self, verify: bool) -> None:
        self.manifest = read_manifest(self.generation)
        check_files(self.generation, self.manifest, full=verify)
        self._store_path = self.generation / STORE
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []  # every thread's, so close() closes them all
        self._connections_lock = threading.Lock()
        try:
            self.index = vecs.read(self.generation / VECTORS)
        except RuntimeError as exc:
            raise IndexCorrupt(f"{self.generation / VECTORS} is unreadable ({exc}); {REBUILD}") from exc
        counts = self.manifest["counts"]
        stored = self._db().execute("SELECT count(*) FROM passages").fetchone()[0]
        ntotal = vecs.count(self.index)
        if not (ntotal == counts.get("vectors", counts["passages"]) and stored == counts["passages"]):
            raise IndexCorrupt(
                f"{self.generation}: {ntotal} vectors, {stored} stored passages, manifest says "
                f"{counts.get('vectors', counts['passages'])} and {counts['passages']}; {REBUILD}"
            )
        if vecs.dim(self.index) != self.manifest["dim"]:
            raise IndexCorrupt(f"{self.generation}: vector dimension differs from the manifest; {REBUILD}")
        by_row = (
            self._db()
            .execute(
                "SELECT p.row, p.article_id, a.date, a.source, p.n FROM passages p JOIN articles a USING (article_id) "
                "ORDER BY p.row"
            )
            .fetchall()
        )
        if by_row and not 0 <= by_row[0][0] <= by_row[-1][0] < ntotal:
            raise IndexCorrupt(f"{self.generation}: store rows run past the {ntotal} vectors; {REBUILD}")
        row_ids, article_ids, dates, sources, places = zip(*by_row, strict=True) if by_row else ((), (), (), (), ())
        rows = np.array(row_ids, dtype=np.int64)
        # row -> article_id, for grouping candidates ("" for a deleted row, which no search returns)
        self._article_of_row = [""] * ntotal
        for r, a in zip(row_ids, article_ids, strict=True):
            self._article_of_row[r] = a
        # row -> the article's day (days since 1970-01-01; NO_DAY where undated or deleted), for filters and recency
        self.row_days = np.full(ntotal, NO_DAY, dtype=np.int32)
        self.row_days[rows] = np.array([_day(d) for d in dates], dtype=np.int32)
        # row -> the passage's place in its article (0 = the lede), for choosing the passage an article hit shows
        self.row_n = np.zeros(ntotal, dtype=np.int32)
        self.row_n[rows] = np.array(places, dtype=np.int32)
        # row -> a code of the article's source (case-folded; -1 where deleted), for source filters
        self._source_codes: dict[str, int] = {}
        self.row_sources = np.full(ntotal, -1, dtype=np.int32)
        self.row_sources[rows] = np.array(
            [self._source_codes.setdefault((src or "").casefold(), len(self._source_codes)) for src in sources],
            dtype=np.int32,
        )
        # article -> its near-duplicate group (the group's first article id); absent in indexes built before them
        self._group_of: dict[str, str] = {}
        self._members: dict[str, list[str]] = {}
        if "near_duplicates" in self.manifest:
            for article_id, group_id in self._db().execute("SELECT article_id, group_id FROM near_duplicates"):
                self._group_of[article_id] = group_id
                self._members.setdefault(group_id, []).append(article_id)
        # rows still in the store; None when none was deleted (no mask to apply)
        self.live: np.ndarray | None = None
        if stored < ntotal:
            self.live = np.zeros(ntotal, dtype=bool)
            self.live[rows] = True
        self.lexical: lexical.LexicalIndex | None = None
        if "lexical" in self.manifest:
            try:
                meta = self.manifest["lexical"]
                fields = meta.get("fields", lexical.LEGACY_FIELDS)
                row_terms = bool(meta.get(lexical.ROW_TERMS))
                self.lexical = lexical.LexicalIndex(self.generation / LEXICAL, fields, row_terms)
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
            with self._connections_lock:
                self._connections.append(db)
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

        A filter passing few rows is applied inside the lexical index (indexes built with `row` indexed); otherwise
        the search widens (k, 4k, 16k, ...) until k rows pass or the matches run out.
        """
        if self.lexical is None:
            return []
        if allowed is None:
            return self.lexical.search(query, k)
        if self.lexical_filters_inside(allowed):
            return self.lexical.search_within(query, k, np.flatnonzero(allowed).tolist())
        return self.search_lexical_widened(query, k, allowed)

    def lexical_filters_inside(self, allowed: np.ndarray) -> bool:
        """Whether `search_lexical` applies this filter inside the lexical index (few rows pass, `row` indexed)
        rather than widening the search."""
        return self.lexical is not None and self.lexical.row_terms and float(allowed.mean()) < LEXICAL_WITHIN_SHARE

    def search_lexical_widened(self, query: str, k: int, allowed: np.ndarray) -> list[tuple[int, float]]:
        """Top-k among `allowed` rows by searching all rows for k, 4k, 16k, ... until k pass or none are left."""
        assert self.lexical is not None
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

    @functools.cached_property
    def _sources(self) -> list[tuple[str, int]]:
        return [
            (name, int(n))
            for name, n in self._db().execute(
                "SELECT source, count(*) AS n FROM articles WHERE source IS NOT NULL AND source != '' "
                "GROUP BY source ORDER BY n DESC, source"
            )
        ]

    def sources(self) -> list[tuple[str, int]]:
        """(source, number of articles) for every named source, most articles first (counted once: a generation
        never changes)."""
        return self._sources

    def rows_of_article(self, article_id: str) -> np.ndarray:
        """A bool per row: the passage belongs to `article_id`."""
        mask = np.zeros(len(self.row_days), dtype=bool)  # one per vector, deleted rows included
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

    def search(
        self, query_vectors: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top-k (row, score) per query vector among `allowed` rows, best first; FAISS's -1 padding is dropped.

        Deleted rows (still in the vector index until compaction) never pass."""
        if self.live is not None:
            allowed = self.live if allowed is None else allowed & self.live
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

    def article_ids(self) -> set[str]:
        return {a for (a,) in self._db().execute("SELECT article_id FROM articles")}

    def article(self, article_id: str) -> dict[str, Any] | None:
        """A stored article's metadata and passage count, or None."""
        found = (
            self._db()
            .execute("SELECT title, date, source, url, n_passages FROM articles WHERE article_id=?", (article_id,))
            .fetchone()
        )
        if found is None:
            return None
        title, date, source, url, n = found
        return {"article_id": article_id, "title": title, "date": date, "source": source, "url": url, "passages": n}

    def close(self) -> None:
        """Close every thread's store connection and release the generation; call when no search is running."""
        with self._connections_lock:
            for db in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    db.close()
            self._connections.clear()
        if not self._lease.closed:
            self._lease.close()


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
