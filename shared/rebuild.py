"""The operator's rebuild command every service offers (`python -m services.<name>.rebuild
<model>`): each read model is rebuilt from the service's own store or from Kafka topics, in one
transaction, while the service keeps running."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from shared.db import create_pool
from shared.eventstore import PostgresEventStore
from shared.projections import Projection, rebuild_from_kafka, rebuild_from_store
from shared.settings import PlatformSettings


@dataclass(frozen=True)
class FromStore:
    """A model folded from the service's own event store."""

    projection: Callable[[], Projection]


@dataclass(frozen=True)
class FromKafka:
    """A model folded from other services' topics, read from offset 0 (its consumer group's
    inbox entries are replaced, so the live consumer does not apply those events again)."""

    projection: Callable[[], Projection]
    topics: Sequence[str]
    group_setting: str  # the setting naming the live consumer group, e.g. "feeds_consumer_group"


Source = FromStore | FromKafka


async def rebuild(model: Source, settings: PlatformSettings, event_source: str) -> int:
    """Rebuild ``model``; the number of events it read."""
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        if isinstance(model, FromStore):
            return await rebuild_from_store(model.projection(), PostgresEventStore(pool, source=event_source))
        return await rebuild_from_kafka(
            model.projection(), pool, bootstrap_servers=settings.kafka_bootstrap_servers,
            topics=list(model.topics), consumer_name=getattr(settings, model.group_setting),
        )
    finally:
        await pool.close()


def rebuild_command(
    description: str, models: Mapping[str, Source], settings: Callable[[], PlatformSettings], event_source: str,
) -> None:
    """Parse ``<model>`` from the command line, rebuild it and say how long it took."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=list(models))
    arguments = parser.parse_args()
    started = time.perf_counter()
    events = asyncio.run(rebuild(models[arguments.model], settings(), event_source))
    print(f"rebuilt {arguments.model} from {events} events in {time.perf_counter() - started:.2f}s")
