"""Articles: an article's metadata and the sources (reads); add, delete and reload (writes, with the API key)."""

from __future__ import annotations

import threading
import time

from fastapi import APIRouter, HTTPException

from index.errors import IndexBusy
from index.intake import Intake, records_from_fields
from search.routes.deps import READS, WRITES, AddsEncoder, Live, SettingsDep, WriteLock
from search.schemas import ArticleOut, ArticlesRequest, ProblemOut, ReloadResponse, SourceCount, WriteResponse

reads = APIRouter(dependencies=READS)
writes = APIRouter(dependencies=WRITES)  # included only when DATELINE_API_KEY is set


@reads.get("/articles/{article_id:path}", response_model=ArticleOut)
def get_article(live: Live, article_id: str) -> ArticleOut:
    """An article's metadata and passage count, if the served index holds it."""
    with live.lease() as searcher:
        found = searcher.reader.article(article_id)
    if found is None:
        raise HTTPException(404, f"no article {article_id!r} in the index")
    return ArticleOut(**found)


@reads.get("/sources", response_model=list[SourceCount])
def sources(live: Live) -> list[SourceCount]:
    """The sources in the index with their article counts, largest first (for source filters)."""
    with live.lease() as searcher:
        return [SourceCount(source=name, articles=n) for name, n in searcher.reader.sources()]


@writes.post("/articles", response_model=WriteResponse, responses={413: {}, 422: {}, 503: {}})
def add(
    live: Live, settings: SettingsDep, lock: WriteLock, encoder: AddsEncoder, body: ArticlesRequest
) -> WriteResponse:
    """Add new or changed articles (and delete ids in `delete`) in one atomic change; unchanged ones are skipped.
    A batch with any unreadable article is refused whole (422, each problem with its index)."""
    from index.update import add_articles

    if len(body.articles) > settings.max_batch:
        raise HTTPException(
            413, f"at most {settings.max_batch:,} articles per request (DATELINE_MAX_BATCH): split the batch"
        )
    started = time.perf_counter()
    intake = Intake(duplicate=" in this batch")  # a batch with a problem is refused whole: none is kept
    records = list(intake.accept(records_from_fields(item.model_dump(exclude_none=True) for item in body.articles)))
    bad = [{"index": p.line, "reason": p.reason} for p in intake.problems if p.skipped]
    warnings = [ProblemOut(index=p.line, reason=p.reason) for p in intake.problems if not p.skipped]
    if bad:
        raise HTTPException(422, {"message": "nothing was written: fix these articles", "problems": bad})
    _acquire(lock, settings.write_wait_seconds)
    try:
        report = add_articles(
            settings.index,
            records,
            encoder,
            cache_path=settings.cache,
            wait=settings.write_wait_seconds,
            delete=body.delete,
        )
        live.reload()
    finally:
        lock.release()
    warnings += [ProblemOut(index=int(p.line), reason=p.reason) for p in report.problems]
    return WriteResponse(
        generation=live.generation,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        deleted=report.deleted,
        not_found=report.missing,
        passages=report.passages,
        embedded=report.embedded,
        warnings=warnings,
        took_ms=round((time.perf_counter() - started) * 1e3, 1),
    )


@writes.delete("/articles/{article_id:path}", response_model=WriteResponse)
def delete(live: Live, settings: SettingsDep, lock: WriteLock, article_id: str) -> WriteResponse:
    """Delete an article: it leaves every search as soon as this answers (404 if it is not there)."""
    from index.update import delete_articles

    started = time.perf_counter()
    _acquire(lock, settings.write_wait_seconds)
    try:
        report = delete_articles(settings.index, [article_id], wait=settings.write_wait_seconds)
        live.reload()
    finally:
        lock.release()
    if not report.deleted:
        raise HTTPException(404, f"no article {article_id!r} in the index")
    return WriteResponse(
        generation=live.generation,
        added=0,
        updated=0,
        unchanged=0,
        deleted=report.deleted,
        not_found=[],
        passages=0,
        embedded=0,
        warnings=[],
        took_ms=round((time.perf_counter() - started) * 1e3, 1),
    )


@writes.post("/admin/reload", response_model=ReloadResponse)
def reload(live: Live) -> ReloadResponse:
    """Load the generation `current` points to now (the service also checks by itself every second)."""
    return ReloadResponse(reloaded=live.reload(), generation=live.generation)


def _acquire(lock: threading.Lock, wait: float) -> None:
    if not lock.acquire(timeout=wait):
        raise IndexBusy("another write is in progress; retry shortly")
