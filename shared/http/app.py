"""The one place a service's FastAPI app is assembled from the platform's HTTP conventions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry
from starlette.types import Lifespan

from shared.http.auth import ApiTokens
from shared.http.health import ReadinessCheck, ReadinessChecks, health_router
from shared.http.logging import CorrelationMiddleware
from shared.http.metrics import (
    HttpMetrics,
    HttpMetricsMiddleware,
    PlatformMetrics,
    metrics_router,
    new_registry,
)
from shared.http.problems import install_problem_handlers
from shared.settings import PlatformSettings


def create_service_app(
    *,
    service_name: str,
    version: str,
    settings: PlatformSettings,
    routers: Sequence[APIRouter] = (),
    readiness_checks: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan[FastAPI] | None = None,
    description: str = "",
    metrics_registry: CollectorRegistry | None = None,
) -> FastAPI:
    """A FastAPI app speaking the platform's conventions, with the service's routers included.

    It answers errors as problem+json, authenticates with ``settings.api_tokens``, binds and
    echoes ``X-Correlation-ID`` and logs each request, records Prometheus metrics (``/metrics``),
    answers ``/health/live`` and ``/health/ready`` and serves its OpenAPI document at ``/docs``.

    What the lifespan opens (pool, producer) can be put on ``app.state`` and given readiness
    checks there with ``readiness_of(app).add(...)``; ``app.state.platform_metrics`` holds the
    event counters for the relay and consumers. Logging is configured by the entry point
    (``configure_logging``), not here, because it is process-wide."""
    app = FastAPI(
        title=f"{service_name} API",
        version=version,
        description=description,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    registry = metrics_registry or new_registry()
    readiness = ReadinessChecks(readiness_checks)
    app.state.service_name = service_name
    app.state.settings = settings
    app.state.metrics_registry = registry
    app.state.platform_metrics = PlatformMetrics(registry, service_name)
    app.state.readiness = readiness
    ApiTokens(settings.api_tokens).install(app)

    # Middleware added last runs first: correlation wraps metrics wraps the 500 answerer, so the
    # 500 is counted and its log lines carry the correlation id.
    install_problem_handlers(app)
    app.add_middleware(HttpMetricsMiddleware, metrics=HttpMetrics(registry), service=service_name)
    app.add_middleware(CorrelationMiddleware)

    app.include_router(health_router(readiness))
    app.include_router(metrics_router(registry))
    for router in routers:
        app.include_router(router)
    return app
