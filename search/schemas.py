"""Pydantic request and response models: the public JSON contract of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUERY_CHARS = 1000  # longer queries are refused (422): the model reads 256 word-pieces at most anyway
MAX_K = 100


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="the question or keywords")
    k: int = Field(default=10, ge=1, le=MAX_K, description="number of hits to return")

    @field_validator("q")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is blank: give some words to search for")
        return value.strip()


class SearchHit(BaseModel):
    rank: int
    score: float = Field(description="cosine similarity of query and passage; higher is better")
    passage_id: str
    article_id: str
    title: str
    date: str | None = Field(description="publication date, ISO 8601 (YYYY-MM-DD)")
    source: str | None
    url: str | None
    text: str = Field(description="the passage")
    start: int = Field(description="character offset of the passage in the article text")
    end: int


class SearchResponse(BaseModel):
    query: str
    k: int
    hits: list[SearchHit]
    took_ms: float = Field(description="time spent searching, server side")
    timings_ms: dict[str, float] = Field(description="per stage: embed, vector, fetch")


class Health(BaseModel):
    status: str
    index: str
    generation: str
    articles: int
    passages: int
    model: str
    dim: int
    index_type: str
    built: str
