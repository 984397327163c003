"""The registration app, built by its own bootstrap, against the real PostgreSQL and Kafka.

One app per test module: its own schema in the test database (named in the DSN, which asyncpg
turns into the connection's search_path) and its own search consumer group. The relay publishes
to the shared registration.events topic, which keeps every earlier run's events, so the group is
made to start at the topic's current end and each test finds its customers by unique names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.registration.adapters.delivery_events import TOPIC as INVOICING_TOPIC
from services.registration.domain.events import TOPIC
from services.registration.main import create_app
from services.registration.settings import RegistrationSettings
from shared.clock import FixedClock
from shared.http.auth import TokenGrant
from tests.kafka_groups import start_group_at_end
from tests.schemas import scratch_schema

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
WRITER_TOKEN = "crm-token-for-tests"
READER_TOKEN = "portal-token-for-tests"
READ, WRITE = "registration:read", "registration:write"


@dataclass(frozen=True)
class RunningService:
    """The running registration app as a test drives it: its HTTP client and its own schema."""

    api: httpx.AsyncClient
    app: FastAPI
    schema: str

    @property
    def pool(self) -> asyncpg.Pool:
        """The app's own pool, to check what it stored."""
        return self.app.state.pool


@pytest.fixture(scope="module")
async def service(database_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningService]:
    group_id = f"registration.search-projection.test-{uuid.uuid4().hex[:12]}"
    bounce_group = f"registration.bounce-feed.test-{uuid.uuid4().hex[:12]}"
    async with scratch_schema(database_url, "registration_api") as schema:
        await start_group_at_end(kafka_bootstrap, group_id, TOPIC)
        await start_group_at_end(kafka_bootstrap, bounce_group, INVOICING_TOPIC)
        settings = RegistrationSettings(
            environment="test",
            database_url=f"{database_url}?search_path={schema}",
            kafka_bootstrap_servers=kafka_bootstrap,
            search_consumer_group=group_id,
            search_dead_letter_topic="registration.search-projection.dlq",
            bounce_consumer_group=bounce_group,
            relay_poll_interval_seconds=0.2,
            api_tokens={
                WRITER_TOKEN: TokenGrant(system="crm", scopes=[READ, WRITE]),
                READER_TOKEN: TokenGrant(system="patient-portal", scopes=[READ]),
            },
        )
        app = create_app(settings, clock=FixedClock(NOW))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
                yield RunningService(api=api, app=app, schema=schema)
