"""The HTTP service: create_app(settings) -> FastAPI; the lifespan loads the index and model once; thin routes.

Reads: /search, /articles/{id}, /healthz (open unless DATELINE_READ_KEY is set; /healthz always open).
Writes, only when DATELINE_API_KEY is set: POST /articles, DELETE /articles/{id}, POST /admin/reload; one write
at a time (a lock here, the index's writer lock across processes), each answered once the change is served.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from index.errors import DatelineError, IndexBusy
from index.generations import resolve_generation
from index.intake import Intake, records_from_fields
from index.manifest import Manifest
from search.live import LiveSearcher
from search.options import SearchOptions
from search.schemas import (
    ArticleOut,
    ArticlesRequest,
    Health,
    ProblemOut,
    ReloadResponse,
    SearchRequest,
    SearchResponse,
    SourceCount,
    WriteResponse,
    to_response,
)
from search.searcher import Searcher
from search.settings import Settings

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


# Module level: FastAPI resolves these (string) annotations in the module's namespace.
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` is refused with 413 before anything parses it: by its
    Content-Length, or, for a chunked body, by reading it up to the limit first (then handing it on)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(
            status_code=413,
            content={"detail": f"request body over {self.max_bytes:,} bytes (DATELINE_MAX_BODY_BYTES): send less"},
        )
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


def create_app(settings: Settings, searcher: Searcher | None = None) -> FastAPI:
    """The app for `settings`; refuses at once (StoreError with a how-to) when there is no usable index."""
    if searcher is None:
        Manifest.read(resolve_generation(settings.index))  # fail now, with a message, not at the first request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = searcher
        if loaded is None:
            from index import vectors

            vectors.set_threads(settings.threads)
            loaded = Searcher.open(
                settings.index,
                settings.model,
                threads=settings.threads,
                rerank_model=settings.rerank_model,
                query_encoder=settings.query_encoder,
            )
        live = LiveSearcher.following(settings.index, loaded)
        app.state.live = live
        if settings.reload_seconds > 0:
            live.watch(settings.reload_seconds)
        yield
        live.close()

    app = FastAPI(
        title="Dateline",
        summary="Semantic search over a news archive: passages that answer a question, with their articles.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    # Prometheus metrics, one registry per app (tests make many apps in one process).
    registry = CollectorRegistry()
    requests = Counter(
        "dateline_http_requests",
        "HTTP requests by endpoint, method and status",
        ["endpoint", "method", "status"],
        registry=registry,
    )
    latency = Histogram(
        "dateline_http_request_duration_seconds",
        "HTTP request latency by endpoint",
        ["endpoint"],
        registry=registry,
        buckets=(0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10),
    )
    stages = Histogram(
        "dateline_search_stage_duration_seconds",
        "Time in each ranking stage of a search",
        ["stage"],
        registry=registry,
        buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2),
    )
    app.add_middleware(_Metered, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text format: request counts and latency histograms per endpoint and per ranking stage."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(DatelineError)
    def dateline_error(request: Request, exc: DatelineError) -> JSONResponse:
        # Each class in index/errors.py says its status: 400 for a request this index cannot serve, 503 otherwise.
        return JSONResponse(status_code=exc.status, content={"detail": str(exc)}, headers=exc.headers)

    def key_matches(credentials: HTTPAuthorizationCredentials | None, keys: list[str | None]) -> None:
        if credentials is None:
            raise HTTPException(
                401, "this needs a key: send `Authorization: Bearer <key>`", {"WWW-Authenticate": "Bearer"}
            )
        given = credentials.credentials.encode("utf-8")
        # Compare against every key, in constant time each, so timing tells nothing about which (if any) matched.
        matched = [hmac.compare_digest(given, key.encode("utf-8")) for key in keys if key]
        if not any(matched):
            raise HTTPException(403, "wrong key")

    def read_access(credentials: Credentials) -> None:
        if settings.read_key:
            key_matches(credentials, [settings.read_key, settings.api_key])

    def write_access(credentials: Credentials) -> None:
        key_matches(credentials, [settings.api_key])

    def run(request: Request, params: SearchRequest) -> SearchResponse:
        live: LiveSearcher = request.app.state.live
        with live.lease() as searcher:
            result = searcher.search(params.q, SearchOptions.from_request(params))
        for stage, ms in result.timings_ms.items():
            stages.labels(stage).observe(ms / 1e3)
        return to_response(params, result)

    reads = [Depends(read_access)]

    @app.get("/search", response_model=SearchResponse, dependencies=reads)
    def search_get(request: Request, params: Annotated[SearchRequest, Query()]) -> SearchResponse:
        """Search with query parameters: `/search?q=why+did+Russia+suspend+New+START&k=10`."""
        return run(request, params)

    @app.post("/search", response_model=SearchResponse, dependencies=reads)
    def search_post(request: Request, params: SearchRequest) -> SearchResponse:
        """Search with a JSON body: `{"q": "...", "k": 10}`."""
        return run(request, params)

    @app.get("/articles/{article_id:path}", response_model=ArticleOut, dependencies=reads)
    def get_article(request: Request, article_id: str) -> ArticleOut:
        """An article's metadata and passage count, if the served index holds it."""
        with request.app.state.live.lease() as searcher:
            found = searcher.reader.article(article_id)
        if found is None:
            raise HTTPException(404, f"no article {article_id!r} in the index")
        return ArticleOut(**found)

    @app.get("/healthz", response_model=Health)
    def healthz(request: Request) -> Health:
        live: LiveSearcher = request.app.state.live
        with live.lease() as s:
            m = s.reader.manifest
            return Health(
                status="ok",
                index=str(settings.index),
                generation=m.generation,
                articles=s.reader.articles,
                passages=s.reader.passages,
                deleted=m.counts.deleted,
                model=m.model.name,
                dim=m.dim,
                index_type=m.index.type,
                built=m.created,
                query_encoder=getattr(s.encoder, "query_backend", "torch-fp32"),
                writes=settings.api_key is not None,
                reloads=live.reloads,
                reload_error=live.last_error,
            )

    @app.get("/sources", response_model=list[SourceCount], dependencies=reads)
    def sources(request: Request) -> list[SourceCount]:
        """The sources in the index with their article counts, largest first (for source filters)."""
        with request.app.state.live.lease() as searcher:
            return [SourceCount(source=name, articles=n) for name, n in searcher.reader.sources()]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (files("search") / "static" / "index.html").read_text(encoding="utf-8")

    if settings.api_key:
        _write_routes(app, settings, [Depends(write_access)])
    return app


class _Metered:
    """ASGI middleware: counts requests by endpoint (the route's template, so label values stay few), method
    and status, and observes their latency."""

    def __init__(self, app: Any, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            endpoint = getattr(scope.get("route"), "path", None) or "(unmatched)"
            self.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.latency.labels(endpoint).observe(time.perf_counter() - start)


def _write_routes(app: FastAPI, settings: Settings, writes: list[Any]) -> None:
    from index.update import add_articles, delete_articles

    write_lock = threading.Lock()  # one write at a time in this process; the index's flock covers the others

    def locked() -> None:
        if not write_lock.acquire(timeout=settings.write_wait_seconds):
            raise IndexBusy("another write is in progress; retry shortly")

    too_many = f"at most {settings.max_batch:,} articles per request (DATELINE_MAX_BATCH): split the batch"

    @app.post("/articles", response_model=WriteResponse, dependencies=writes, responses={413: {}, 422: {}, 503: {}})
    def add(request: Request, body: ArticlesRequest) -> WriteResponse:
        """Add new or changed articles (and delete ids in `delete`) in one atomic change; unchanged ones are skipped.
        A batch with any unreadable article is refused whole (422, each problem with its index)."""
        if len(body.articles) > settings.max_batch:
            raise HTTPException(413, too_many)
        started = time.perf_counter()
        intake = Intake(duplicate=" in this batch")  # a batch with a problem is refused whole: none is kept
        records = list(intake.accept(records_from_fields(item.model_dump(exclude_none=True) for item in body.articles)))
        bad = [{"index": p.line, "reason": p.reason} for p in intake.problems if p.skipped]
        warnings = [ProblemOut(index=p.line, reason=p.reason) for p in intake.problems if not p.skipped]
        if bad:
            raise HTTPException(422, {"message": "nothing was written: fix these articles", "problems": bad})
        live: LiveSearcher = request.app.state.live
        locked()
        try:
            report = add_articles(
                settings.index,
                records,
                live.searcher.encoder,  # type: ignore[arg-type]  # documents() and count_tokens() are all it needs
                cache_path=settings.cache,
                wait=settings.write_wait_seconds,
                delete=body.delete,
            )
            live.reload()
        finally:
            write_lock.release()
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

    @app.delete("/articles/{article_id:path}", response_model=WriteResponse, dependencies=writes)
    def delete(request: Request, article_id: str) -> WriteResponse:
        """Delete an article: it leaves every search as soon as this answers (404 if it is not there)."""
        started = time.perf_counter()
        live: LiveSearcher = request.app.state.live
        locked()
        try:
            report = delete_articles(settings.index, [article_id], wait=settings.write_wait_seconds)
            live.reload()
        finally:
            write_lock.release()
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

    @app.post("/admin/reload", response_model=ReloadResponse, dependencies=writes)
    def reload(request: Request) -> ReloadResponse:
        """Load the generation `current` points to now (the service also checks by itself every second)."""
        live: LiveSearcher = request.app.state.live
        return ReloadResponse(reloaded=live.reload(), generation=live.generation)
