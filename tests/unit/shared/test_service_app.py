"""What every service app does before its own routes run: correlation ids, JSON logs, metrics,
health probes."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from shared.consumer import Outcome
from shared.correlation import current_correlation_id
from shared.http.app import create_service_app
from shared.http.health import ReadinessChecks, readiness_of
from shared.http.logging import JsonLogFormatter
from shared.http.metrics import PlatformMetrics
from shared.settings import PlatformSettings


def an_app() -> FastAPI:
    router = APIRouter(prefix="/v1")

    @router.get("/customers/{customer_id}")
    async def find(customer_id: str) -> dict[str, str | None]:
        logging.getLogger("registration").info("looked up", extra={"customer_id": customer_id})
        return {"customer_id": customer_id, "correlation_id": current_correlation_id()}

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    settings = PlatformSettings(service_name="example", database_url="postgresql://x@h/db")
    return create_service_app(
        service_name="example", version="1.2.3", settings=settings, routers=[router]
    )


@pytest.fixture
def app() -> FastAPI:
    return an_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The JSON lines the app logs during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter("example"))
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def lines_of(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_the_callers_correlation_id_is_bound_for_the_request_and_echoed(client):
    response = await client.get("/v1/customers/c-1", headers={"X-Correlation-ID": "req-7"})

    assert response.headers["x-correlation-id"] == "req-7"
    assert response.json()["correlation_id"] == "req-7"


async def test_a_request_without_correlation_id_gets_a_new_one(client):
    first = await client.get("/v1/customers/c-1")
    second = await client.get("/v1/customers/c-1")

    assert first.headers["x-correlation-id"] == first.json()["correlation_id"]
    assert first.headers["x-correlation-id"] != second.headers["x-correlation-id"]


async def test_an_unsafe_correlation_id_is_replaced(client):
    response = await client.get("/v1/customers/c-1", headers={"X-Correlation-ID": "a b\tc"})

    assert response.headers["x-correlation-id"] != "a b\tc"


async def test_log_lines_are_json_with_service_correlation_id_and_extras(client, json_log):
    await client.get("/v1/customers/c-9", headers={"X-Correlation-ID": "req-8"})

    lines = lines_of(json_log)
    [looked_up] = [line for line in lines if line["logger"] == "registration"]
    assert looked_up["message"] == "looked up"
    assert looked_up["customer_id"] == "c-9"
    assert looked_up["service"] == "example"
    assert looked_up["correlation_id"] == "req-8"
    assert looked_up["level"] == "INFO"
    [access] = [line for line in lines if line["logger"] == "http.access"]
    assert access["method"] == "GET"
    assert access["path"] == "/v1/customers/c-9"
    assert access["status"] == 200
    assert access["correlation_id"] == "req-8"
    assert isinstance(access["duration_ms"], float)


async def test_an_unexpected_error_is_logged_with_correlation_id_and_traceback(client, json_log):
    response = await client.get("/v1/crash", headers={"X-Correlation-ID": "req-9"})

    assert response.status_code == 500
    assert response.headers["x-correlation-id"] == "req-9"
    [error] = [line for line in lines_of(json_log) if line["level"] == "ERROR"]
    assert error["correlation_id"] == "req-9"
    assert "RuntimeError: boom" in str(error["exception"])


async def test_metrics_count_requests_by_route_template_not_raw_path(client):
    await client.get("/v1/customers/c-1")
    await client.get("/v1/customers/c-2")
    await client.get("/v1/crash")
    await client.get("/wp-admin/login.php")

    metrics = (await client.get("/metrics")).text

    assert (
        'http_requests_total{method="GET",route="/v1/customers/{customer_id}",'
        'service="example",status="200"} 2.0'
    ) in metrics
    assert 'route="/v1/crash",service="example",status="500"} 1.0' in metrics
    assert 'route="<unmatched>",service="example",status="404"} 1.0' in metrics
    assert "c-1" not in metrics
    assert "http_request_duration_seconds_bucket" in metrics


async def test_platform_counters_are_exposed_on_the_apps_metrics(app, client):
    app.state.platform_metrics.count_published("registration.customers", 3)
    app.state.platform_metrics.count_consumed("invoicing-projector", "processed")
    app.state.platform_metrics.count_dead_lettered("invoicing-projector", "registration.customers")

    metrics = (await client.get("/metrics")).text

    assert 'events_published_total{service="example",topic="registration.customers"} 3.0' in metrics
    assert 'events_consumed_total{consumer="invoicing-projector",outcome="processed",' in metrics
    assert "dead_lettered_total{" in metrics


def test_two_apps_in_one_process_keep_separate_metrics():
    first, second = an_app(), an_app()

    assert isinstance(first.state.metrics_registry, CollectorRegistry)
    assert first.state.metrics_registry is not second.state.metrics_registry


async def test_liveness_answers_without_authentication(client):
    response = await client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readiness_is_503_naming_the_failing_check(app, client):
    async def database() -> None:
        return None

    async def kafka() -> None:
        raise ConnectionRefusedError("127.0.0.1:9092")

    readiness_of(app).add("database", database)
    readiness_of(app).add("kafka", kafka)

    response = await client.get("/health/ready")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {
            "database": {"status": "ok"},
            "kafka": {"status": "failing", "error": "ConnectionRefusedError"},
        },
    }


async def test_a_check_that_hangs_fails_at_its_timeout():
    never = asyncio.Event()

    async def hanging() -> None:
        await never.wait()

    all_ok, report = await ReadinessChecks({"kafka": hanging}, timeout_seconds=0.01).run()

    assert not all_ok
    assert report["kafka"]["status"] == "failing"
    assert "timed out" in report["kafka"]["error"]


def test_the_openapi_document_carries_the_service_title_and_version(app):
    document = app.openapi()

    assert document["info"] == {"title": "example API", "version": "1.2.3"}
    assert "/metrics" not in document["paths"]


def test_consumer_outcomes_are_counted_and_dead_letters_counted_apart() -> None:
    registry = CollectorRegistry()
    count = PlatformMetrics(registry, "svc").consumer_outcome_counter("svc.model", "svc.model.dlq")

    for outcome in (Outcome.PROCESSED, Outcome.DUPLICATE, Outcome.DEAD_LETTERED):
        count(outcome)

    consumed = registry.get_sample_value(
        "events_consumed_total", {"service": "svc", "consumer": "svc.model", "outcome": "processed"}
    )
    dead = registry.get_sample_value(
        "dead_lettered_total", {"service": "svc", "consumer": "svc.model", "topic": "svc.model.dlq"}
    )
    assert (consumed, dead) == (1.0, 1.0)
