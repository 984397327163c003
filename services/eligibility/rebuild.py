"""Operator tool: drop an eligibility read model and rebuild it from the log.

    python -m services.eligibility.rebuild payers            # from eligibility's store
    python -m services.eligibility.rebuild checks
    python -m services.eligibility.rebuild program-determinations
    python -m services.eligibility.rebuild estimates
    python -m services.eligibility.rebuild registration-feed # from registration.events on Kafka

The service may keep running: a rebuild happens in one transaction and readers see the old model
until it commits. Rebuilding the check ledger resets the verifier's retry bookkeeping (attempts,
next try, lease) of pending checks, which are then simply tried again; the raw X12 exchanges are
kept. Rebuilding the registration feed folds customers and coverages only: it asks no payer again."""

from __future__ import annotations

import argparse
import asyncio
import time

from services.eligibility.adapters.registration_events import TOPIC as REGISTRATION_TOPIC
from services.eligibility.application.read_models import (
    CheckLedger,
    Estimates,
    PayerDirectory,
    ProgramDeterminations,
)
from services.eligibility.application.registration_feed import RegistrationFeed
from services.eligibility.domain.events import SOURCE
from services.eligibility.settings import EligibilitySettings
from shared.clock import SystemClock
from shared.db import create_pool
from shared.eventstore import PostgresEventStore
from shared.projections import Projection, rebuild_from_kafka, rebuild_from_store

FROM_STORE: dict[str, type[Projection]] = {
    "payers": PayerDirectory,
    "checks": CheckLedger,
    "program-determinations": ProgramDeterminations,
    "estimates": Estimates,
}
MODELS = [*FROM_STORE, "registration-feed"]


async def rebuild(model: str, settings: EligibilitySettings) -> int:
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        if model in FROM_STORE:
            return await rebuild_from_store(FROM_STORE[model](), PostgresEventStore(pool, source=SOURCE))
        return await rebuild_from_kafka(
            RegistrationFeed(None, SystemClock()), pool, bootstrap_servers=settings.kafka_bootstrap_servers,
            topics=[REGISTRATION_TOPIC], consumer_name=settings.registration_consumer_group,
        )
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=MODELS)
    arguments = parser.parse_args()
    started = time.perf_counter()
    events = asyncio.run(rebuild(arguments.model, EligibilitySettings()))
    print(f"rebuilt {arguments.model} from {events} events in {time.perf_counter() - started:.2f}s")


if __name__ == "__main__":
    main()
