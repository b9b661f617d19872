"""The lexical (BM25) index: the ONLY module that imports tantivy.

One document per passage: its article's title and its text in one field (`body`), English-stemmed; a `row`
fast field maps a hit back to the passage store without fetching stored documents. Queries are reduced to
their words, so no user input is read as query syntax (`AND`, `title:`, quotes), and parsed as a
disjunction scored by BM25.

`row` is also indexed (indexes built since `ROW_TERMS`), so a search can be restricted to a set of rows inside
tantivy (a selective date or source filter): BM25 scores are unchanged, and no widening is needed.

`PooledLexical` searches several lexical indexes (shards) as one tantivy index: their segment files linked side by
side under one `meta.json`, so BM25's IDF and average length are the pooled ones, as one index of everything.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

TOKENIZER = "en_stem"
# One field, title + text, as Pyserini indexes `contents`: with title and text as two BM25 fields, an article
# without a title (a third of the CNN articles here) loses a whole field's score. Measured on the whole
# RealTimeQA corpus: nDCG@10 0.489 -> 0.545, p50 5.3 -> 2.5 ms.
FIELDS = ["body"]
LEGACY_FIELDS = ["title", "text"]  # indexes built before FIELDS; still read
_WORDS = re.compile(r"\w+")
HEAP_BYTES = 256 * 1024 * 1024
# The manifest's mark of an index whose `row` field is indexed (searchable by term), so filters run inside it.
ROW_TERMS = "row_terms"


def _schema() -> Any:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("row", stored=False, indexed=True, fast=True)
    builder.add_text_field("body", stored=False, tokenizer_name=TOKENIZER)
    return builder.build()


def build(path: Path, passages: Iterable[tuple[int, str, str]], threads: int = 1) -> int:
    """Index (row, title, text) triples into a new tantivy index at `path`; returns the number indexed."""
    path.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(_schema(), path=str(path), reuse=False)
    writer = index.writer(HEAP_BYTES, threads)
    n = 0
    for row, title, text in passages:
        writer.add_document(_document(row, title, text))
        n += 1
    writer.commit()
    writer.wait_merging_threads()
    return n


# Lucene's default English stop set: dropped from queries (BM25 gives them next to no weight, but their long
# posting lists cost time: 11 -> 5 ms p50 on the whole RealTimeQA corpus, same nDCG@10). The index keeps them.
_STOP = "a an and are as at be but by for if in into is it no not of on or such that the their then there these they "
_STOP += "this to was will with"
STOPWORDS = frozenset(_STOP.split())


def query_terms(query: str) -> str:
    """The words of a query, lower-cased, as plain terms (`AND`, `OR`, `NOT` are words too); stopwords dropped
    unless nothing else is left ("The Who" still finds the band)."""
    words = [w.lower() for w in _WORDS.findall(query)]
    kept = [w for w in words if w not in STOPWORDS]
    return " ".join(kept or words)


@dataclass(frozen=True, slots=True)
class Proximity:
    """A query whose word order counts: BM25 over its words, plus a phrase match score for each of its `phrases`
    (words in order, `phrase_slop` other words allowed between) and for each pair of adjacent query words
    (within `pair_slop`), boosted by `phrase_boost` and `pair_boost`: the sequential dependence idea over BM25."""

    text: str
    phrases: tuple[str, ...] = ()
    phrase_boost: float = 1.0
    phrase_slop: int = 0
    pair_boost: float = 0.0
    pair_slop: int = 1
    expansions: tuple[tuple[str, float], ...] = ()  # (stem as indexed, boost) terms added to the words


LexicalQuery = str | Proximity  # plain words, or words with their order counted


def proximity_terms(query: Proximity) -> str:
    """The query string of a Proximity for tantivy's parser: its plain terms, then boosted phrase clauses.

    Every word is reduced to \\w+ and lower-cased first, so nothing of the user's text is read as syntax."""
    terms = query_terms(query.text)
    clauses = [terms]
    if query.phrase_boost > 0:
        for phrase in query.phrases:
            words = [w.lower() for w in _WORDS.findall(phrase)]
            if len(words) > 1:
                clauses.append(f'"{" ".join(words)}"~{query.phrase_slop}^{query.phrase_boost:g}')
    kept = terms.split()
    if query.pair_boost > 0:
        for a, b in itertools.pairwise(kept):
            clauses.append(f'"{a} {b}"~{query.pair_slop}^{query.pair_boost:g}')
    return " ".join(clauses) if terms else ""


class LexicalIndex:
    """BM25 search over passages; returns (row, score) best first."""

    def __init__(self, path: Path, fields: list[str] | None = None, row_terms: bool = False) -> None:
        self.fields = fields or FIELDS
        self.row_terms = row_terms  # `row` is indexed: search_within works
        self.index = tantivy.Index.open(str(path))
        self.searcher = self.index.searcher()

    def count(self) -> int:
        return int(self.searcher.num_docs)

    def doc_freq(self, term: str) -> int:
        """Passages containing an (already stemmed) term, for IDF weights."""
        return max(int(self.searcher.doc_freq(field, term)) for field in self.fields)

    def search(self, query: LexicalQuery, k: int) -> list[tuple[int, float]]:
        return self._search(query, k, None)

    def rows_with(self, word: str) -> list[int]:
        """The row of every passage holding `word` as the index reads words (lower-cased, English-stemmed)."""
        parsed, _errors = self.index.parse_query_lenient(word, self.fields)
        hits = self.searcher.search(parsed, max(self.count(), 1), count=False).hits
        found = self.searcher.fast_field_values("row", [address for _, address in hits])
        return [int(row) for row in found if row is not None]

    def search_within(self, query: LexicalQuery, k: int, rows: Sequence[int]) -> list[tuple[int, float]]:
        """Top-k among `rows` only, with the same BM25 scores as `search` (needs `row_terms`)."""
        return self._search(query, k, list(rows))

    def _expanded(self, parsed: Any, expansions: tuple[tuple[str, float], ...]) -> Any:
        """`parsed` or any of the stems (as indexed, never re-analysed), each scored by BM25 times its boost."""
        schema, should = self.index.schema, tantivy.Occur.Should
        extra = [
            (should, tantivy.Query.boost_query(tantivy.Query.term_query(schema, field, stem), boost))
            for stem, boost in expansions
            for field in self.fields
            if boost > 0
        ]
        return tantivy.Query.boolean_query([(should, parsed), *extra]) if extra else parsed

    def _search(self, query: LexicalQuery, k: int, rows: list[int] | None) -> list[tuple[int, float]]:
        return [(row, score) for _, row, score in self.hits(query, k, rows)]

    def hits(self, query: LexicalQuery, k: int, rows: list[int] | None = None) -> list[tuple[int, int, float]]:
        """Top-k (segment ordinal, row, BM25 score) best first, among `rows` when given (needs `row_terms`)."""
        terms = proximity_terms(query) if isinstance(query, Proximity) else query_terms(query)
        if not terms or rows == []:
            return []
        parsed, _errors = self.index.parse_query_lenient(terms, self.fields)
        if isinstance(query, Proximity) and query.expansions:
            parsed = self._expanded(parsed, query.expansions)
        if rows is not None:
            if not self.row_terms:
                raise ValueError("this lexical index does not index rows: search it and filter the hits")
            within = tantivy.Query.const_score_query(tantivy.Query.term_set_query(self.index.schema, "row", rows), 0.0)
            parsed = tantivy.Query.boolean_query([(tantivy.Occur.Must, parsed), (tantivy.Occur.Must, within)])
        hits = self.searcher.search(parsed, k, count=False).hits
        if not hits:
            return []
        found = self.searcher.fast_field_values("row", [address for _, address in hits])
        return [
            (address.segment_ord, int(row), float(score))
            for (score, address), row in zip(hits, found, strict=True)
            if row is not None
        ]


EDIT_HEAP_BYTES = 64 * 1024 * 1024


def _document(row: int, title: str, text: str) -> Any:
    doc = tantivy.Document()
    doc.add_unsigned("row", row)  # keyword construction would infer i64 and panic on the u64 column
    doc.add_text("body", f"{title}\n{text}" if title else text)
    return doc


class LexicalEditor:
    """Deletes and adds passages in an index opened in place (a copy-on-write generation's folder)."""

    def __init__(self, path: Path) -> None:
        self.index = tantivy.Index.open(str(path))
        self.writer = self.index.writer(EDIT_HEAP_BYTES, 1)

    def delete_rows(self, first: int, last: int) -> None:
        """Delete the documents of rows first..last (inclusive): a range over the `row` fast field."""
        query = tantivy.Query.range_query(self.index.schema, "row", tantivy.FieldType.Unsigned, first, last)
        self.writer.delete_documents_by_query(query)

    def add(self, row: int, title: str, text: str) -> None:
        self.writer.add_document(_document(row, title, text))

    def commit(self) -> int:
        """Commit, wait for merges; returns the number of live documents."""
        self.writer.commit()
        self.writer.wait_merging_threads()
        self.index.reload()
        return int(self.index.searcher().num_docs)


def rows(path: Path) -> list[int]:
    """Every live document's row, sorted (for `index check`)."""
    index = tantivy.Index.open(str(path))
    searcher = index.searcher()
    n = int(searcher.num_docs)
    if n == 0:
        return []
    hits = searcher.search(tantivy.Query.all_query(), n, count=False).hits
    return sorted(int(r) for r in searcher.fast_field_values("row", [address for _, address in hits]) if r is not None)


# tantivy's index-wide files (the segment list, the managed-file list, locks); every other file is a segment's.
_META = "meta.json"
_NOT_SEGMENT_FILES = (_META, ".managed.json")


class PooledLexical:
    """Several lexical indexes (the shards of one archive) searched as one tantivy index, so BM25 scores use the
    pooled statistics (document frequencies, document count, average length) and equal one index's: what a
    search cluster's dfs_query_then_fetch does. Their segment files are linked side by side in a temporary folder
    under one `meta.json` listing every part's segments in part order; a hit's segment says its part."""

    def __init__(self, folder: Path, parts: list[int], fields: list[str], row_terms: bool) -> None:
        self._folder = folder
        self.index = LexicalIndex(folder, fields, row_terms)
        self._part_of = parts  # segment ordinal -> part

    @classmethod
    def open(cls, paths: Sequence[Path], fields: list[str], row_terms: bool) -> PooledLexical | None:
        """Pool the indexes at `paths`; None when they cannot be (different schemas, or files of the same name)."""
        folder = Path(tempfile.mkdtemp(prefix="dateline-bm25-"))
        try:
            parts = _link_segments(paths, folder)
            return None if parts is None else cls(folder, parts, fields, row_terms)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def hits(self, query: LexicalQuery, k: int, rows: list[int] | None = None) -> list[tuple[int, int, float]]:
        """Top-k (part, the part's row, BM25 score) over all parts, best first; `rows` (when given) are local rows
        kept in every part, so a caller filtering on (part, row) checks each hit again."""
        return [(self._part_of[seg], row, score) for seg, row, score in self.index.hits(query, k, rows)]

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


def _link_segments(paths: Sequence[Path], folder: Path) -> list[int] | None:
    """Link every segment file of the indexes at `paths` into `folder` and write a `meta.json` listing all their
    segments in order; returns each segment's part (None if the schemas differ or two files share a name)."""
    metas = [json.loads((Path(p) / _META).read_text()) for p in paths]
    if any(m["schema"] != metas[0]["schema"] for m in metas):
        return None
    for path in paths:
        for f in Path(path).iterdir():
            if f.is_file() and f.name not in _NOT_SEGMENT_FILES and not f.name.endswith(".lock"):
                if (folder / f.name).exists():
                    return None  # copies of one index: its segments would count twice
                os.symlink(f.resolve(), folder / f.name)
    pooled = {**metas[0], "segments": [s for m in metas for s in m["segments"]]}
    pooled["opstamp"] = max(m["opstamp"] for m in metas)
    (folder / _META).write_text(json.dumps(pooled))
    return [part for part, m in enumerate(metas) for _ in m["segments"]]
