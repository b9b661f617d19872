"""The HTTP service: create_app(settings) -> FastAPI; the lifespan loads the index and model once; thin routes.

Reads: /search, /coverage, /articles/{id}, /sources, /healthz (open unless DATELINE_READ_KEY is set; /healthz
always open).
Writes, only when DATELINE_API_KEY is set: POST /articles, DELETE /articles/{id}, POST /admin/reload; one write
at a time (here, the writes that arrive meanwhile go in the next one together: search/group_commit.py; the
index's writer lock across processes), each answered once the change is served.
The routes are APIRouters in search/routes/; what they share (settings, the live searcher, metrics, the group
committer) is on app.state, reached through the dependencies in search/routes/deps.py.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from index.errors import DatelineError
from index.generations import resolve_generation
from index.manifest import Manifest
from search.live import LiveSearcher
from search.metrics import Metered, Metrics
from search.readside import ReadSide
from search.routes import articles, pages
from search.routes import coverage as coverage_routes
from search.routes import search as search_routes
from search.searcher import Searcher
from search.settings import Settings

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def create_app(settings: Settings, searcher: Searcher[ReadSide] | None = None) -> FastAPI:
    """The app for `settings`; refuses at once (StoreError with a how-to) when there is no usable index."""
    if searcher is None:
        Manifest.read(resolve_generation(settings.index))  # fail now, with a message, not at the first request
    app = FastAPI(
        title="Dateline",
        summary="Semantic search over a news archive: passages that answer a question, with their articles.",
        lifespan=_lifespan,
    )
    app.state.settings, app.state.preloaded = settings, searcher
    app.state.metrics = Metrics()
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Metered, metrics=app.state.metrics)
    app.exception_handler(DatelineError)(_dateline_error)
    app.include_router(pages.router)
    app.include_router(search_routes.router)
    app.include_router(coverage_routes.router)
    app.include_router(articles.reads)
    if settings.api_key:
        app.include_router(articles.writes)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the searcher once (unless one was given), follow the index's generations, close it all at the end."""
    settings: Settings = app.state.settings
    if settings.request_threads:
        import anyio.to_thread

        # Fewer requests at once in the thread pool: each (and a write) gets a bigger share of the interpreter.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
    loaded = app.state.preloaded
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
    worker = None
    if app.state.preloaded is None and settings.api_key:
        from index.embed import encoder_for_adds
        from search.write_worker import WriteWorker

        # Writes run in a process of their own (search/write_worker.py). Adds embed on the index's own passage path,
        # as `index add` does (the searcher's encoder is fp32 for queries): the vectors stay alike, it is the
        # faster path, and the embedding cache serves seen text.
        model = loaded.reader.manifest.model
        make = functools.partial(encoder_for_adds, model, threads=settings.threads, index_dir=settings.index)
        worker = WriteWorker(make, settings.threads)
    app.state.committer = articles.group_writer(settings, live, loaded.encoder, worker)
    live.observe_reload = app.state.metrics.reloads.observe
    app.state.live = live
    if settings.reload_seconds > 0:
        live.watch(settings.reload_seconds)
    yield
    if worker is not None:
        worker.close()
    live.close()


def _dateline_error(request: Request, exc: DatelineError) -> JSONResponse:
    # Each class in index/errors.py says its status: 400 for a request this index cannot serve, 503 otherwise.
    return JSONResponse(status_code=exc.status, content={"detail": str(exc)}, headers=exc.headers)


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
