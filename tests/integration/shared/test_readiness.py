"""The readiness checks against the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncpg
import pytest

from shared.http.health import ReadinessChecks, kafka_check, postgres_check

pytestmark = pytest.mark.integration


async def test_reachable_postgres_and_kafka_are_ready(schema_pool: asyncpg.Pool, kafka_bootstrap):
    checks = ReadinessChecks(
        {"database": postgres_check(schema_pool), "kafka": kafka_check(kafka_bootstrap)}
    )

    all_ok, report = await checks.run()

    assert all_ok, report
    assert report == {"database": {"status": "ok"}, "kafka": {"status": "ok"}}


async def test_an_unreachable_kafka_is_not_ready():
    # port 9 (discard) has no listener here: the connection is refused at once
    all_ok, report = await ReadinessChecks({"kafka": kafka_check("127.0.0.1:9")}).run()

    assert not all_ok
    assert report["kafka"] == {"status": "failing", "error": "KafkaConnectionError"}
