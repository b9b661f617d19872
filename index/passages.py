"""The passage store (passages.sqlite3): the SQLite schema and every query on it; the ONLY module of the index
that imports sqlite3 (the embedding cache, index/cache.py, keeps its own database).

One `PassageStore` is one store file: a build writes one (passages.sqlite3), an edit writes its added articles
as a new one (a segment); index/segments.py reads a generation's segments as one store, for the reader, the
editor, compaction and `index check`.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index import dedup
from index.articles import Article, Passage
from index.grouping import near_duplicate_pairs
from index.manifest import NearDuplicates

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
CREATE TABLE minhash_bands (key INTEGER NOT NULL, article_id TEXT NOT NULL, PRIMARY KEY (key, article_id))
    WITHOUT ROWID;
"""
_PASSAGE = (
    'SELECT p.row, p.passage_id, p.article_id, p.n, p.start, p."end", p.text, a.title, a.date, a.source, a.url '
    "FROM passages p JOIN articles a USING (article_id)"
)
_CHUNK = 500  # ids per IN (...) query
StoreFileError = sqlite3.Error  # what a damaged or unreadable store file raises, for callers that report it


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


def first_few(items: Iterable[Any], show: int = 5) -> str:
    """The first `show` of `items` (sorted) and how many more, for a problem report."""
    found = sorted(items)
    return ", ".join(map(str, found[:show])) + (f" and {len(found) - show:,} more" if len(found) > show else "")


class PassageStore:
    """A generation's articles and passages; `create`, `copy` (to edit) or `read_only`."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @classmethod
    def create(cls, path: Path) -> PassageStore:
        """A new, empty store for a build (no journal: a killed build leaves a folder nobody reads)."""
        db = sqlite3.connect(path)
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA + NEAR_DUPLICATE_TABLES)
        return cls(db)

    @classmethod
    def read_only(cls, path: Path, any_thread: bool = False) -> PassageStore:
        return cls(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=not any_thread))

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.commit()
            self._db.close()

    # --- writes ---------------------------------------------------------------------------------------------

    def add(self, article: Article, first_row: int, passages: Sequence[Passage]) -> None:
        """An article (with its near-duplicate signature) and its passages from `first_row` on."""
        row = (article.article_id, article.title, article.date, article.source, article.url)
        self._db.execute("INSERT INTO articles VALUES (?,?,?,?,?,?,?)", (*row, content_sha1(article), len(passages)))
        signature = dedup.signature(article.text).tobytes()
        self._db.execute("INSERT INTO minhash VALUES (?,?)", (article.article_id, signature))
        self._add_passages(first_row, passages)

    def add_stored(self, article_row: Sequence[Any], first_row: int, passages: Sequence[Passage]) -> None:
        """Copy an article as another store holds it (its `articles` row kept as is), for compaction."""
        self._db.execute("INSERT INTO articles VALUES (?,?,?,?,?,?,?)", tuple(article_row))
        self._add_passages(first_row, passages)

    def add_signatures(self, signed: Iterable[tuple[str, bytes]]) -> None:
        """MinHash signatures as another store holds them (article_id, signature), for compaction."""
        self._db.executemany("INSERT INTO minhash VALUES (?,?)", list(signed))

    def index_bands(self, signed: Sequence[tuple[str, bytes]] | None = None) -> None:
        """Index the articles by LSH band (index/dedup.py `band_keys`), so an edit finds an article's near-copies
        without reading every signature: those `signed`, or every signature stored here (a build's or an edit's
        new segment, once written). In key order: appended to the table's b-tree, not scattered."""
        signed = self.signatures() if signed is None else signed
        owner, keys = dedup.band_keys([blob for _, blob in signed])
        order = np.argsort(keys, kind="stable")
        rows = zip(keys[order].tolist(), [signed[i][0] for i in owner[order].tolist()], strict=True)
        self._db.executemany("INSERT INTO minhash_bands VALUES (?,?)", rows)
        self._db.commit()

    def _add_passages(self, first_row: int, passages: Sequence[Passage]) -> None:
        self._db.executemany(
            'INSERT INTO passages (row, passage_id, article_id, n, start, "end", text) VALUES (?,?,?,?,?,?,?)',
            [(first_row + i, p.passage_id, p.article_id, p.n, p.start, p.end, p.text) for i, p in enumerate(passages)],
        )

    def delete(self, article_id: str) -> list[int] | None:
        """Delete an article and its passages; their rows, or None if it is not stored."""
        rows = [r for (r,) in self._db.execute("SELECT row FROM passages WHERE article_id=?", (article_id,))]
        if not self._db.execute("DELETE FROM articles WHERE article_id=?", (article_id,)).rowcount:
            return None
        self._db.execute("DELETE FROM passages WHERE article_id=?", (article_id,))
        self._db.execute("DELETE FROM minhash WHERE article_id=?", (article_id,))
        return rows

    def absorb(self, source: Path, skip: Iterable[str]) -> None:
        """Copy every article of the store at `source` but those in `skip` (deleted), with its passages and
        signature, rows kept: one segment folded into another (index/segments.py). One ATTACH at a time."""
        self._db.execute("ATTACH DATABASE ? AS folded", (f"file:{source}?mode=ro",))
        try:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS skip (article_id TEXT PRIMARY KEY) WITHOUT ROWID")
            self._db.execute("DELETE FROM temp.skip")
            self._db.executemany("INSERT OR IGNORE INTO temp.skip VALUES (?)", [(a,) for a in skip])
            tables = {t for (t,) in self._db.execute("SELECT name FROM folded.sqlite_master WHERE type='table'")}
            # near_duplicates: a build's groups (the bottom of index/group_layers.py) go with its segment
            kept = "WHERE article_id NOT IN (SELECT article_id FROM temp.skip)"
            for table in ("articles", "passages", "minhash", "near_duplicates", "minhash_bands"):
                if table in tables:  # stores from before near-duplicate detection have none of the last three
                    self._db.execute(f"INSERT INTO main.{table} SELECT * FROM folded.{table} {kept}")
            if "minhash" in tables and "minhash_bands" not in tables:  # from before band tables: made now
                signed = self._db.execute(f"SELECT article_id, signature FROM folded.minhash {kept}").fetchall()
                self.index_bands(signed)
            self._db.commit()
        finally:
            self._db.execute("DETACH DATABASE folded")

    def signatures(self) -> list[tuple[str, bytes]]:
        """(article_id, MinHash signature) of every article that has one (none in stores from before grouping)."""
        if not self._has_table("minhash"):
            return []
        return self._db.execute("SELECT article_id, signature FROM minhash").fetchall()

    def group_near_duplicates(self) -> NearDuplicates:
        """Group the articles whose texts are near-identical (index.dedup) into the near_duplicates table, from
        the signatures in the minhash table; the manifest's summary of them."""
        signed = self.signatures()
        self.index_bands(signed)
        pairs, summary = near_duplicate_pairs(signed)
        self._db.execute("DELETE FROM near_duplicates")
        self._db.executemany("INSERT INTO near_duplicates VALUES (?,?)", pairs)
        self._db.commit()
        return summary

    # --- reads ----------------------------------------------------------------------------------------------

    def has_article(self, article_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM articles WHERE article_id=?", (article_id,)).fetchone() is not None

    def counts(self) -> tuple[int, int]:
        """(articles, passages) stored."""
        self._db.commit()
        articles = self._db.execute("SELECT count(*) FROM articles").fetchone()[0]
        return articles, self._db.execute("SELECT count(*) FROM passages").fetchone()[0]

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
        return self.unchanged([article]) == {article.article_id}

    def unchanged(self, articles: Iterable[Article]) -> set[str]:
        """Ids of `articles` stored exactly as given (title, text, date, source, url)."""
        wanted = {a.article_id: (content_sha1(a), a.date, a.source, a.url) for a in articles}
        rows = self._in_chunks("SELECT article_id, content_sha1, date, source, url FROM articles", "article_id", wanted)
        return {r[0] for r in rows if tuple(r[1:]) == wanted[r[0]]}

    def lexical_documents(self) -> Iterator[tuple[int, str, str]]:
        """(row, title, text) of every passage in row order, for building a lexical index."""
        return iter(
            self._db.execute(
                "SELECT p.row, a.title, p.text FROM passages p JOIN articles a USING (article_id) ORDER BY p.row"
            )
        )

    def row_facts(self, first_row: int = 0) -> list[tuple[int, str, str | None, str | None, int]]:
        """(row, article_id, date, source, n) of every passage from `first_row` on, in row order: the reader's
        per-row arrays."""
        return self._db.execute(
            "SELECT p.row, p.article_id, a.date, a.source, p.n FROM passages p JOIN articles a USING (article_id) "
            "WHERE p.row >= ? ORDER BY p.row",
            (first_row,),
        ).fetchall()

    def rows_below(self, end: int) -> list[int]:
        """The stored rows before `end` (read from the article index, which holds every row, not the texts)."""
        query = "SELECT row FROM passages INDEXED BY passages_article WHERE row < ?"
        return sorted(r for (r,) in self._db.execute(query, (end,)))

    def signatures_of(self, article_ids: Sequence[str]) -> list[tuple[str, bytes]]:
        """(article_id, MinHash signature) of those of `article_ids` stored here with one."""
        if not self._has_table("minhash"):
            return []  # a store from before grouping
        return self._in_chunks("SELECT article_id, signature FROM minhash", "article_id", article_ids)

    def band_matches(self, keys: Sequence[int]) -> set[str] | None:
        """The articles stored here with one of these LSH band keys (index/dedup.py `band_keys`); None when the
        store has no band table (written before them)."""
        if not self._has_table("minhash_bands"):
            return None
        return {a for (a,) in self._in_chunks("SELECT article_id FROM minhash_bands", "key", keys)}

    def _has_table(self, name: str) -> bool:
        return self._db.execute("SELECT 1 FROM sqlite_master WHERE name=?", (name,)).fetchone() is not None

    def _in_chunks(self, select: str, column: str, values: Iterable[Any]) -> list[Any]:
        """The rows of `select` whose `column` is one of `values`, _CHUNK values per IN (...) query."""
        items, found = list(values), []
        for i in range(0, len(items), _CHUNK):
            chunk = items[i : i + _CHUNK]
            found += self._db.execute(f"{select} WHERE {column} IN ({','.join('?' * len(chunk))})", chunk).fetchall()
        return found

    def near_duplicate_groups(self) -> Iterator[tuple[str, str]]:
        """(article_id, group_id) of every grouped article."""
        return iter(self._db.execute("SELECT article_id, group_id FROM near_duplicates"))

    def fetch(self, rows: Sequence[int]) -> list[StoredPassage]:
        """Passages with their article metadata, in the order of `rows`."""
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = self._db.execute(f"{_PASSAGE} WHERE p.row IN ({marks})", list(rows)).fetchall()
        by_row = {r[0]: StoredPassage(*r) for r in found}
        return [by_row[r] for r in rows if r in by_row]

    def iter_passages(self) -> Iterator[StoredPassage]:
        yield from (StoredPassage(*r) for r in self._db.execute(f"{_PASSAGE} ORDER BY p.row"))

    def rows_of(self, article_id: str) -> list[int]:
        return [r for (r,) in self._db.execute("SELECT row FROM passages WHERE article_id=?", (article_id,))]

    def article_ids(self) -> set[str]:
        return {a for (a,) in self._db.execute("SELECT article_id FROM articles")}

    def article(self, article_id: str) -> dict[str, Any] | None:
        """A stored article's metadata and passage count, or None."""
        query = "SELECT title, date, source, url, n_passages FROM articles WHERE article_id=?"
        found = self._db.execute(query, (article_id,)).fetchone()
        if found is None:
            return None
        title, date, source, url, n = found
        return {"article_id": article_id, "title": title, "date": date, "source": source, "url": url, "passages": n}

    def articles(self, article_ids: Sequence[str]) -> list[ArticleInfo]:
        marks = ",".join("?" * len(article_ids))
        query = f"SELECT article_id, title, date, source, url FROM articles WHERE article_id IN ({marks})"
        return [ArticleInfo(*r) for r in self._db.execute(query, list(article_ids))]

    def sources(self) -> list[tuple[str, int]]:
        """(source, number of articles) for every named source, most articles first."""
        return [
            (name, int(n))
            for name, n in self._db.execute(
                "SELECT source, count(*) AS n FROM articles WHERE source IS NOT NULL AND source != '' "
                "GROUP BY source ORDER BY n DESC, source"
            )
        ]

    def stored_articles(self) -> Iterator[tuple[tuple[Any, ...], list[int], list[Passage]]]:
        """(articles row, rows, passages) of every article, in the order of its first row (so a compaction keeps
        the build's order)."""
        articles = self._db.execute(
            "SELECT a.*, min(p.row) AS first FROM articles a JOIN passages p USING (article_id) "
            "GROUP BY a.article_id ORDER BY first"
        ).fetchall()
        for *article_row, _ in articles:
            stored = self._db.execute(
                'SELECT row, passage_id, article_id, n, start, "end", text FROM passages WHERE article_id=? ORDER BY n',
                (article_row[0],),
            ).fetchall()
            yield tuple(article_row), [r[0] for r in stored], [Passage(*r[1:]) for r in stored]

    def problems(self, first: int, end: int | None) -> tuple[set[int], list[str]]:
        """(rows stored, problems) of one segment, whose rows run from `first` to before `end` (the next segment's
        first row, or the number of vectors; None: unknown): every disagreement one line, for `index check`."""
        problems: list[str] = []
        rows = {r for (r,) in self._db.execute("SELECT row FROM passages")}
        if outside := [r for r in rows if r < first or (end is not None and r >= end)]:
            where = f"{first:,} to {end - 1:,}" if end is not None else f"from {first:,}"
            problems.append(f"rows without a vector in this segment (its rows: {where}): {first_few(outside)}")
        orphans = self._db.execute("SELECT DISTINCT article_id FROM passages EXCEPT SELECT article_id FROM articles")
        if found := [a for (a,) in orphans]:
            problems.append(f"passages of articles not in the articles table: {first_few(found)}")
        miscounted = self._db.execute(
            "SELECT a.article_id FROM articles a LEFT JOIN passages p USING (article_id) "
            "GROUP BY a.article_id HAVING count(p.row) != a.n_passages"
        )
        if found := [a for (a,) in miscounted]:
            problems.append(f"articles whose passages differ from their n_passages: {first_few(found)}")
        bad_ids = self._db.execute("SELECT passage_id FROM passages WHERE passage_id != article_id || '#' || n")
        if found := [p for (p,) in bad_ids]:
            problems.append(f"passage ids that are not <article_id>#<n>: {first_few(found)}")
        return rows, problems
