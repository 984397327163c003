"""What every service's lifespan opens and closes the same way: its PostgreSQL pool (migrated), its
event store, its Kafka producer with readiness checks, and the background workers it runs (the
outbox relay, its consumers, anything else), cancelled and awaited on shutdown.

A service's ``main.py`` then only wires what is its own::

    async with service_runtime(app, settings, source=SOURCE, migrations=..., notify_channel=...) as runtime:
        app.state.registration = Registration(customers=..., clock=clock)
        runtime.run("relay", runtime.relay(settings.events_topic, settings.relay_poll_interval_seconds))
        runtime.run("search-consumer", search_model_consumer(runtime, settings))
        yield
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI

from shared.consumer import EventConsumer, EventHandler
from shared.db import Migration, create_pool, migrate
from shared.eventstore import PostgresEventStore
from shared.http.health import kafka_client_check, postgres_check, readiness_of
from shared.http.metrics import PlatformMetrics
from shared.kafka import start_reliable_producer
from shared.relay import OutboxRelay, Route
from shared.settings import PlatformSettings

log = logging.getLogger(__name__)


class Worker(Protocol):
    async def run(self) -> None: ...


class ConsumedProjection(Protocol):
    event_types: frozenset[str]

    @property
    def apply(self) -> EventHandler: ...


@dataclass
class ServiceRuntime:
    settings: PlatformSettings
    pool: asyncpg.Pool
    store: PostgresEventStore
    producer: AIOKafkaProducer
    metrics: PlatformMetrics
    workers: list[asyncio.Task[None]] = field(default_factory=list)

    def relay(
        self, topic: str, poll_interval: float, *, name: str = "relay", route: Route | None = None,
    ) -> OutboxRelay:
        """The outbox relay publishing this service's store to ``topic`` (or where ``route`` says)."""
        return OutboxRelay(
            store=self.store, producer=self.producer, topic=topic, poll_interval=poll_interval, name=name,
            route=route, on_published=lambda n: self.metrics.count_published(topic, n),
        )

    def consumer(
        self, *, group_id: str, dead_letter_topic: str, topics: Iterable[str], projection: ConsumedProjection,
    ) -> EventConsumer:
        """A consumer group folding ``topics`` into ``projection``, its outcomes counted in metrics."""
        return EventConsumer(
            group_id=group_id, dlq_topic=dead_letter_topic, topics=topics, pool=self.pool,
            bootstrap_servers=self.settings.kafka_bootstrap_servers, handler=projection.apply,
            producer=self.producer, event_types=projection.event_types,
            on_outcome=self.metrics.consumer_outcome_counter(group_id, dead_letter_topic),
        )

    def run(self, name: str, worker: Worker) -> None:
        """Run ``worker`` in the background until the service stops."""
        self.workers.append(asyncio.create_task(worker.run(), name=name))


@contextlib.asynccontextmanager
async def service_runtime(
    app: FastAPI, settings: PlatformSettings, *, source: str, migrations: Sequence[Migration], notify_channel: str,
) -> AsyncIterator[ServiceRuntime]:
    """Open the service's pool, store and producer, put the pool on ``app.state.pool``, register
    readiness checks; on exit cancel the workers and close everything, in reverse order."""
    pool = await create_pool(settings.database_url, min_size=2, max_size=20)
    producer: AIOKafkaProducer | None = None
    runtime: ServiceRuntime | None = None
    try:
        await migrate(pool, migrations)
        store = PostgresEventStore(pool, source=source, notify_channel=notify_channel)
        producer = await start_reliable_producer(settings.kafka_bootstrap_servers, client_id=settings.service_name)
        readiness = readiness_of(app)
        readiness.add("database", postgres_check(pool))
        readiness.add("kafka", kafka_client_check(producer.client))
        app.state.pool = pool
        runtime = ServiceRuntime(settings, pool, store, producer, app.state.platform_metrics)
        yield runtime
    finally:
        if runtime is not None:
            for worker in runtime.workers:
                worker.cancel()
            await asyncio.gather(*runtime.workers, return_exceptions=True)
        if producer is not None:
            await producer.stop()
        await pool.close()


class Every:
    """A worker that runs ``work`` every ``interval_seconds``; a failed run is logged and the
    next one runs on time."""

    def __init__(self, interval_seconds: float, work: Callable[[], Awaitable[object]], name: str) -> None:
        self.interval_seconds = interval_seconds
        self.work = work
        self.name = name

    async def run(self) -> None:
        while True:
            try:
                await self.work()
            except Exception:
                log.exception("%s failed", self.name)
            await asyncio.sleep(self.interval_seconds)
