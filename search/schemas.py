"""Pydantic request and response models: the public JSON contract of the HTTP API."""

from __future__ import annotations

import datetime
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    from search.searcher import SearchResult

MAX_QUERY_CHARS = 1000  # longer queries are refused (422): the model reads 256 word-pieces at most anyway
MAX_K = 100
MAX_OFFSET = 900  # deep pages: offset + k candidates are ranked for every page


class QueryRequest(BaseModel):
    """What every request with a query `q` shares (/search, /coverage): the date and source filters, and checks."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime.date | None = Field(
        default=None, alias="from", description="only articles dated on or after this day (YYYY-MM-DD)"
    )
    to: datetime.date | None = Field(default=None, description="only articles dated on or before this day")
    source: list[str] | None = Field(
        default=None, max_length=50, description="only articles from these sources (repeat the parameter for more)"
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        start, end = self.from_, self.to
        if start and end and start > end:
            raise ValueError(f"'from' ({start}) is after 'to' ({end}): swap them")
        return self

    @field_validator("q", check_fields=False)
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is blank: give some words to search for")
        return value.strip()


class SearchRequest(QueryRequest):
    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="the question or keywords")
    k: int = Field(default=10, ge=1, le=MAX_K, description="number of hits to return")
    mode: Literal["dense", "lexical", "hybrid"] = Field(
        default="hybrid", description="dense: embeddings; lexical: BM25 on words; hybrid: both, fused"
    )
    group: Literal["article", "passage"] = Field(
        default="article", description="article: one hit per article (its best passage); passage: every passage"
    )
    fusion: Literal["rrf", "minmax", "zscore"] | None = Field(
        default=None, description="how hybrid mode fuses the two lists (default: the tuned one, see docs/ranking.md)"
    )
    rerank: bool = Field(default=False, description="rescore the top candidates with a cross-encoder")
    as_of: datetime.date | None = Field(
        default=None,
        description="search the archive as it stood that day: nothing dated later; recency counts back from it",
    )
    recency: float | None = Field(
        default=None,
        ge=0,
        le=10,
        description="weight of the recency boost (0 = off; default: the tuned one, docs/ranking.md; 0 with from/to)",
    )
    half_life_days: float | None = Field(
        default=None, gt=0, le=36_500, description="age in days at which the recency boost halves (default 30)"
    )
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="skip this many hits (pagination: page x k)")
    sort: Literal["relevance", "date"] = Field(
        default="relevance", description="relevance, or date: the relevant candidates (top 100 or 5 x k), newest first"
    )
    collapse: bool = Field(
        default=True,
        description="fold near-duplicate articles (wire copies, re-publications) into one hit (group=article)",
    )
    article: str | None = Field(
        default=None, max_length=200, description="only passages of this article (e.g. 'more from this article')"
    )
    highlight: bool = Field(default=True, description="mark the query's words and best sentences of each passage")
    interpret: bool = Field(
        default=True,
        description="read the query's time ('October 2022', 'last week') and phrases ('New START'): docs/queries.md",
    )
    ignore: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None,
        max_length=20,
        description="parts of `understood` to leave out (repeatable): 'time', or one of its phrases",
    )


class SimilarArticle(BaseModel):
    article_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None


class SentenceMark(BaseModel):
    start: int = Field(description="character offset in the hit's text")
    end: int
    score: float = Field(description="share of the query's words (IDF-weighted) in it; cosine when none matched")


class HighlightMarks(BaseModel):
    terms: list[tuple[int, int]] = Field(description="[start, end) character spans of query words in the text")
    sentences: list[SentenceMark] = Field(description="the best-matching sentences of the text, best first")


class SearchHit(BaseModel):
    rank: int
    score: float = Field(
        description="higher is better: cosine (dense), BM25 (lexical), fused score (hybrid), cross-encoder (rerank)"
    )
    passage_id: str
    article_id: str
    title: str
    date: str | None = Field(description="publication date, ISO 8601 (YYYY-MM-DD)")
    source: str | None
    url: str | None
    text: str = Field(description="the passage")
    start: int = Field(description="character offset of the passage in the article text")
    end: int
    more: int = Field(description="other passages of this article that matched (group=article), else 0")
    dense_score: float | None = Field(description="cosine similarity, when the passage was a dense candidate")
    lexical_score: float | None = Field(description="BM25 score, when the passage was a lexical candidate")
    similar: list[SimilarArticle] = Field(
        description="near-duplicates of this article collapsed into this hit (collapse=true), newest first"
    )
    highlights: HighlightMarks | None = Field(description="where the query matches the text (highlight=true)")


class UnderstoodTime(BaseModel):
    text: str = Field(description="the words read as time, as written")
    from_: str = Field(alias="from", description="first day of the period (YYYY-MM-DD)")
    to: str = Field(description="last day of the period")


class Understood(BaseModel):
    time: UnderstoodTime | None = Field(description="the period the query names: a soft prior, not a filter")
    phrases: list[str] = Field(description="phrases and names whose words rank higher found together")


class SearchResponse(BaseModel):
    query: str
    k: int
    offset: int
    mode: str
    group: str
    sort: str
    has_more: bool = Field(description="more hits exist past this page: ask again with offset + k")
    hits: list[SearchHit]
    took_ms: float = Field(description="time spent searching, server side")
    timings_ms: dict[str, float] = Field(description="per stage: embed, vector, lexical, fuse, rerank, fetch")
    understood: Understood | None = Field(
        default=None, description="what was read in the query (interpret=true): its period and phrases"
    )


class SourceCount(BaseModel):
    source: str
    articles: int


class Health(BaseModel):
    status: str
    index: str
    generation: str
    articles: int
    passages: int
    deleted: int = Field(default=0, description="passages deleted since the last compaction (their vectors remain)")
    model: str
    dim: int
    index_type: str
    built: str
    query_encoder: str = Field(description="how queries are embedded: onnx-int8 or torch-fp32")
    writes: bool = Field(default=False, description="the write API is enabled (DATELINE_API_KEY is set)")
    reloads: int = Field(default=0, description="generations swapped in since start-up")
    reload_error: str | None = Field(default=None, description="why the last reload failed, if it did")


def to_response(request: SearchRequest, result: SearchResult) -> SearchResponse:
    hits = [
        SearchHit(
            rank=h.rank,
            score=round(h.score, 6),
            passage_id=h.passage.passage_id,
            article_id=h.passage.article_id,
            title=h.passage.title,
            date=h.passage.date,
            source=h.passage.source,
            url=h.passage.url,
            text=h.passage.text,
            start=h.passage.start,
            end=h.passage.end,
            more=h.more,
            dense_score=None if h.dense_score is None else round(h.dense_score, 6),
            lexical_score=None if h.lexical_score is None else round(h.lexical_score, 6),
            similar=[SimilarArticle(**asdict(a)) for a in h.similar],
            highlights=None
            if h.highlights is None
            else HighlightMarks(
                terms=h.highlights.terms,
                sentences=[SentenceMark(start=s.start, end=s.end, score=s.score) for s in h.highlights.sentences],
            ),
        )
        for h in result.hits
    ]
    timings = {stage: round(ms, 3) for stage, ms in result.timings_ms.items()}
    return SearchResponse(
        query=request.q,
        k=request.k,
        offset=request.offset,
        mode=request.mode,
        group=request.group,
        sort=request.sort,
        has_more=result.has_more,
        hits=hits,
        took_ms=round(result.took_ms, 3),
        timings_ms=timings,
        understood=None if result.understood is None else Understood.model_validate(result.understood.as_json()),
    )


class ArticleIn(BaseModel):
    """One article to add: the fields the file readers accept (aliases too: doc_id, headline, body, publish_date,
    link, ...). `text` is required; without `id` one is derived from the url or content."""

    model_config = ConfigDict(extra="allow")

    id: str | None = Field(default=None, max_length=1000, description="stable article id (no '#')")
    title: str | None = Field(default=None, max_length=10_000)
    text: str | None = Field(default=None, description="the article body (or `body`, `content`)")
    date: str | None = Field(default=None, max_length=100, description="YYYY-MM-DD or another common date format")
    source: str | None = Field(default=None, max_length=1000)
    url: str | None = Field(default=None, max_length=10_000)


class ArticlesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    articles: list[ArticleIn] = Field(description="new or changed articles (at most DATELINE_MAX_BATCH, 1000)")
    delete: list[str] = Field(
        default_factory=list, max_length=10_000, description="article ids to delete in the same change"
    )


class ProblemOut(BaseModel):
    index: int = Field(description="position of the article in the request's `articles`")
    reason: str


class WriteResponse(BaseModel):
    generation: str = Field(description="the generation now served (unchanged when nothing changed)")
    added: int
    updated: int
    unchanged: int = Field(description="articles already stored with the same content: skipped")
    deleted: int
    not_found: list[str] = Field(description="ids asked to delete that were not in the index")
    passages: int = Field(description="passages written")
    embedded: int = Field(description="passages embedded by the model (the rest reused or from the cache)")
    warnings: list[ProblemOut] = Field(description="articles indexed with a field dropped (e.g. an unreadable date)")
    took_ms: float


class ArticleOut(BaseModel):
    article_id: str
    title: str
    date: str | None
    source: str | None
    url: str | None
    passages: int


class ReloadResponse(BaseModel):
    reloaded: bool = Field(description="true if a newer generation was loaded")
    generation: str
