"""Prometheus metrics of the service: one registry per app (tests make many apps in one process)."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["CONTENT_TYPE_LATEST", "Metered", "Metrics"]


class Metrics:
    """Request counts and latency per endpoint, time per ranking stage of a search, and time to load a new
    generation (a reload)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "dateline_http_requests",
            "HTTP requests by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "dateline_http_request_duration_seconds",
            "HTTP request latency by endpoint",
            ["endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10),
        )
        self.stages = Histogram(
            "dateline_search_stage_duration_seconds",
            "Time in each ranking stage of a search",
            ["stage"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2),
        )

        self.reloads = Histogram(
            "dateline_reload_seconds",
            "Time to load a new generation before swapping it in",
            registry=self.registry,
            buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 1, 2, 5, 10, 30),
        )

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stages.labels(stage).observe(ms / 1e3)

    def render(self) -> bytes:
        """Prometheus text format."""
        return generate_latest(self.registry)


class Metered:
    """ASGI middleware: counts requests by endpoint (the route's template, so label values stay few), method
    and status, and observes their latency."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.app, self.requests, self.latency = app, metrics.requests, metrics.latency

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
