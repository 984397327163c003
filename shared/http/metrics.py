"""Prometheus metrics: request counts and latencies per route, and the platform's event counters.

Each app gets its own ``CollectorRegistry`` (not the process-global one), so tests that build many
apps never collide on metric names, and ``/metrics`` shows exactly what this app recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNMATCHED_ROUTE = "<unmatched>"  # one label for every path no route knows, so scanners can't
# inflate the number of series


def new_registry() -> CollectorRegistry:
    """A registry for one app, with the process's CPU, memory and file descriptors."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    return registry


class HttpMetrics:
    """``http_requests_total`` and ``http_request_duration_seconds`` of one app."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests",
            "HTTP requests answered, by route template and status code.",
            ["service", "method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from receiving a request to sending the end of its response.",
            ["service", "method", "route"],
            registry=registry,
        )


class PlatformMetrics:
    """The counters of the event relay and consumers, labelled with the service that counts.

    The relay calls ``count_published``, a consumer ``count_consumed`` with the outcome of
    each event (e.g. processed, duplicate, failed) and ``count_dead_lettered`` when it gives up
    on one."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.events_published = Counter(
            "events_published",
            "Events published to Kafka from the service's event store.",
            ["service", "topic"],
            registry=registry,
        )
        self.events_consumed = Counter(
            "events_consumed",
            "Events consumed from Kafka, by consumer and outcome.",
            ["service", "consumer", "outcome"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "dead_lettered",
            "Events sent to a dead-letter topic after processing kept failing.",
            ["service", "consumer", "topic"],
            registry=registry,
        )

    def count_published(self, topic: str, count: int = 1) -> None:
        self.events_published.labels(self.service, topic).inc(count)

    def count_consumed(self, consumer: str, outcome: str) -> None:
        self.events_consumed.labels(self.service, consumer, outcome).inc()

    def count_dead_lettered(self, consumer: str, topic: str) -> None:
        self.dead_lettered.labels(self.service, consumer, topic).inc()

    def consumer_outcome_counter(self, consumer: str, dead_letter_topic: str) -> Callable[[Any], None]:
        """What an EventConsumer calls with each outcome: counts it, and dead letters apart."""

        def count(outcome: Any) -> None:
            self.count_consumed(consumer, outcome.value)
            if outcome.value == "dead_lettered":
                self.count_dead_lettered(consumer, dead_letter_topic)

        return count


def metrics_router(registry: CollectorRegistry) -> APIRouter:
    """``GET /metrics`` in the Prometheus text format; unauthenticated, left out of the OpenAPI
    document because scrapers, not API clients, read it."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


class HttpMetricsMiddleware:
    """Counts and times every HTTP request under its route template (``/v1/customers/{id}``),
    never the raw path, so the number of series stays bounded."""

    def __init__(self, app: ASGIApp, *, metrics: HttpMetrics, service: str) -> None:
        self.app = app
        self.metrics = metrics
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app raises before answering

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            route = route_template(scope)
            method = scope["method"]
            self.metrics.requests.labels(self.service, method, route, str(status)).inc()
            self.metrics.duration.labels(self.service, method, route).observe(
                time.perf_counter() - started
            )


def route_template(scope: Scope) -> str:
    """The path template of the route that handled the request (set by the router in the
    scope), or ``<unmatched>``."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else UNMATCHED_ROUTE
