"""The search page, /healthz and /metrics."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from search.metrics import CONTENT_TYPE_LATEST
from search.routes.deps import Live, MetricsDep, SettingsDep
from search.schemas import Health

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(recorded: MetricsDep) -> Response:
    """Prometheus text format: request counts and latency histograms per endpoint and per ranking stage."""
    return Response(recorded.render(), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", response_model=Health)
def healthz(live: Live, settings: SettingsDep) -> Health:
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


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page() -> str:
    return (files("search") / "static" / "index.html").read_text(encoding="utf-8")
