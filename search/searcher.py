"""Searcher.search(query, ...) -> ranked hits with per-stage timings; no HTTP, so the CLI and benchmarks reuse it.

Stages: embed the query, vector search (dense), BM25 (lexical), fuse the two candidate lists, group passages
by article, optionally rerank the top candidates with a cross-encoder, fetch the passages to return.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from index.embed import Encoder, Reranker, model_spec
from index.errors import ModelMismatch, NoLexicalIndex, NoReranker
from index.store import NO_DAY, ArticleInfo, IndexReader, StoredPassage
from search import highlight as hl
from search import ranking

Mode = Literal["dense", "lexical", "hybrid"]
Fusion = Literal["rrf", "minmax", "zscore"]
Group = Literal["article", "passage"]
Sort = Literal["relevance", "date"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
FUSIONS: tuple[Fusion, ...] = ("rrf", "minmax", "zscore")

# Defaults for hybrid ranking; chosen on the dev half of RealTimeQA's questions (benchmarks/tune_fusion.py).
DEFAULT_FUSION: Fusion = "minmax"
# Share of the dense list in the fusion (the lexical list gets the rest): 0.9 under the recency prior (the
# default), 0.4 without it (recency=0: archival questions, a from/to range). With the prior the date does most
# of the ranking; without it relevance is everything, and an even mix ranks better (README, "defaults").
DEFAULT_DENSE_WEIGHT = 0.9
NO_RECENCY_DENSE_WEIGHT = 0.4
# The prior counts only where it can move a candidate by 1.5 relevance ranges (relevance is min-max scaled to
# [0, 1]; ranking.prior_spread): at the default recency, some candidate is from the last ~12 days. Otherwise the
# search is fused as without a prior, like a past event asked about later, when the newest candidates are
# months old or off topic. Chosen on dev by benchmarks/tune_fusion.py over 0.05-1.9: the same 0.788 as of the
# quiz day for every threshold to 1.5, and as of the archive's newest day 0.491 (always 0.9) -> 0.552.
MIN_PRIOR_SPREAD = 1.5
DEFAULT_DEPTH = 100  # candidates taken from each retriever (at least 5 per requested hit)
RERANK_DEPTH = 50
# Most sentences embedded per search (7-15 ms each here, batched) to highlight hits that share no word with the query.
FALLBACK_SENTENCES = 4
# In hybrid mode with group=article, the passage shown for an article is its best by an even min-max fusion
# of dense and lexical (chosen on dev answer spans: 0.778 -> 0.857 of questions with the answer on screen).
PASSAGE_CHOICE_DENSE_WEIGHT = 0.5
# ... plus LEDE_WEIGHT / (1 + its place in the article): news puts the answer early (the inverted pyramid).
# Chosen on the dev answer spans (benchmarks/tune_passage_choice.py: 54 -> 56 of 63 dev questions).
LEDE_WEIGHT = 0.2
# Recency: relevance (min-max over the candidates) + RECENCY x 0.5 ** (age in days / HALF_LIFE), the age
# counted back from `as_of` (default today); recency=0 turns it off. Chosen on the same dev questions.
DEFAULT_RECENCY = 2.0
DEFAULT_HALF_LIFE_DAYS = 30.0


def fusion_weight(prior_spread: float) -> float:
    """The default dense weight of a hybrid search whose recency prior spreads its candidates this far apart."""
    return DEFAULT_DENSE_WEIGHT if prior_spread >= MIN_PRIOR_SPREAD else NO_RECENCY_DENSE_WEIGHT


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

    @property
    def took_ms(self) -> float:
        return sum(self.timings_ms.values())


class Searcher:
    """Ranks an index's passages for a query; thread-safe for concurrent searches."""

    def __init__(self, reader: IndexReader, encoder: Encoder, reranker: Reranker | None = None) -> None:
        built = reader.manifest["model"]
        if encoder.info.fingerprint != built["fingerprint"] or encoder.dim != reader.manifest["dim"]:
            raise ModelMismatch(
                f"index {reader.generation} was built with model {built['name']} ({built['fingerprint']}), "
                f"not {encoder.info.name} ({encoder.info.fingerprint}); query with that model or rebuild the index"
            )
        self.reader, self.encoder, self.reranker = reader, encoder, reranker
        self.lede_weight = LEDE_WEIGHT  # the passage-choice prior; a benchmark may vary it

    @classmethod
    def open(
        cls,
        index_path: Path,
        model: str | None = None,
        threads: int | None = 1,
        rerank_model: str | None = None,
        query_encoder: str = "auto",
    ) -> Searcher:
        """Load an index and the model it was built with (or `model`, which must be the same weights)."""
        return cls.over(IndexReader(index_path), model, threads, rerank_model, query_encoder)

    @classmethod
    def over(
        cls,
        reader: IndexReader,
        model: str | None = None,
        threads: int | None = 1,
        rerank_model: str | None = None,
        query_encoder: str = "auto",
    ) -> Searcher:
        """A searcher over an open reader with its index's model (or `model`) and, given one, a cross-encoder."""
        built = reader.manifest["model"]
        spec = model or model_spec(built["name"], built["path"])
        reranker = Reranker(rerank_model) if rerank_model else None
        return cls(reader, Encoder(spec, dtype="float32", threads=threads, queries=query_encoder), reranker)

    @property
    def has_lexical(self) -> bool:
        return self.reader.lexical is not None

    def search(
        self,
        query: str,
        k: int = 10,
        mode: Mode = "hybrid",
        group: Group = "article",
        fusion: Fusion = DEFAULT_FUSION,
        dense_weight: float | None = None,
        rerank: bool = False,
        depth: int = DEFAULT_DEPTH,
        start: datetime.date | None = None,
        end: datetime.date | None = None,
        as_of: datetime.date | None = None,
        recency: float = DEFAULT_RECENCY,
        half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
        sources: Sequence[str] | None = None,
        article: str | None = None,
        offset: int = 0,
        sort: Sort = "relevance",
        collapse: bool = True,
        highlight: bool = True,
    ) -> SearchResult:
        """Rank passages for `query`; return hits `offset + 1` to `offset + k`.

        `start`/`end` keep articles dated within them (inclusive; undated articles drop out); `sources` keeps
        articles from those sources (case-insensitive exact names); `article` keeps one article's passages;
        `as_of` searches the archive as it stood that day: nothing dated later, and recency counted back from it
        (else from `end`, else from today). `collapse` (group=article) folds an article's near-duplicates into
        its hit (`Hit.similar`); `sort=date` orders the relevant candidates newest first; `highlight` marks the
        query's words and best sentences in each passage. `dense_weight` is the dense list's share in a hybrid
        fusion (default: `fusion_weight` of the recency prior's spread over the candidates).
        """
        if mode != "dense" and not self.has_lexical:
            raise NoLexicalIndex(f"{self.reader.generation} has no lexical index; use mode=dense or rebuild it")
        if rerank and self.reranker is None:
            raise NoReranker("rerank=true needs a cross-encoder: set DATELINE_RERANK_MODEL to its folder")
        want = offset + k
        depth = max(depth, 5 * want, RERANK_DEPTH if rerank else 0)
        collapse = collapse and group == "article"
        timings: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[stage] = timings.get(stage, 0.0) + (now - clock) * 1e3
            clock = now

        if as_of is not None:
            end = as_of if end is None else min(end, as_of)
        age = self.reader.age_in_days(as_of or end or datetime.date.today())
        allowed = self.reader.rows_dated(start, end) if (start or end) else None
        if sources:
            by_source = self.reader.rows_from(sources)
            allowed = by_source if allowed is None else allowed & by_source
        if article is not None:
            of_article = self.reader.rows_of_article(article)
            allowed = of_article if allowed is None else allowed & of_article
        vector = None
        while True:
            dense: ranking.Ranked = []
            lexical: ranking.Ranked = []
            if mode != "lexical":
                if vector is None:
                    vector = self.encoder.queries([query])
                    lap("embed")
                dense = self.reader.search(vector, depth, allowed)[0]
                lap("vector")
            if mode != "dense":
                lexical = self.reader.search_lexical(query, depth, allowed)
                lap("lexical")
            if mode == "hybrid":
                weight = dense_weight
                if weight is None:
                    rows = [row for row, _ in dense] + [row for row, _ in lexical]
                    weight = fusion_weight(ranking.prior_spread(rows, age, recency, half_life_days))
                fused = ranking.fuse(dense, lexical, fusion, weight)
            else:
                fused = dense or lexical
            if group == "article":
                grouped = ranking.group_best(fused, self.reader.article_of)
                if mode == "hybrid":
                    choice = dict(ranking.fuse(dense, lexical, "minmax", PASSAGE_CHOICE_DENSE_WEIGHT))
                    choice = ranking.lede_prior(choice, self._place, self.lede_weight)
                    grouped = ranking.pick_passages(grouped, fused, self.reader.article_of, choice)
            else:
                grouped = [(row, score, 0) for row, score in fused]
            lap("fuse")
            # Long articles fill the candidate lists with their passages: widen until k articles are found or
            # the retrievers have nothing more to give (a filter is applied inside them, never after).
            exhausted = len(dense) < depth and len(lexical) < depth
            found = len({self._story(row) for row, _, _ in grouped}) if collapse else len(grouped)
            if found > want or exhausted or depth >= self.reader.passages:
                break
            depth *= 4
        if rerank and self.reranker is not None:
            # Every hit returned is rescored: reranker scores and fused scores are on different scales.
            n = max(RERANK_DEPTH, want)
            head = grouped[:n]
            texts = self.reader.fetch([row for row, _, _ in head])
            scores = self.reranker.score(query, [f"{p.title}\n{p.text}" for p in texts])
            reranked = sorted(zip(head, scores, strict=True), key=lambda x: -x[1])
            grouped = [(row, float(s), more) for (row, _, more), s in reranked] + grouped[n:]
            lap("rerank")
        if recency > 0:
            grouped = ranking.recency_boost(grouped, age, recency, half_life_days)
            lap("recency")
        if collapse:  # a story's best-ranked copy stands for its near-duplicates
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
        top = grouped[offset:want]
        passages = self.reader.fetch([row for row, _, _ in top])
        similar = [self.reader.near_duplicates(p.article_id) if collapse else [] for p in passages]
        lap("fetch")
        highlights: list[hl.Highlights | None] = [None] * len(top)
        if highlight and passages:
            highlights = list(self._highlight(query, passages, vector))
            lap("highlight")
        dense_of, lexical_of = dict(dense), dict(lexical)
        hits = [
            Hit(rank, score, p, more, dense_of.get(row), lexical_of.get(row), sim, marks)
            for rank, ((row, score, more), p, sim, marks) in enumerate(
                zip(top, passages, similar, highlights, strict=True), start=offset + 1
            )
        ]
        return SearchResult(query, hits, timings, has_more=len(grouped) > want)

    def _place(self, row: int) -> int:
        """The passage's place in its article (0 = the lede)."""
        return int(self.reader.row_n[row])

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
        # query, in one batch of at most FALLBACK_SENTENCES, best-ranked hits first (7-15 ms a sentence here).
        spans = {
            i: hl.sentence_spans(p.text) for i, (p, m) in enumerate(zip(passages, out, strict=True)) if not m.sentences
        }
        wanted = [(i, a, b) for i, found in spans.items() for a, b in found][:FALLBACK_SENTENCES]
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
