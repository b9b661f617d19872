"""GET /coverage (counts per interval and source) and /coverage.csv or format=csv|jsonl (the matched list, streamed)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from search import export
from search.coverage import Coverage
from search.coverage_schemas import CoverageRequest, CoverageResponse, to_coverage_response
from search.routes.deps import READS, Live

router = APIRouter()


@router.get("/coverage", response_model=CoverageResponse, dependencies=READS)
def coverage(live: Live, params: Annotated[CoverageRequest, Query()]) -> Any:
    """How many articles match, per interval and source: `/coverage?q=New+START+treaty&interval=week`."""
    if params.format != "json":
        return _export(live, params, params.format)
    clock = time.perf_counter()
    with live.lease() as searcher:
        result = Coverage(searcher.reader, searcher.encoder).count(params.q, params.options())
    return to_coverage_response(params, result, (time.perf_counter() - clock) * 1e3)


@router.get("/coverage.csv", dependencies=READS, response_class=StreamingResponse)
def coverage_csv(live: Live, params: Annotated[CoverageRequest, Query()]) -> StreamingResponse:
    """Every matched article as CSV (id, date, source, title, url, score), streamed."""
    return _export(live, params, "csv")


def _export(live: Live, params: CoverageRequest, form: export.Format) -> StreamingResponse:
    """The matches found now (so a bad request is answered 4xx), their rows streamed under the same lease."""
    stack = ExitStack()
    searcher = stack.enter_context(live.lease())  # held until the stream ends: the rows belong to this generation
    try:
        counter = Coverage(searcher.reader, searcher.encoder)
        found = counter.matches(params.q, params.options())
    except BaseException:
        stack.close()
        raise

    def stream() -> Iterator[str]:
        with stack:
            yield from export.lines(counter.passages(found), form)

    headers = {"Content-Disposition": f'attachment; filename="coverage.{form}"', "X-Total-Count": str(len(found))}
    return StreamingResponse(stream(), media_type=export.MEDIA_TYPES[form], headers=headers)
