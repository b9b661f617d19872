"""The HTTP service: create_app(settings) -> FastAPI; the lifespan loads the index and model once; thin routes."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from index.store import StoreError, read_manifest, resolve_generation
from search.schemas import Health, SearchRequest, SearchResponse, SourceCount, execute, to_response
from search.searcher import NoLexicalIndex, NoReranker, Searcher
from search.settings import Settings


def create_app(settings: Settings, searcher: Searcher | None = None) -> FastAPI:
    """The app for `settings`; refuses at once (StoreError with a how-to) when there is no usable index."""
    if searcher is None:
        read_manifest(resolve_generation(settings.index))  # fail now, with a message, not at the first request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if searcher is None:
            from index import vectors

            vectors.set_threads(settings.threads)
            app.state.searcher = Searcher.open(
                settings.index,
                settings.model,
                threads=settings.threads,
                rerank_model=settings.rerank_model,
                query_encoder=settings.query_encoder,
            )
        else:
            app.state.searcher = searcher
        yield
        app.state.searcher.close()

    app = FastAPI(
        title="Dateline",
        summary="Semantic search over a news archive: passages that answer a question, with their articles.",
        lifespan=lifespan,
    )

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
    app.state.stage_metrics = stages

    app.add_middleware(_Metered, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text format: request counts and latency histograms per endpoint and per ranking stage."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(StoreError)
    def store_error(request: Request, exc: StoreError) -> JSONResponse:
        # A request this index cannot serve (no lexical index, no reranker) is the client's to change: 400.
        status = 400 if isinstance(exc, NoLexicalIndex | NoReranker) else 503
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    def run(request: Request, params: SearchRequest) -> SearchResponse:
        searcher: Searcher = request.app.state.searcher
        result = execute(searcher, params)
        for stage, ms in result.timings_ms.items():
            stages.labels(stage).observe(ms / 1e3)
        return to_response(params, result)

    @app.get("/search", response_model=SearchResponse)
    def search_get(request: Request, params: Annotated[SearchRequest, Query()]) -> SearchResponse:
        """Search with query parameters: `/search?q=why+did+Russia+suspend+New+START&k=10`."""
        return run(request, params)

    @app.post("/search", response_model=SearchResponse)
    def search_post(request: Request, params: SearchRequest) -> SearchResponse:
        """Search with a JSON body: `{"q": "...", "k": 10}`."""
        return run(request, params)

    @app.get("/healthz", response_model=Health)
    def healthz(request: Request) -> Health:
        s: Searcher = request.app.state.searcher
        m = s.reader.manifest
        return Health(
            status="ok",
            index=str(settings.index),
            generation=m["generation"],
            articles=s.reader.articles,
            passages=s.reader.passages,
            model=m["model"]["name"],
            dim=m["dim"],
            index_type=m["index"]["type"],
            built=m["created"],
            query_encoder=getattr(s.encoder, "query_backend", "torch-fp32"),
        )

    @app.get("/sources", response_model=list[SourceCount])
    def sources(request: Request) -> list[SourceCount]:
        """The sources in the index with their article counts, largest first (for source filters)."""
        s: Searcher = request.app.state.searcher
        return [SourceCount(source=name, articles=n) for name, n in s.reader.sources()]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (files("search") / "static" / "index.html").read_text(encoding="utf-8")

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
