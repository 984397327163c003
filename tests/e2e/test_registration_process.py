"""Registration run as a real process: what operators see on Kafka, and what survives a crash."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import asyncpg
import httpx
import pytest

from shared.eventstore import PostgresEventStore
from tests.e2e.conftest import ROOT, TOKEN, ServiceProcess, console_consumer, find_on_kafka
from tests.polling import eventually

pytestmark = pytest.mark.e2e

TOPIC = "registration.events"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PYTHON_MODULE = [sys.executable, "-m"]


def a_customer(email: str) -> dict[str, object]:
    return {
        "kind": "person",
        "person_name": {"given": "Grace", "family": f"Hopper-{uuid.uuid4().hex[:6]}"},
        "date_of_birth": "1976-12-09",
        "contact": {
            "emails": [{"address": email}],
            "phones": [{"number": "+15555550123"}],
            "preferred_channel": "email",
            "consents": {"email": True},
            "time_zone": "America/New_York",
        },
    }


async def search_row(pool: asyncpg.Pool, customer_id: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM customer_search WHERE customer_id = $1", customer_id)


async def test_an_event_committed_before_a_sigkill_is_published_after_restart_and_applied_once(
    registration_process: ServiceProcess, registration_schema: str, database_url: str, kafka_bootstrap: str,
) -> None:
    registration_process.start()  # API, relay and search consumer all running
    pool = await asyncpg.create_pool(f"{database_url}?search_path={registration_schema}", min_size=1, max_size=2)
    # An older transaction still open on the server keeps the new event out of the relay's reach
    # (the store hands out only events below every open transaction), so the registration below
    # is committed and stays unpublished for as long as this one is open: a window we control.
    horizon = await asyncpg.connect(database_url)
    holding = horizon.transaction()
    await holding.start()
    await horizon.fetchval("SELECT pg_current_xact_id()")
    try:
        async with httpx.AsyncClient(base_url=registration_process.url, headers=AUTH) as api:
            registered = await api.post("/v1/customers", json=a_customer(f"grace-{uuid.uuid4().hex[:6]}@example.com"))
            assert registered.status_code == 201, registered.text
            customer_id = registered.json()["customer_id"]
            history = (await api.get(f"/v1/customers/{customer_id}/events")).json()["events"]
        event_id = history[0]["event_id"]
        assert await pool.fetchval("SELECT count(*) FROM events") == 1  # committed...
        assert await PostgresEventStore(pool, source="/billing/registration").read_all() == []
        assert await find_on_kafka(kafka_bootstrap, TOPIC, event_id) == []  # ...and no reader can relay it

        registration_process.kill()
    finally:
        await holding.rollback()
        await horizon.close()

    try:
        assert await find_on_kafka(kafka_bootstrap, TOPIC, event_id) == []
        registration_process.start()  # relay and search consumer run again

        placed = await eventually(lambda: find_on_kafka(kafka_bootstrap, TOPIC, event_id), timeout=30,
                                  message="the committed event never reached Kafka")
        assert len(placed) == 1
        row = await eventually(lambda: search_row(pool, customer_id), message="search model never saw it")
        assert row["events_applied"] == 1

        # Now a crash after publishing but before the checkpoint moved: the relay republishes...
        registration_process.kill()
        await pool.execute("DELETE FROM checkpoints")
        registration_process.start()

        async def published_twice() -> list[tuple[int, int]]:
            found = await find_on_kafka(kafka_bootstrap, TOPIC, event_id)
            return found if len(found) == 2 else []

        await eventually(published_twice, timeout=30, message="the relay did not republish")
        # ...and the downstream read model still applied it exactly once (inbox).
        await eventually(lambda: duplicates_seen(registration_process), timeout=30,
                         message="the search consumer never received the republished copy")
        assert await pool.fetchval("SELECT count(*) FROM inbox WHERE event_id = $1", uuid.UUID(event_id)) == 1
        assert (await search_row(pool, customer_id))["events_applied"] == 1
    finally:
        await pool.close()


async def duplicates_seen(service: ServiceProcess) -> float:
    """How many redelivered events the service's consumers recognised (from /metrics)."""
    async with httpx.AsyncClient(base_url=service.url) as client:
        metrics = (await client.get("/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("events_consumed_total{") and 'outcome="duplicate"' in line
    )


async def test_an_operator_reads_the_registration_with_kafka_console_consumer(
    registration_process: ServiceProcess, kafka_bootstrap: str,
) -> None:
    registration_process.start()
    async with httpx.AsyncClient(base_url=registration_process.url, headers=AUTH) as api:
        registered = await api.post(
            "/v1/customers", json=a_customer(f"ops-{uuid.uuid4().hex[:6]}@example.com"),
            headers={"X-Correlation-ID": "ops-check-1"},
        )
        assert registered.status_code == 201, registered.text
        customer_id = registered.json()["customer_id"]
        event_id = (await api.get(f"/v1/customers/{customer_id}/events")).json()["events"][0]["event_id"]
    [(partition, offset)] = await eventually(lambda: find_on_kafka(kafka_bootstrap, TOPIC, event_id), timeout=30)

    headers, key, value = await asyncio.to_thread(console_consumer, kafka_bootstrap, TOPIC, partition, offset)
    assert f"ce_id:{event_id}" in headers
    assert "ce_type:billing.registration.CustomerRegistered" in headers
    assert "ce_source:/billing/registration" in headers
    assert "ce_specversion:1.0" in headers
    assert f"ce_subject:{customer_id}" in headers
    assert "content-type:application/json" in headers
    assert "ce_correlationid:ops-check-1" in headers
    assert key == customer_id
    assert f'"customer_id":"{customer_id}"' in value


async def test_the_search_model_rebuilt_by_an_operator_equals_the_live_one(
    registration_process: ServiceProcess, registration_schema: str, database_url: str,
) -> None:
    registration_process.start()
    customer_ids = []
    async with httpx.AsyncClient(base_url=registration_process.url, headers=AUTH) as api:
        for n in range(5):
            created = await api.post("/v1/customers", json=a_customer(f"rebuild-{n}-{uuid.uuid4().hex[:6]}@example.com"))
            assert created.status_code == 201, created.text
            customer_id = created.json()["customer_id"]
            customer_ids.append(customer_id)
            coverage = await api.post(f"/v1/customers/{customer_id}/coverages", json={"terms": {
                "payer_id": "payer-acme", "payer_kind": "insurer", "member_id": f"M{n}{uuid.uuid4().hex[:6]}",
                "priority": "primary", "subscriber": {"relationship": "self"}, "effective_from": "2026-01-01",
            }})
            assert coverage.status_code == 201, coverage.text
            if n % 2:
                ended = await api.post(
                    f"/v1/customers/{customer_id}/coverages/{coverage.json()['coverage_id']}/end",
                    json={"ended_on": "2026-06-30"},
                )
                assert ended.status_code == 200, ended.text
            flagged = await api.post(f"/v1/customers/{customer_id}/special-concerns",
                                     json={"note": "prefers letters", "flags_raised": ["hardship"]})
            assert flagged.status_code == 200, flagged.text

    dsn = f"{database_url}?search_path={registration_schema}"
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        async def live_model_caught_up() -> list[asyncpg.Record]:
            rows = await snapshot(pool, customer_ids)
            applied = sum(r["events_applied"] for r in rows)
            return rows if len(rows) == 5 and applied == 5 * 3 + 2 else []

        live = await eventually(live_model_caught_up, timeout=30, message="live search model incomplete")

        for source in ("kafka", "store"):
            rebuilt = await asyncio.to_thread(
                subprocess.run,
                [*PYTHON_MODULE, "services.registration.rebuild", "search", "--source", source],
                cwd=ROOT, env={**registration_process.environment_for_tools()},
                capture_output=True, text=True, timeout=120,
            )
            assert rebuilt.returncode == 0, rebuilt.stderr
            assert "rebuilt search" in rebuilt.stdout
            assert await snapshot(pool, customer_ids) == live, f"rebuild from {source} differs"
    finally:
        await pool.close()


async def snapshot(pool: asyncpg.Pool, customer_ids: list[str]) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM customer_search WHERE customer_id = ANY($1::text[]) ORDER BY customer_id", customer_ids
    )
