"""Coverage: how many articles match a query over the whole index, per interval and per source, and their list.

An article matches when its best passage passes a relevance cut (dense and hybrid: the query-passage cosine;
lexical: the article holds every one of the query's words, Media Cloud's semantics). docs/coverage.md explains it.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from index.embed import Encoder
from index.errors import NoLexicalIndex
from index.lexical import query_terms
from index.passages import StoredPassage
from index.rows import EPOCH, NO_DAY
from search import intervals
from search.intervals import Bucket, Interval
from search.options import Mode
from search.readside import Ranked, ReadSide

FETCH_CHUNK = 1000  # passages fetched from the store at a time (the export streams chunk by chunk)
_WORDS = re.compile(r"\w+")


@runtime_checkable
class ScoresEveryRow(Protocol):
    """A read side that scores every row against a query vector at once (IndexReader; shards do not, yet)."""

    def every_score(self, query_vector: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray | None: ...


@dataclass(frozen=True, slots=True)
class CoverageConfig:
    """The tuned values of coverage. dense_cut is a PLACEHOLDER until chosen on the dev questions (docs/coverage.md)."""

    dense_cut: float = 0.5  # an article matches when its best passage's cosine to the query is at least this
    max_buckets: int = 2000  # a series with more intervals is refused, naming a coarser interval
    top_sources: int = 10  # sources listed with their counts
    depth: int = 1000  # the first dense candidate list; widened 4x until a score falls below the cut


@dataclass(frozen=True, slots=True)
class CoverageOptions:
    """One coverage question's filters, as SearchOptions has them: start/end inclusive, as_of caps end."""

    mode: Mode = "hybrid"
    start: datetime.date | None = None
    end: datetime.date | None = None
    as_of: datetime.date | None = None
    sources: Sequence[str] | None = None
    collapse: bool = True  # near-duplicate copies count once (the best-scoring copy stands for the story)
    interval: Interval | None = None  # None: chosen from the range (intervals.default_interval)
    cut: float | None = None  # None: CoverageConfig.dense_cut


@dataclass(frozen=True, slots=True)
class Match:
    """A matching article: the row of its best passage and that passage's score."""

    row: int
    score: float


@dataclass(slots=True)
class CoverageResult:
    query: str
    matching: str  # what counted as a match, in words, with the cut used
    cut: float | None  # the cosine cut (None for lexical)
    interval: Interval | None  # None when nothing dated matched
    total: int  # matched articles (stories when collapsed), dated and undated
    undated: int
    series: list[Bucket] = field(default_factory=list)
    top_sources: list[tuple[str, int]] = field(default_factory=list)


class Coverage:
    """Counts and lists the articles matching a query; thread-safe like the Searcher whose reader it shares."""

    def __init__(self, reader: ReadSide, encoder: Encoder, config: CoverageConfig | None = None) -> None:
        self.reader, self.encoder, self.config = reader, encoder, config or CoverageConfig()

    def matches(self, query: str, o: CoverageOptions) -> list[Match]:
        """Every matching article (story, when collapsed), best score first."""
        end = _end(o)
        allowed = self.reader.rows_dated(o.start, end) if (o.start or end) else None
        if o.sources:
            by_source = self.reader.rows_from(o.sources)
            allowed = by_source if allowed is None else allowed & by_source
        lexical = o.mode == "lexical"
        ranked = self._all_words(query, allowed) if lexical else self._dense(query, allowed, self._cut(o))
        ranked = sorted(ranked, key=lambda hit: (-hit[1], hit[0]))  # ties: the earlier row, so counts never flicker
        best = _first_per(ranked, self.reader.article_of)
        if o.collapse:
            best = _first_per(best, self._story)
        return [Match(row, score) for row, score in best]

    def count(self, query: str, o: CoverageOptions) -> CoverageResult:
        """The series per interval, the undated count apart, the top sources and the total."""
        if o.start and _end(o):
            self._interval(o.start, _end(o) or o.start, o)  # a refused range is refused before any work
        found = self.matches(query, o)
        days = self.reader.row_days
        dated = [EPOCH + datetime.timedelta(days=int(days[m.row])) for m in found if days[m.row] != NO_DAY]
        sources = Counter(p.source or "" for p, _ in self.passages(found))
        cut = None if o.mode == "lexical" else self._cut(o)
        result = CoverageResult(query, self.describe(o), cut, None, len(found), len(found) - len(dated))
        result.top_sources = [(s, n) for s, n in sources.most_common() if s][: self.config.top_sources]
        first = o.start or (min(dated) if dated else None)
        last = _end(o) or (max(dated) if dated else None)
        if first is None or last is None or first > last:
            return result
        result.interval = interval = self._interval(first, last, o)
        if dated:
            result.series = intervals.series(dated, first, last, interval)
        return result

    def _interval(self, first: datetime.date, last: datetime.date, o: CoverageOptions) -> Interval:
        """The interval asked for (or the default for first..last); TooManyBuckets if it makes too many."""
        interval = o.interval or intervals.default_interval(first, last)
        intervals.check_buckets(first, last, interval, self.config.max_buckets)
        return interval

    def passages(self, found: Sequence[Match]) -> Iterator[tuple[StoredPassage, float]]:
        """Each match's best passage with its article's metadata, fetched a chunk at a time, with its score."""
        for i in range(0, len(found), FETCH_CHUNK):
            chunk = found[i : i + FETCH_CHUNK]
            yield from zip(self.reader.fetch([m.row for m in chunk]), [m.score for m in chunk], strict=True)

    def describe(self, o: CoverageOptions) -> str:
        """What counted as a match, for the response."""
        copies = "near-duplicate copies counted once" if o.collapse else "near-duplicate copies counted each"
        if o.mode == "lexical":
            return f"articles containing every word of the query (stopwords dropped); {copies}"
        return f"articles whose best passage has cosine >= {self._cut(o):g} to the query; {copies}"

    def _cut(self, o: CoverageOptions) -> float:
        return self.config.dense_cut if o.cut is None else o.cut

    def _dense(self, query: str, allowed: np.ndarray | None, cut: float) -> Ranked:
        """Every allowed passage with cosine >= cut: exactly, one matrix product over the stored vectors where the
        reader can; else candidate lists widened until one falls below the cut."""
        vector = self.encoder.queries([query])
        scores = self.reader.every_score(vector[0], allowed) if isinstance(self.reader, ScoresEveryRow) else None
        if scores is not None:
            rows = np.flatnonzero(scores >= cut)
            return [(int(row), float(scores[row])) for row in rows]
        depth = self.config.depth
        while True:
            ranked = self.reader.search(vector, depth, allowed)[0]
            if len(ranked) < depth or ranked[-1][1] < cut or depth >= self.reader.passages:
                return [(row, score) for row, score in ranked if score >= cut]
            depth *= 4

    def _all_words(self, query: str, allowed: np.ndarray | None) -> Ranked:
        """Passages of articles holding every query word (in title or some passage); BM25 scores, best first."""
        if self.reader.lexical is None:
            raise NoLexicalIndex(f"{self.reader.generation} has no lexical index; use mode=dense or rebuild it")
        wanted = set(query_terms(query).split())
        if not wanted:
            return []
        # Any passage holding some query word is a BM25 candidate, so the words an article's candidates hold
        # are all the query words the article holds.
        ranked = self.reader.search_lexical(query, max(self.reader.passages, 1), allowed)
        words: dict[str, set[str]] = {}
        for i in range(0, len(ranked), FETCH_CHUNK):
            for p in self.reader.fetch([row for row, _ in ranked[i : i + FETCH_CHUNK]]):
                found = {w.lower() for w in _WORDS.findall(f"{p.title}\n{p.text}")} & wanted
                words.setdefault(p.article_id, set()).update(found)
        complete = {a for a, got in words.items() if got == wanted}
        return [(row, score) for row, score in ranked if self.reader.article_of(row) in complete]

    def _story(self, row: int) -> str:
        article_id = self.reader.article_of(row)
        return self.reader.duplicate_group(article_id) or article_id


def _end(o: CoverageOptions) -> datetime.date | None:
    return o.end if o.as_of is None else (o.as_of if o.end is None else min(o.end, o.as_of))


def _first_per(ranked: Ranked, key: Callable[[int], str]) -> Ranked:
    """The first (best) entry per key(row), in order."""
    seen: set[str] = set()
    out: Ranked = []
    for row, score in ranked:
        k = key(row)
        if k not in seen:
            seen.add(k)
            out.append((row, score))
    return out
