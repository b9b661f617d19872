"""What one search asks (SearchOptions) and the tuned values a Searcher ranks with (RankingConfig).

The tuned values' history (how each was chosen, on which questions, with what figures) is docs/tuning-history.md.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from search.schemas import SearchRequest

Mode = Literal["dense", "lexical", "hybrid"]
Fusion = Literal["rrf", "minmax", "zscore"]
Group = Literal["article", "passage"]
Sort = Literal["relevance", "date"]
LedeForm = Literal["decay", "lede-only"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
FUSIONS: tuple[Fusion, ...] = ("rrf", "minmax", "zscore")


@dataclass(frozen=True, slots=True)
class RankingConfig:
    """The tuned values of hybrid ranking, chosen on the dev half of RealTimeQA's questions."""

    fusion: Fusion = "minmax"  # how a hybrid search fuses the dense and lexical lists
    dense_weight: float = 0.9  # the dense list's share in a fusion where the recency prior counts
    no_recency_dense_weight: float = 0.4  # ... and where it does not (recency=0, or a prior spread too small)
    min_prior_spread: float = 1.5  # the prior counts when it spreads the candidates this far (ranking.prior_spread)
    depth: int = 100  # candidates taken from each retriever (at least 5 per requested hit)
    rerank_depth: int = 50  # candidates the cross-encoder rescores (at least every hit returned)
    fallback_sentences: int = 4  # most sentences embedded per search to highlight hits sharing no query word
    passage_choice_dense_weight: float = 0.5  # the dense share of the fusion choosing an article hit's passage
    lede_weight: float = 0.2  # ... plus this prior for its place in the article (the inverted pyramid)
    lede_form: LedeForm = "decay"  # the prior is weight / (1 + place) (decay), or the weight for the lede alone
    recency: float = 2.0  # weight of the recency prior added to relevance (0 = off)
    half_life_days: float = 30.0  # age in days at which the recency prior halves
    # Query interpretation (search/interpret.py, docs/queries.md): a phrase's words in order, adjacent query words
    # near each other, and the period a query names each add to the ranking.
    phrase_boost: float = 1.0  # weight of a phrase match (a quoted phrase or a capitalised name) in BM25
    phrase_slop: int = 0  # other words allowed inside a phrase match
    pair_boost: float = 0.0  # weight of a match of two adjacent query words (sequential dependence; 0 = off)
    pair_slop: int = 1  # ... with this many other words allowed between them
    name_weight: float = 0.25  # added to relevance (0..1) for a passage holding the query's phrases verbatim
    period_weight: float = 1.0  # prior added to relevance (0..1) for an article dated in the query's period
    period_after_days: float = 7.0  # ... halving every this many days after the period's end
    period_before_days: float = 7.0  # ... and every this many days before its start (0: nothing before it counts)
    drop_time_words: bool = False  # the time words leave the text the retrievers read (measured: it costs)
    focus_weight: float = 0.2  # article hits: weight of the share of an article's passages among the candidates
    # Keyword queries (at most short_max_words words; docs/queries.md): article hits gain short_focus_weight x their
    # focus instead, and where no recency prior counts about_weight x their mean cosine to the query over all their
    # passages (min-max over the top about_depth articles; in longer questions it lost on held-out ones).
    short_max_words: int = 8
    short_focus_weight: float = 0.75
    about_weight: float = 0.5
    about_depth: int = 50
    # ... and pseudo-relevance feedback (search/feedback.py): the stems the first pass's top feedback_docs articles
    # share, the feedback_terms heaviest, join BM25 at feedback_weight x their share; the query's vector moves
    # feedback_dense towards those articles' mean vector; the search runs again (0 and 0: off).
    feedback_weight: float = 0.5
    feedback_dense: float = 1.0
    feedback_docs: int = 10
    feedback_terms: int = 10

    def fusion_weight(self, prior_spread: float) -> float:
        """The default dense weight of a hybrid search whose recency prior spreads its candidates this far apart."""
        return self.dense_weight if prior_spread >= self.min_prior_spread else self.no_recency_dense_weight


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """One search's options. None takes the searcher's RankingConfig value.

    `start`/`end` keep articles dated within them (inclusive; undated articles drop out); `sources` keeps
    articles from those sources (case-insensitive exact names); `article` keeps one article's passages; `as_of`
    searches the archive as it stood that day: nothing dated later, and recency counted back from it (else from
    `end`, else from today). `collapse` (group=article) folds an article's near-duplicates into its hit;
    `sort=date` orders the relevant candidates newest first; `highlight` marks the query's words and best
    sentences; `interpret` reads the query's time and phrases (less the parts in `ignore`). `dense_weight` is
    the dense list's share in a hybrid fusion (default: RankingConfig.fusion_weight
    of the recency prior's spread over the candidates). Hits `offset + 1` to `offset + k` are returned.
    """

    k: int = 10
    mode: Mode = "hybrid"
    group: Group = "article"
    fusion: Fusion | None = None
    dense_weight: float | None = None
    rerank: bool = False
    depth: int | None = None
    start: datetime.date | None = None
    end: datetime.date | None = None
    as_of: datetime.date | None = None
    recency: float | None = None
    half_life_days: float | None = None
    sources: Sequence[str] | None = None
    article: str | None = None
    offset: int = 0
    sort: Sort = "relevance"
    collapse: bool = True
    highlight: bool = True
    interpret: bool = True  # read time and phrases in the query (search/interpret.py)
    ignore: tuple[str, ...] = ()  # parts of the interpretation the user removed: "time", or a phrase

    @classmethod
    def from_request(cls, request: SearchRequest) -> SearchOptions:
        """The options of a validated HTTP (or CLI) request."""
        recency = request.recency
        if recency is None and (request.from_ or request.to):
            recency = 0.0  # an explicit date range is the reader's own time frame: no default recency inside it
        return cls(
            k=request.k,
            mode=request.mode,
            group=request.group,
            fusion=request.fusion,
            rerank=request.rerank,
            start=request.from_,
            end=request.to,
            as_of=request.as_of,
            recency=recency,
            half_life_days=request.half_life_days or None,
            sources=request.source,
            article=request.article,
            offset=request.offset,
            sort=request.sort,
            collapse=request.collapse,
            highlight=request.highlight,
            interpret=request.interpret,
            ignore=tuple(request.ignore or ()),
        )


TUNED = RankingConfig()  # the tuned values, as every searcher ranks unless given others
DEFAULT_OPTIONS = SearchOptions()
