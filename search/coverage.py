"""Coverage: how many articles match a query over the whole index, per interval and per source, and their list.

An article matches when its best passage passes a relevance cut (hybrid: a mix of the query-passage cosine and the
passage's BM25 share of the query's best; dense: the cosine; lexical: the article holds every one of the query's
words, Media Cloud's semantics). The cuts were chosen on the dev questions: docs/coverage.md.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from index.embed import Encoder
from index.errors import NoLexicalIndex
from index.lexical import query_terms
from index.passages import StoredPassage
from index.rows import EPOCH, NO_DAY
from search import intervals
from search.interpret import Understood, interpret
from search.intervals import Bucket, Interval
from search.options import Mode
from search.readside import Ranked, ReadSide
from search.scope import allowed_rows, as_arrays, best_per_run, effective_end, first_per, story_of

FETCH_CHUNK = 1000  # passages fetched from the store at a time (the export streams chunk by chunk)
Scores = tuple[np.ndarray, np.ndarray]  # rows and their scores, in no order
NONE: Scores = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


@dataclass(frozen=True, slots=True)
class Bar:
    """What a passage's score must reach: at least `cut`, and within `near` of the query's best score in the whole
    index, or within `wide` of it when its article as a whole is within `about` of the best article (None: the cut
    alone, as a request's own cut asks)."""

    cut: float
    near: float | None = None
    wide: float = 0.0
    about: float = 0.0

    @property
    def widest(self) -> float | None:
        return None if self.near is None else max(self.near, self.wide)


def whole_cosines(cosines: np.ndarray, runs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Each article's cosine as a whole (the normalised sum of its passages' vectors), from its passages' cosines
    and `article_runs()`: the sum of the cosines over the length of the vectors' sum. Deleted rows' -inf drop
    their run."""
    starts, norms = runs
    return np.add.reduceat(cosines, starts) / np.maximum(norms, 1e-12)


@runtime_checkable
class ScoresEveryRow(Protocol):
    """A read side that scores every row against a query vector at once (IndexReader; shards do not, yet)."""

    def every_score(self, query_vector: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray | None: ...


@dataclass(frozen=True, slots=True)
class CoverageConfig:
    """The tuned values of coverage, chosen on the dev questions by benchmarks/coverage.py (docs/coverage.md)."""

    # hybrid: an article matches when its best passage's score, (1 - w) * cosine + w * BM25 share (the passage's
    # BM25 over the query's best BM25 in the whole index, 0 to 1), is at least hybrid_cut and within hybrid_gap of
    # the query's best score in the whole index, or within hybrid_wide of it when the article as a whole (the sum
    # of its passages' vectors) has a cosine to the query within hybrid_about of the best article's.
    hybrid_cut: float = 0.4575
    hybrid_gap: float = 0.16
    hybrid_wide: float = 0.22
    hybrid_about: float = 0.15
    lexical_weight: float = 0.2  # w
    dense_cut: float = 0.455  # dense: the same with the cosine alone
    dense_gap: float = 0.1
    dense_wide: float = 0.2
    dense_about: float = 0.3
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
    cut: float | None = None  # None: the tuned cut of the mode (CoverageConfig)
    # true: the query's period narrows the dates (its words are not matched; search/interpret.py). Off by default:
    # as a hard filter it cost gold recall on the dev questions, where /search reads it as a soft prior.
    interpret: bool = False
    # true (default): the query's names ("New START") must appear in the article, as when interpret is on; a name
    # no article holds is not required (docs/coverage.md: fewer off-topic matches at the same dev recall).
    names: bool = True
    ignore: tuple[str, ...] = ()  # parts of the interpretation left out: "time", or a phrase


@dataclass(frozen=True, slots=True)
class Match:
    """A matching article: the row of its best passage and that passage's score."""

    row: int
    score: float


@dataclass(slots=True)
class CoverageResult:
    query: str
    matching: str  # what counted as a match, in words, with the cut used
    cut: float | None  # the cut on the mode's score (None for lexical)
    interval: Interval | None  # None when nothing dated matched
    total: int  # matched articles (stories when collapsed), dated and undated
    undated: int
    series: list[Bucket] = field(default_factory=list)
    top_sources: list[tuple[str, int]] = field(default_factory=list)


class Coverage:
    """Counts and lists the articles matching a query; thread-safe like the Searcher whose reader it shares."""

    def __init__(self, reader: ReadSide, encoder: Encoder, config: CoverageConfig | None = None) -> None:
        self.reader, self.encoder, self.config = reader, encoder, config or CoverageConfig()
        self._held: dict[str, set[str]] = {}  # phrase -> the articles holding it: read once per request

    def mode(self, o: CoverageOptions) -> Mode:
        """The matching used: hybrid over an index without a lexical index matches by the cosine (dense)."""
        return "dense" if o.mode == "hybrid" and self.reader.lexical is None else o.mode

    def understood(self, query: str, o: CoverageOptions) -> Understood:
        """What is read in the query (its period with interpret, its names with names or interpret), relative times
        counted back from as_of else today; of the names, only those some article holds."""
        if not (o.interpret or o.names):
            return Understood(query, query)
        u = interpret(query, o.as_of or datetime.date.today(), o.ignore if o.interpret else (*o.ignore, "time"))
        if self.reader.lexical is None:  # names are checked on the BM25 index: none to check
            return Understood(u.query, u.text, u.time)
        return Understood(u.query, u.text, u.time, tuple(p for p in u.phrases if self._articles_holding(p)))

    def dates(self, o: CoverageOptions, u: Understood) -> tuple[datetime.date | None, datetime.date | None]:
        """The first and last day counted: the request's range (as_of caps it) narrowed by the query's period."""
        start, end = o.start, effective_end(o.end, o.as_of)
        if u.time is not None:
            start = max(start or u.time.start, u.time.start)
            end = min(end or u.time.end, u.time.end)
        return start, end

    def matches(self, query: str, o: CoverageOptions) -> list[Match]:
        """Every matching article (story, when collapsed), best score first."""
        u = self.understood(query, o)
        return self._matches(u, *self.dates(o, u), o)

    def _matches(
        self, u: Understood, start: datetime.date | None, end: datetime.date | None, o: CoverageOptions
    ) -> list[Match]:
        """matches() for a query already read, counting from start to end."""
        if start and end and start > end:
            return []
        allowed = allowed_rows(self.reader, start, end, o.sources)
        mode = self.mode(o)
        if mode == "lexical":
            rows, scores = self._all_words(u.text, allowed)
        else:
            rows, scores = self._scored(u.text, allowed, self._bar(o), self.config.lexical_weight * (mode == "hybrid"))
        order = np.lexsort((rows, -scores))  # best first; ties: the earlier row, so counts never flicker
        ranked = best_per_run(self.reader, rows[order], scores[order])
        best = first_per(ranked, lambda hit: self.reader.article_of(hit[0]))
        if u.phrases:  # an article holds each name somewhere (title or text)
            holding = self.holding(u.phrases)
            best = [hit for hit in best if self.reader.article_of(hit[0]) in holding]
        if o.collapse:
            best = first_per(best, lambda hit: story_of(self.reader, hit[0]))
        return [Match(row, score) for row, score in best]

    def holding(self, phrases: Sequence[str]) -> set[str]:
        """The articles holding every phrase, its words in order (one passage holding it is enough)."""
        held: set[str] | None = None
        for phrase in phrases:
            articles = self._articles_holding(phrase)
            held = set(articles) if held is None else held & articles
        return held or set()

    def _articles_holding(self, phrase: str) -> set[str]:
        """The articles with a passage holding the phrase, its words in order (a phrase query on the BM25 index)."""
        if phrase not in self._held:
            rows = self.reader.rows_holding('"' + phrase.replace('"', " ") + '"')
            self._held[phrase] = {self.reader.article_of(int(row)) for row in rows}
        return self._held[phrase]

    def count(self, query: str, o: CoverageOptions) -> CoverageResult:
        """The series per interval, the undated count apart, the top sources and the total."""
        u = self.understood(query, o)
        start, end = self.dates(o, u)
        if start and end and start <= end:
            self._interval(start, end, o)  # a refused range is refused before any work
        found = self._matches(u, start, end, o)
        days = self.reader.row_days
        dated = [EPOCH + datetime.timedelta(days=int(days[m.row])) for m in found if days[m.row] != NO_DAY]
        sources = Counter(self.reader.sources_of([m.row for m in found]))  # from memory: no passage is fetched
        cut = None if o.mode == "lexical" else self._cut(o)
        result = CoverageResult(query, self.describe(o, u), cut, None, len(found), len(found) - len(dated))
        result.top_sources = [(s, n) for s, n in sources.most_common() if s][: self.config.top_sources]
        first = start or (min(dated) if dated else None)
        last = end or (max(dated) if dated else None)
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

    def describe(self, o: CoverageOptions, u: Understood | None = None) -> str:
        """What counted as a match, for the response (with what was read in the query, when given)."""
        copies = "near-duplicate copies counted once" if o.collapse else "near-duplicate copies counted each"
        mode, bar = self.mode(o), self._bar(o)
        read = ""
        if u is not None and u.time is not None:
            read += f"; dated {u.time.start}..{u.time.end} ('{u.time.text}' read as the period, not as words)"
        if u is not None and u.phrases:
            read += "; holding " + ", ".join(f'"{p}"' for p in u.phrases)
        if mode == "lexical":
            return f"articles containing every word of the query (stopwords dropped){read}; {copies}"
        near = ""
        if bar.near is not None:
            near = f" and within {bar.near:g} of the query's best score in the index"
        if bar.near is not None and bar.wide > bar.near:
            near += (
                f" (within {bar.wide:g} where the article as a whole, the sum of its passages' vectors, has a cosine "
                f"to the query within {bar.about:g} of the best article's)"
            )
        if mode == "hybrid":
            w = self.config.lexical_weight
            return (
                f"articles whose best passage has {1 - w:g} x cosine + {w:g} x BM25 share (its BM25 over the query's "
                f"best) >= {bar.cut:g}{near}{read}; {copies}"
            )
        return f"articles whose best passage has cosine >= {bar.cut:g} to the query{near}{read}; {copies}"

    def _cut(self, o: CoverageOptions) -> float:
        return self._bar(o).cut

    def _bar(self, o: CoverageOptions) -> Bar:
        """The mode's tuned bar; a request's own cut alone (no gap) when it sets one."""
        if o.cut is not None:
            return Bar(o.cut)
        c = self.config
        if self.mode(o) == "hybrid":
            return Bar(c.hybrid_cut, c.hybrid_gap, c.hybrid_wide, c.hybrid_about)
        return Bar(c.dense_cut, c.dense_gap, c.dense_wide, c.dense_about)

    def _scored(self, query: str, allowed: np.ndarray | None, bar: Bar, weight: float) -> Scores:
        """Every allowed passage whose score, (1 - weight) * cosine + weight * BM25 share, passes the bar, taken
        against the best score over the whole index (unfiltered: a filter never changes what matches)."""
        vector = self.encoder.queries([query])
        cosines = self.reader.every_score(vector[0]) if isinstance(self.reader, ScoresEveryRow) else None
        scores = cosines
        if scores is None:  # no flat vectors: the nearest passages, down to the least cosine that could pass
            floor = bar.cut if weight == 0 else (bar.cut - weight) / (1 - weight)
            rows, found = as_arrays(self._widened(vector, None, floor))
            scores = np.full(len(self.reader.row_days), -np.inf, dtype=np.float32)
            scores[rows] = found
        if weight:
            scores = scores * (1 - weight)
            rows, shares = self._bm25_shares(query, scores, bar, weight)
            scores[rows] += weight * shares
        passing = scores >= bar.cut
        if bar.near is not None:
            best = float(scores.max(initial=-np.inf))
            close = scores >= best - bar.near
            about = self._about(cosines, bar.about) if cosines is not None and bar.wide > bar.near else None
            if about is not None:  # without flat vectors an article cannot be taken as a whole: the near gap alone
                close |= about & (scores >= best - bar.wide)
            passing &= close
        if allowed is not None:
            passing &= allowed
        rows = np.flatnonzero(passing)
        return rows, scores[rows]

    def _about(self, cosines: np.ndarray, about: float) -> np.ndarray | None:
        """Per row: whether its article as a whole (the sum of its passages' vectors, normalised) has a cosine to the
        query within `about` of the best article's; None when the read side keeps no vectors to sum."""
        runs = self.reader.article_runs()
        if runs is None or not len(cosines):
            return None
        whole = whole_cosines(cosines, runs)
        near = whole >= float(whole.max(initial=-np.inf)) - about
        return np.repeat(near, np.diff(np.append(runs[0], len(cosines))))

    def _widened(self, vector: np.ndarray, allowed: np.ndarray | None, floor: float) -> Ranked:
        """The allowed passages with cosine >= floor, by candidate lists widened 4x until one falls below it."""
        depth = self.config.depth
        while True:
            ranked = self.reader.search(vector, depth, allowed)[0]
            if len(ranked) < depth or ranked[-1][1] < floor or depth >= self.reader.passages:
                return [(row, score) for row, score in ranked if score >= floor]
            depth *= 4

    def _bm25_shares(self, query: str, dense: np.ndarray, bar: Bar, weight: float) -> Scores:
        """The rows and BM25 shares (BM25 over the query's best in the whole index) of the passages that could pass
        the bar: those whose dense part alone is within `weight` of the least the bar can be (the bar is at least
        the cut, and at least the best dense part less the widest gap); BM25 scored among them only."""
        cut, gap = bar.cut, bar.widest
        ceiling = float(dense.max(initial=-np.inf))
        best = self.reader.search_lexical(query, 1)
        if not best or best[0][1] <= 0 or ceiling == -np.inf:
            return NONE
        least = cut if gap is None else max(cut, ceiling - gap)
        candidates = dense >= least - weight
        k = int(candidates.sum())
        # Every candidate, not a top k: filtering inside the lexical index beats widening at any share here (a long
        # question's 14,000 candidates: 0.02 s against 0.32 s).
        rows, scores = as_arrays(self.reader.search_lexical(query, k, candidates, within_share=1.0) if k else [])
        return rows, scores.astype(np.float32) / best[0][1]

    def _all_words(self, query: str, allowed: np.ndarray | None) -> Scores:
        """Passages of articles holding every query word (in title or some passage); BM25 scores, best first."""
        if self.reader.lexical is None:
            raise NoLexicalIndex(f"{self.reader.generation} has no lexical index; use mode=dense or rebuild it")
        wanted = set(query_terms(query).split())
        if not wanted:
            return NONE
        # An article holds a word when one of its passages (title + text) does: the BM25 index's posting lists say
        # which passages hold each word, so no passage text is read. Rarest word first: the set shrinks fastest.
        complete: set[str] | None = None
        for rows in sorted((self.reader.rows_holding(word) for word in wanted), key=len):
            articles = {self.reader.article_of(int(row)) for row in rows}
            complete = articles if complete is None else complete & articles
            if not complete:
                return NONE
        if complete is None:  # no word (checked above); for the type checker
            return NONE
        ranked = self.reader.search_lexical(query, max(self.reader.passages, 1), allowed)
        return as_arrays([(row, score) for row, score in ranked if self.reader.article_of(row) in complete])
