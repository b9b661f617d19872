"""Searcher.search(query, options) -> ranked hits with per-stage timings; no HTTP, so the CLI and benchmarks reuse it.

Stages: the filters' allowed rows; retrieve (embed the query, vector search, BM25); fuse the two candidate lists
and group passages by article, widening until enough are found; optionally rerank the top candidates with a
cross-encoder; the recency prior; collapse near-duplicates and sort; fetch and highlight the page's passages.
"""

from __future__ import annotations

import datetime
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from index.embed import Encoder, Reranker, model_spec
from index.errors import ModelMismatch, NoLexicalIndex, NoReranker
from index.lexical import LexicalQuery, Proximity
from index.passages import ArticleInfo, StoredPassage
from index.reader import IndexReader
from index.rows import NO_DAY
from search import feedback, interpreted, ranking
from search import highlight as hl
from search.interpret import Understood, interpret
from search.options import (
    DEFAULT_OPTIONS,
    FUSIONS,
    MODES,
    TUNED,
    Fusion,
    Group,
    Mode,
    RankingConfig,
    SearchOptions,
    Sort,
)
from search.readside import ReadSide
from search.scope import effective_end

__all__ = ["FUSIONS", "MODES", "TUNED", "Fusion", "Group", "Hit", "Mode", "RankingConfig", "SearchOptions"]
__all__ += ["SearchResult", "Searcher", "Sort"]

Grouped = list[tuple[int, float, int]]  # (row, score, more passages of its article), best first
AgeOf = Callable[[int], float | None]  # a row's age in days before the reference day (None: undated)


@dataclass(frozen=True, slots=True)
class Hit:
    rank: int
    score: float
    passage: StoredPassage
    more: int = 0  # other passages of the same article among the candidates (group=article)
    dense_score: float | None = None
    lexical_score: float | None = None
    similar: list[ArticleInfo] = field(default_factory=list)  # its near-duplicates, collapsed into this hit
    highlights: hl.Highlights | None = None


@dataclass(slots=True)
class SearchResult:
    query: str
    hits: list[Hit]
    timings_ms: dict[str, float] = field(default_factory=dict)
    has_more: bool = False  # more hits exist past this page (offset + k)
    understood: Understood | None = None  # what was read in the query (interpret=true)

    @property
    def took_ms(self) -> float:
        return sum(self.timings_ms.values())


@dataclass(slots=True)
class _Candidates:
    """What retrieval found: the two retrievers' lists, the fused and grouped ranking, the query's vector."""

    dense: ranking.Ranked
    lexical: ranking.Ranked
    grouped: Grouped
    vector: np.ndarray | None


class _Laps:
    """Milliseconds per stage, each lap timed from the end of the one before."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = self.timings.get(stage, 0.0) + (now - self.clock) * 1e3
        self.clock = now


R = TypeVar("R", bound=ReadSide, covariant=True)  # the read side: one index or shards (ReadSide)
Other = TypeVar("Other", bound=ReadSide)


class Searcher(Generic[R]):
    """Ranks an index's passages for a query; thread-safe for concurrent searches."""

    def __init__(
        self,
        reader: R,
        encoder: Encoder,
        reranker: Reranker | None = None,
        config: RankingConfig = TUNED,
    ) -> None:
        built = reader.manifest.model
        if encoder.info.fingerprint != built.fingerprint or encoder.dim != reader.manifest.dim:
            raise ModelMismatch(
                f"index {reader.generation} was built with model {built.name} ({built.fingerprint}), "
                f"not {encoder.info.name} ({encoder.info.fingerprint}); query with that model or rebuild the index"
            )
        self.reader, self.encoder, self.reranker, self.config = reader, encoder, reranker, config

    @classmethod
    def open(
        cls,
        index_path: Path,
        model: str | None = None,
        threads: int | None = 1,
        rerank_model: str | None = None,
        query_encoder: str = "auto",
    ) -> Searcher[IndexReader]:
        """Load an index and the model it was built with (or `model`, which must be the same weights)."""
        return Searcher.over(IndexReader(index_path), model, threads, rerank_model, query_encoder)

    @classmethod
    def over(
        cls,
        reader: Other,
        model: str | None = None,
        threads: int | None = 1,
        rerank_model: str | None = None,
        query_encoder: str = "auto",
    ) -> Searcher[Other]:
        """A searcher over an open reader with its index's model (or `model`) and, given one, a cross-encoder."""
        built = reader.manifest.model
        spec = model or model_spec(built.name, built.path)
        reranker = Reranker(rerank_model) if rerank_model else None
        return Searcher(reader, Encoder(spec, dtype="float32", threads=threads, queries=query_encoder), reranker)

    def with_config(self, config: RankingConfig) -> Searcher[R]:
        """This searcher's reader and models ranking with other tuned values (benchmarks vary them so)."""
        return Searcher(self.reader, self.encoder, self.reranker, config)

    @property
    def has_lexical(self) -> bool:
        return self.reader.lexical is not None

    def search(self, query: str, options: SearchOptions = DEFAULT_OPTIONS) -> SearchResult:
        """Rank passages for `query` as `options` ask; return hits `offset + 1` to `offset + k` (SearchOptions)."""
        o, c = options, self.config
        if o.mode != "dense" and not self.has_lexical:
            raise NoLexicalIndex(f"{self.reader.generation} has no lexical index; use mode=dense or rebuild it")
        if o.rerank and self.reranker is None:
            raise NoReranker("rerank=true needs a cross-encoder: set DATELINE_RERANK_MODEL to its folder")
        want = o.offset + o.k
        recency = c.recency if o.recency is None else o.recency
        half_life = c.half_life_days if o.half_life_days is None else o.half_life_days
        collapse = o.collapse and o.group == "article"
        laps = _Laps()
        end = effective_end(o.end, o.as_of)
        age = self.reader.age_in_days(o.as_of or end or datetime.date.today())
        understood = interpret(query, o.as_of or datetime.date.today(), o.ignore) if o.interpret else None
        text, words = interpreted.query_forms(query, understood, c)
        if o.interpret:
            laps.lap("interpret")
        allowed = self._allowed(o.start, end, o.sources, o.article)
        found = self._candidates(text, words, o, allowed, age, recency, half_life, laps)
        if isinstance(words, Proximity) and feedback.applies(query, o.mode, c):
            words, vector = feedback.expand(self.reader, c, words, found.grouped, found.lexical, found.vector)
            laps.lap("feedback")
            found = self._candidates(text, words, o, allowed, age, recency, half_life, laps, vector)
        grouped = found.grouped
        if o.rerank and self.reranker is not None:
            grouped = self._rerank(self.reranker, text, grouped, want)
            laps.lap("rerank")
        if understood and understood.time and c.period_weight > 0:
            prior = interpreted.time_prior(understood, self.reader.row_days, age, recency, half_life, c)
            grouped = ranking.with_prior(grouped, prior)
            laps.lap("recency")
        elif recency > 0:
            grouped = ranking.recency_boost(grouped, age, recency, half_life)
            laps.lap("recency")
        grouped = self._order(grouped, collapse, o.sort)
        result = self._page(text, o, grouped, found, collapse, laps)
        result.query, result.understood = query, understood
        return result

    def _allowed(
        self,
        start: datetime.date | None,
        end: datetime.date | None,
        sources: Sequence[str] | None,
        article: str | None,
    ) -> np.ndarray | None:
        """The rows the filters let through (None: every row)."""
        allowed = self.reader.rows_dated(start, end) if (start or end) else None
        if sources:
            by_source = self.reader.rows_from(sources)
            allowed = by_source if allowed is None else allowed & by_source
        if article is not None:
            of_article = self.reader.rows_of_article(article)
            allowed = of_article if allowed is None else allowed & of_article
        return allowed

    def _candidates(
        self,
        query: str,
        words: LexicalQuery,
        o: SearchOptions,
        allowed: np.ndarray | None,
        age: AgeOf,
        recency: float,
        half_life: float,
        laps: _Laps,
        vector: np.ndarray | None = None,
    ) -> _Candidates:
        """Retrieve, fuse and group, widening the retrievers' depth until the page is filled."""
        c = self.config
        want = o.offset + o.k
        depth = max(c.depth if o.depth is None else o.depth, 5 * want, c.rerank_depth if o.rerank else 0)
        collapse = o.collapse and o.group == "article"
        while True:
            dense: ranking.Ranked = []
            lexical: ranking.Ranked = []
            if o.mode != "lexical":
                if vector is None:
                    vector = self.encoder.queries([query])
                    laps.lap("embed")
                dense = self.reader.search(vector, depth, allowed)[0]
                laps.lap("vector")
            if o.mode != "dense":
                lexical = self.reader.search_lexical(words, depth, allowed)
                laps.lap("lexical")
            grouped = self._fuse(dense, lexical, o, (age, recency, half_life), words, vector)
            laps.lap("fuse")
            # Long articles fill the candidate lists with their passages: widen until k articles are found or
            # the retrievers have nothing more to give (a filter is applied inside them, never after).
            exhausted = len(dense) < depth and len(lexical) < depth
            found = len({self._story(row) for row, _, _ in grouped}) if collapse else len(grouped)
            if found > want or exhausted or depth >= self.reader.passages:
                return _Candidates(dense, lexical, grouped, vector)
            depth *= 4

    def _fuse(
        self,
        dense: ranking.Ranked,
        lexical: ranking.Ranked,
        o: SearchOptions,
        prior: tuple[AgeOf, float, float],
        words: LexicalQuery,
        vector: np.ndarray | None,
    ) -> Grouped:
        """The candidates fused (hybrid) and grouped by article (group=article), with the passage each shows;
        a candidate holding the query's acronym names verbatim gains `name_weight` (interpret=true); articles
        gain their focus and, where the recency prior (age, weight, half-life) does not count, their aboutness."""
        c = self.config
        spread = ranking.prior_spread([row for row, _ in dense] + [row for row, _ in lexical], *prior)
        if o.mode == "hybrid":
            weight = c.fusion_weight(spread) if o.dense_weight is None else o.dense_weight
            fused = ranking.fuse(dense, lexical, c.fusion if o.fusion is None else o.fusion, weight)
        else:
            fused = dense or lexical
        shares: dict[int, float] = {}
        names = [p for p in words.phrases if interpreted.cased(p)] if isinstance(words, Proximity) else []
        if names and c.name_weight > 0:
            texts = [f"{p.title}\n{p.text}" for p in self.reader.fetch([row for row, _ in fused])]
            shares = dict(zip([row for row, _ in fused], interpreted.name_shares(texts, names), strict=True))
            fused = interpreted.with_names(fused, shares, c.name_weight)
        if o.group != "article":
            return [(row, score, 0) for row, score in fused]
        grouped = ranking.group_best(fused, self.reader.article_of)
        if o.mode == "hybrid":
            choice = dict(ranking.fuse(dense, lexical, "minmax", c.passage_choice_dense_weight))
            choice = {row: score + c.name_weight * shares.get(row, 0.0) for row, score in choice.items()}
            choice = ranking.lede_prior(choice, self._place, c.lede_weight)
            grouped = ranking.pick_passages(grouped, fused, self.reader.article_of, choice)
        # With acronym names in the query, an article's focus counts its passages holding them: a focused article
        # about another sense of the words ("school suspensions" for "New START suspension") gains nothing.
        named = Counter(self.reader.article_of(row) for row, share in shares.items() if share > 0) if shares else None
        matched = (lambda row: named[self.reader.article_of(row)]) if named is not None else None
        # A keyword query asks for articles about a story: a stronger focus, and aboutness (docs/queries.md).
        short = feedback.short(words.text if isinstance(words, Proximity) else words, c)
        focus = c.short_focus_weight if short else c.focus_weight
        grouped = ranking.focus_boost(grouped, self._passages_in_article, focus, matched)
        if vector is None or spread >= c.min_prior_spread or not short:  # under the recency prior, the date ranks
            return grouped
        held = (lambda row: named[self.reader.article_of(row)] > 0) if named is not None else None
        return ranking.about_boost(grouped, self._mean_cosine(vector[0]), c.about_weight, c.about_depth, held)

    def _rerank(self, reranker: Reranker, query: str, grouped: Grouped, want: int) -> Grouped:
        """Every hit returned is rescored: reranker scores and fused scores are on different scales."""
        n = max(self.config.rerank_depth, want)
        head = grouped[:n]
        texts = self.reader.fetch([row for row, _, _ in head])
        scores = reranker.score(query, [f"{p.title}\n{p.text}" for p in texts])
        reranked = sorted(zip(head, scores, strict=True), key=lambda x: -x[1])
        return [(row, float(s), more) for (row, _, more), s in reranked] + grouped[n:]

    def _order(self, grouped: Grouped, collapse: bool, sort: Sort) -> Grouped:
        """A story's best-ranked copy stands for its near-duplicates (collapse); sort=date: newest first."""
        if collapse:
            seen: set[str] = set()
            kept = []
            for hit in grouped:
                story = self._story(hit[0])
                if story not in seen:
                    seen.add(story)
                    kept.append(hit)
            grouped = kept
        if sort == "date":  # the relevant candidates, newest first; undated ones last
            days = self.reader.row_days
            grouped = sorted(grouped, key=lambda hit: -int(days[hit[0]]) if days[hit[0]] != NO_DAY else 2**32)
        return grouped

    def _page(
        self, query: str, o: SearchOptions, grouped: Grouped, found: _Candidates, collapse: bool, laps: _Laps
    ) -> SearchResult:
        """Hits `offset + 1` to `offset + k`: their passages fetched, near-duplicates listed, highlights marked."""
        want = o.offset + o.k
        top = grouped[o.offset : want]
        passages = self.reader.fetch([row for row, _, _ in top])
        similar = [self.reader.near_duplicates(p.article_id) if collapse else [] for p in passages]
        laps.lap("fetch")
        highlights: list[hl.Highlights | None] = [None] * len(top)
        if o.highlight and passages:
            highlights = list(self._highlight(query, passages, found.vector))
            laps.lap("highlight")
        dense_of, lexical_of = dict(found.dense), dict(found.lexical)
        hits = [
            Hit(rank, score, p, more, dense_of.get(row), lexical_of.get(row), sim, marks)
            for rank, ((row, score, more), p, sim, marks) in enumerate(
                zip(top, passages, similar, highlights, strict=True), start=o.offset + 1
            )
        ]
        return SearchResult(query, hits, laps.timings, has_more=len(grouped) > want)

    def _place(self, row: int) -> int:
        """The passage's place in its article (0 = the lede) as the lede prior counts it."""
        n = int(self.reader.row_n[row])
        return n if self.config.lede_form == "decay" else (0 if n == 0 else 10**9)

    def _passages_in_article(self, row: int) -> int:
        """How many passages the row's article has (the focus boost's denominator)."""
        return self.reader.passages_in_article(self.reader.article_of(row)) or 1

    def _mean_cosine(self, vector: np.ndarray) -> Callable[[int], float]:
        """A row's article's mean cosine to the query over all its passages (an article's rows are consecutive,
        from its lede: row - its place)."""

        def mean(row: int) -> float:
            article, first = self.reader.article_of(row), row - int(self.reader.row_n[row])
            end = min(first + self._passages_in_article(row), len(self.reader.row_n))
            rows = [r for r in range(first, end) if self.reader.article_of(r) == article] or [row]
            return float(np.mean(self.reader.vectors(rows) @ vector))

        return mean

    def _story(self, row: int) -> str:
        """What collapse groups by: the article's near-duplicate group, else the article itself."""
        article_id = self.reader.article_of(row)
        return self.reader.duplicate_group(article_id) or article_id

    def _highlight(
        self, query: str, passages: Sequence[StoredPassage], vector: np.ndarray | None
    ) -> list[hl.Highlights]:
        lexical = self.reader.lexical
        stems = hl.query_stems(query, lexical.doc_freq if lexical else lambda _: 0, self.reader.passages)
        marked = hl.marked_stems(stems, self.reader.passages)

        out = [hl.highlight(p.text, stems, marked=marked) for p in passages]
        if vector is None:
            return out
        # Hits that share no word with the query were found by meaning: rank their sentences by cosine to the
        # query, in one batch of at most config.fallback_sentences, best-ranked hits first (7-15 ms a sentence here).
        spans = {
            i: hl.sentence_spans(p.text) for i, (p, m) in enumerate(zip(passages, out, strict=True)) if not m.sentences
        }
        wanted = [(i, a, b) for i, found in spans.items() for a, b in found][: self.config.fallback_sentences]
        if wanted:
            cosines = self.encoder.queries([passages[i].text[a:b] for i, a, b in wanted]) @ vector[0]
            best: dict[int, list[hl.Sentence]] = {}
            for (i, a, b), c in zip(wanted, cosines, strict=True):
                best.setdefault(i, []).append(hl.Sentence(a, b, round(float(c), 4)))
            for i, sentences in best.items():
                sentences.sort(key=lambda x: (-x.score, x.start))
                out[i] = hl.Highlights(out[i].terms, sentences[: hl.MAX_SENTENCES])
        return out

    def close(self) -> None:
        self.reader.close()
