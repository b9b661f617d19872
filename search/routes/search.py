"""GET and POST /search: a validated request, run on the live searcher, answered in the JSON contract."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from search.options import SearchOptions
from search.routes.deps import READS, Live, MetricsDep
from search.schemas import SearchRequest, SearchResponse, to_response

router = APIRouter()


def run(live: Live, metrics: MetricsDep, params: SearchRequest) -> SearchResponse:
    with live.lease() as searcher:
        result = searcher.search(params.q, SearchOptions.from_request(params))
    metrics.observe_stages(result.timings_ms)
    return to_response(params, result)


@router.get("/search", response_model=SearchResponse, dependencies=READS)
def search_get(live: Live, metrics: MetricsDep, params: Annotated[SearchRequest, Query()]) -> SearchResponse:
    """Search with query parameters: `/search?q=why+did+Russia+suspend+New+START&k=10`."""
    return run(live, metrics, params)


@router.post("/search", response_model=SearchResponse, dependencies=READS)
def search_post(live: Live, metrics: MetricsDep, params: SearchRequest) -> SearchResponse:
    """Search with a JSON body: `{"q": "...", "k": 10}`."""
    return run(live, metrics, params)
