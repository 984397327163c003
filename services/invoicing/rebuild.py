"""Operator tool: drop an invoicing read model and rebuild it from the log.

    python -m services.invoicing.rebuild invoices     # from invoicing's store: invoices, statements
    python -m services.invoicing.rebuild charges      # and their deliveries
    python -m services.invoicing.rebuild crosswalks
    python -m services.invoicing.rebuild feeds        # from registration, eligibility and payments on Kafka

The service may keep running: a rebuild happens in one transaction and readers see the old model
until it commits. Rebuilding invoices keeps what was already delivered delivered (the InvoiceSent
and InvoiceDeliveryFailed events say so) and leaves the produced documents (837Ps, letters, invoice
numbers) alone. Rebuilding the feeds folds customers, coverages, payers, verifications and
estimates only: it moves no remittance on again and bills nothing."""

from __future__ import annotations

import argparse
import asyncio
import time

from services.invoicing.application.feeds import UpstreamFeed
from services.invoicing.application.read_models import (
    ChargeLedger,
    Crosswalks,
    InvoiceRegister,
)
from services.invoicing.consumers import TOPICS
from services.invoicing.domain.events import SOURCE
from services.invoicing.settings import InvoicingSettings
from shared.db import create_pool
from shared.eventstore import PostgresEventStore
from shared.projections import Projection, rebuild_from_kafka, rebuild_from_store

FROM_STORE: dict[str, type[Projection]] = {
    "invoices": InvoiceRegister,
    "charges": ChargeLedger,
    "crosswalks": Crosswalks,
}
MODELS = [*FROM_STORE, "feeds"]


async def rebuild(model: str, settings: InvoicingSettings) -> int:
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        if model in FROM_STORE:
            return await rebuild_from_store(FROM_STORE[model](), PostgresEventStore(pool, source=SOURCE))
        return await rebuild_from_kafka(
            UpstreamFeed(None), pool, bootstrap_servers=settings.kafka_bootstrap_servers,
            topics=list(TOPICS), consumer_name=settings.feeds_consumer_group,
        )
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", choices=MODELS)
    arguments = parser.parse_args()
    started = time.perf_counter()
    events = asyncio.run(rebuild(arguments.model, InvoicingSettings()))
    print(f"rebuilt {arguments.model} from {events} events in {time.perf_counter() - started:.2f}s")


if __name__ == "__main__":
    main()
