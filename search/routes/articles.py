"""Articles: an article's metadata and the sources (reads); add, delete and reload (writes, with the API key)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException

from index.errors import DatelineError, WriteFailed
from index.intake import Intake, records_from_fields
from index.update import Batch, UpdateReport, add_batches
from search.group_commit import GroupCommitter
from search.live import LiveSearcher
from search.routes.deps import READS, WRITES, Committer, Live, SettingsDep
from search.schemas import ArticleOut, ArticlesRequest, ProblemOut, ReloadResponse, SourceCount, WriteResponse
from search.settings import Settings
from search.write_worker import WriteWorker

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
def add(live: Live, settings: SettingsDep, committer: Committer, body: ArticlesRequest) -> WriteResponse:
    """Add new or changed articles (and delete ids in `delete`) in one atomic change; unchanged ones are skipped.
    A batch with any unreadable article is refused whole (422, each problem with its index). Writes that arrive
    together may share one generation; each answer counts its own batch."""
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
    report = committer.submit(Batch(records, body.delete), len(records) + len(body.delete), settings.write_wait_seconds)
    warnings += [ProblemOut(index=int(p.line), reason=p.reason) for p in report.problems]
    return _answer(report, live, warnings, started)


@writes.delete("/articles/{article_id:path}", response_model=WriteResponse)
def delete(live: Live, settings: SettingsDep, committer: Committer, article_id: str) -> WriteResponse:
    """Delete an article: it leaves every search as soon as this answers (404 if it is not there)."""
    started = time.perf_counter()
    report = committer.submit(Batch([], [article_id]), 1, settings.write_wait_seconds)
    if not report.deleted:
        raise HTTPException(404, f"no article {article_id!r} in the index")
    return _answer(report, live, [], started)


def _answer(report: UpdateReport, live: LiveSearcher, warnings: list[ProblemOut], started: float) -> WriteResponse:
    return WriteResponse(
        generation=report.generation or live.generation,
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


def group_writer(
    settings: Settings, live: LiveSearcher, encoder: Any, worker: WriteWorker | None = None
) -> GroupCommitter[Batch, UpdateReport]:
    """The app's committer: each group of batches is one generation (written by `worker`'s process when given,
    else here with `encoder`), served (reloaded) before any of its writes is answered."""

    def apply(batches: list[Batch]) -> list[UpdateReport]:
        index, cache, wait = settings.index, settings.cache, settings.write_wait_seconds
        try:
            if worker is not None:
                reports = worker.add_batches(index, batches, cache, wait)
            else:
                reports = add_batches(index, batches, encoder, cache_path=cache, wait=wait)
        except DatelineError:
            raise
        except Exception as exc:
            others = f" (with {len(batches) - 1} other writes grouped with it)" if len(batches) > 1 else ""
            raise WriteFailed(
                f"the write failed{others}: {type(exc).__name__}: {exc}; nothing was written, retry"
            ) from exc
        live.reload()
        return reports

    return GroupCommitter(apply, max_size=settings.max_batch)


@writes.post("/admin/reload", response_model=ReloadResponse)
def reload(live: Live) -> ReloadResponse:
    """Load the generation `current` points to now (the service also checks by itself every second)."""
    return ReloadResponse(reloaded=live.reload(), generation=live.generation)
