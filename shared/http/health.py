"""Liveness and readiness probes, unauthenticated, for orchestrators and load balancers.

``/health/live`` says the process answers (restart it if not); ``/health/ready`` says its
dependencies answer too (send it traffic only if so). Readiness checks are named async callables
that raise when their dependency is unavailable. Most need resources opened in the lifespan, so
they can be added then:

    readiness_of(app).add("database", postgres_check(pool))
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[None]]

logger = logging.getLogger(__name__)


class ReadinessChecks:
    """The named checks ``/health/ready`` runs, each bounded by a timeout, all concurrently."""

    def __init__(
        self, checks: Mapping[str, ReadinessCheck] | None = None, *, timeout_seconds: float = 2.0
    ) -> None:
        self._checks = dict(checks or {})
        self.timeout_seconds = timeout_seconds

    def add(self, name: str, check: ReadinessCheck) -> None:
        self._checks[name] = check

    async def run(self) -> tuple[bool, dict[str, dict[str, str]]]:
        """Whether all checks passed, and each check's status (with the error's kind if not)."""
        names = list(self._checks)
        outcomes = await asyncio.gather(*(self._run_one(name) for name in names))
        report = dict(zip(names, outcomes))
        return all(outcome["status"] == "ok" for outcome in outcomes), report

    async def _run_one(self, name: str) -> dict[str, str]:
        try:
            async with asyncio.timeout(self.timeout_seconds):
                await self._checks[name]()
        except TimeoutError:
            logger.warning("readiness check %s timed out after %ss", name, self.timeout_seconds)
            return {"status": "failing", "error": f"timed out after {self.timeout_seconds}s"}
        except Exception as error:
            logger.warning("readiness check %s failed: %r", name, error)
            # the kind only: the probe is unauthenticated, the log has the details
            return {"status": "failing", "error": type(error).__name__}
        return {"status": "ok"}


def readiness_of(app: FastAPI) -> ReadinessChecks:
    """The readiness checks of an app built by ``create_service_app``."""
    checks = getattr(app.state, "readiness", None)
    if not isinstance(checks, ReadinessChecks):
        raise RuntimeError("this app has no readiness checks; build it with create_service_app")
    return checks


def health_router(readiness: ReadinessChecks) -> APIRouter:
    """The ``/health/live`` and ``/health/ready`` routes."""
    router = APIRouter(prefix="/health", tags=["health"])

    @router.get("/live", summary="The process is up")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        summary="The service's dependencies answer",
        responses={503: {"description": "A dependency is failing; the body says which."}},
    )
    async def ready() -> JSONResponse:
        all_ok, checks = await readiness.run()
        body: dict[str, Any] = {"status": "ok" if all_ok else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if all_ok else 503)

    return router


def postgres_check(pool: asyncpg.Pool) -> ReadinessCheck:
    """Ready when the pool hands out a connection that answers ``SELECT 1``."""

    async def check() -> None:
        await pool.fetchval("SELECT 1")

    return check


def kafka_check(bootstrap_servers: str, *, request_timeout_ms: int = 2000) -> ReadinessCheck:
    """Ready when a broker answers a metadata request; opens and closes its own client.

    Prefer ``kafka_client_check`` when the service already holds a producer or consumer: it reuses
    that client's connections instead of opening new ones on every probe."""

    async def check() -> None:
        from aiokafka.client import AIOKafkaClient  # imported here: only services using Kafka pay

        client = AIOKafkaClient(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=request_timeout_ms
        )
        try:
            await client.bootstrap()  # sends one metadata request
        finally:
            await client.close()

    return check


def kafka_client_check(client: Any) -> ReadinessCheck:
    """Ready when an already started aiokafka client (e.g. ``producer.client``) can fetch the
    cluster metadata."""

    async def check() -> None:
        await client.fetch_all_metadata()

    return check
