"""The HTTP service: create_app(settings) -> FastAPI; the lifespan loads the index and model once; thin routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from index.store import StoreError, read_manifest, resolve_generation
from search.schemas import Health, SearchRequest, SearchResponse, execute, to_response
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

    @app.exception_handler(StoreError)
    def store_error(request: Request, exc: StoreError) -> JSONResponse:
        # A request this index cannot serve (no lexical index, no reranker) is the client's to change: 400.
        status = 400 if isinstance(exc, NoLexicalIndex | NoReranker) else 503
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    def run(request: Request, params: SearchRequest) -> SearchResponse:
        searcher: Searcher = request.app.state.searcher
        result = execute(searcher, params)
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

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (files("search") / "static" / "index.html").read_text(encoding="utf-8")

    return app
