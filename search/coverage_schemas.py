"""Pydantic models of /coverage: the request (the /search filters plus interval, cut, format) and the response."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, Field

from search.coverage import CoverageOptions
from search.schemas import MAX_QUERY_CHARS, QueryRequest, SourceCount

if TYPE_CHECKING:
    from search.coverage import CoverageResult


class CoverageRequest(QueryRequest):
    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="what the articles are about")
    mode: Literal["dense", "lexical", "hybrid"] = Field(
        default="hybrid",
        description="hybrid: best passage's mix of cosine and BM25 share passes the cut; dense: its cosine; "
        "lexical: articles holding every query word",
    )
    as_of: datetime.date | None = Field(default=None, description="the archive as it stood that day")
    collapse: bool = Field(default=True, description="count near-duplicate copies once (false: count each copy)")
    interval: Literal["day", "week", "month"] | None = Field(
        default=None, description="bucket size; weeks are ISO weeks from Monday (default: chosen from the range)"
    )
    cut: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="the score an article's best passage needs, instead of the tuned rule (docs/coverage.md)",
    )
    format: Literal["json", "csv", "jsonl"] = Field(
        default="json", description="json: counts; csv or jsonl: every matched article, streamed"
    )
    interpret: bool = Field(
        default=False,
        description="the query's time ('May 2024') narrows the dates (the page sets it; off by default: "
        "docs/coverage.md)",
    )
    names: bool = Field(
        default=True,
        description="the query's names ('New START') must appear in an article (a name no article holds is not "
        "required); false: matched by the score alone",
    )
    ignore: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=20, description="parts of the interpretation to leave out: 'time', or a phrase"
    )

    def options(self) -> CoverageOptions:
        return CoverageOptions(
            self.mode,
            self.from_,
            self.to,
            self.as_of,
            self.source,
            self.collapse,
            self.interval,
            self.cut,
            interpret=self.interpret,
            names=self.names,
            ignore=tuple(self.ignore or ()),
        )


class CoverageBucket(BaseModel):
    start: datetime.date = Field(description="the interval's first day (a Monday for weeks, the 1st for months)")
    label: str = Field(description="2024-01-05 (day), 2024-W01 (ISO week), 2024-01 (month)")
    count: int


class CoverageResponse(BaseModel):
    query: str
    mode: str
    matching: str = Field(description="what counted as a match, with the cut used")
    cut: float | None = Field(
        description="the least score a match needed (a tuned rule may also ask a share of the best; null for lexical)"
    )
    collapse: bool
    interval: str | None = Field(description="the bucket size used (null when nothing dated matched)")
    total: int = Field(description="matching articles (stories, when collapsed), dated and undated")
    undated: int = Field(description="matching articles without a date (in no bucket)")
    series: list[CoverageBucket] = Field(description="every interval from the first to the last, zeros included")
    top_sources: list[SourceCount]
    took_ms: float


def to_coverage_response(request: CoverageRequest, result: CoverageResult, took_ms: float) -> CoverageResponse:
    return CoverageResponse(
        query=result.query,
        mode=request.mode,
        matching=result.matching,
        cut=result.cut,
        collapse=request.collapse,
        interval=result.interval,
        total=result.total,
        undated=result.undated,
        series=[CoverageBucket(start=b.start, label=b.label, count=b.count) for b in result.series],
        top_sources=[SourceCount(source=s, articles=n) for s, n in result.top_sources],
        took_ms=round(took_ms, 2),
    )
