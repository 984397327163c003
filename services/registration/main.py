"""Builds the registration service: wires settings, store, relay, consumer and routers.

This is the one place where real adapters are chosen; tests build the same graph with the same
function (real PostgreSQL and Kafka) and an injected clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI

from services.registration.adapters.customer_repository import PostgresCustomerRepository
from services.registration.api.errors import install_domain_problems
from services.registration.api.routes import router
from services.registration.application.handlers import Registration
from services.registration.application.identity_index import IdentityIndex
from services.registration.application.search import CustomerSearchProjection
from services.registration.consumers import search_model_consumer
from services.registration.domain.events import SOURCE
from services.registration.settings import RegistrationSettings
from shared.clock import Clock, SystemClock
from shared.db import create_pool, migrate, migrations_in, platform_migrations
from shared.eventstore import PostgresEventStore
from shared.http.app import create_service_app
from shared.http.health import kafka_client_check, postgres_check, readiness_of
from shared.http.metrics import PlatformMetrics
from shared.kafka import start_reliable_producer
from shared.relay import OutboxRelay

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION = "1.0.0"


def create_app(settings: RegistrationSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or RegistrationSettings()
    clock = clock or SystemClock()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics: PlatformMetrics = app.state.platform_metrics
        pool = await create_pool(settings.database_url, min_size=2, max_size=20)
        producer = None
        workers: list[asyncio.Task[None]] = []
        try:
            await migrate(pool, [*platform_migrations(), *migrations_in(MIGRATIONS, "registration")])
            store = PostgresEventStore(pool, source=SOURCE, notify_channel="registration_events")
            identities = IdentityIndex()
            app.state.pool = pool
            app.state.registration = Registration(
                customers=PostgresCustomerRepository(store, clock, inline_projections=[identities]),
                identities=identities,
                clock=clock,
            )
            producer = await start_reliable_producer(
                settings.kafka_bootstrap_servers, client_id=settings.service_name
            )
            readiness = readiness_of(app)
            readiness.add("database", postgres_check(pool))
            readiness.add("kafka", kafka_client_check(producer.client))
            if settings.run_background_workers:
                relay = OutboxRelay(
                    store=store, producer=producer, topic=settings.events_topic,
                    poll_interval=settings.relay_poll_interval_seconds,
                    on_published=lambda n: metrics.count_published(settings.events_topic, n),
                )
                consumer = search_model_consumer(
                    pool=pool, bootstrap_servers=settings.kafka_bootstrap_servers, producer=producer,
                    projection=CustomerSearchProjection(),
                    group_id=settings.search_consumer_group,
                    dead_letter_topic=settings.search_dead_letter_topic,
                    on_outcome=metrics.consumer_outcome_counter(
                        settings.search_consumer_group, settings.search_dead_letter_topic
                    ),
                )
                workers = [
                    asyncio.create_task(relay.run(), name="relay"),
                    asyncio.create_task(consumer.run(), name="search-consumer"),
                ]
            yield
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if producer is not None:
                await producer.stop()
            await pool.close()

    app = create_service_app(
        service_name=settings.service_name,
        version=VERSION,
        settings=settings,
        routers=[router],
        lifespan=lifespan,
        description="Customers, their contact details, special concerns and who pays for their services.",
    )
    install_domain_problems(app)
    return app
