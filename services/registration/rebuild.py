"""Operator tool: drop a registration read model and rebuild it from the log.

    python -m services.registration.rebuild search --source kafka
    python -m services.registration.rebuild search --source store
    python -m services.registration.rebuild identity-index

The service may keep running: a rebuild happens in one transaction, readers see the old model
until it commits, and the live consumer finds the rebuilt inbox and skips what it already holds."""

from __future__ import annotations

import argparse
import asyncio
import time

from services.registration.application.identity_index import IdentityIndex
from services.registration.application.search import CustomerSearchProjection
from services.registration.domain.events import SOURCE
from services.registration.settings import RegistrationSettings
from shared.db import create_pool
from shared.eventstore import PostgresEventStore
from shared.projections import rebuild_from_kafka, rebuild_from_store


async def rebuild(model: str, source: str, settings: RegistrationSettings) -> int:
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        if model == "identity-index":
            return await rebuild_from_store(IdentityIndex(), PostgresEventStore(pool, source=SOURCE))
        projection = CustomerSearchProjection()
        if source == "store":
            return await rebuild_from_store(projection, PostgresEventStore(pool, source=SOURCE))
        return await rebuild_from_kafka(
            projection, pool, bootstrap_servers=settings.kafka_bootstrap_servers,
            topics=[settings.events_topic], consumer_name=settings.search_consumer_group,
        )
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=["search", "identity-index"])
    parser.add_argument("--source", choices=["kafka", "store"], default="kafka",
                        help="where the search model is rebuilt from (the identity index always uses the store)")
    arguments = parser.parse_args()
    started = time.perf_counter()
    events = asyncio.run(rebuild(arguments.model, arguments.source, RegistrationSettings()))
    elapsed = time.perf_counter() - started
    print(f"rebuilt {arguments.model} from {events} events in {elapsed:.2f}s")


if __name__ == "__main__":
    main()
