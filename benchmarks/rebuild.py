"""Read-model rebuild rate: registration's search model rebuilt from the event store.

    .venv/bin/python -m benchmarks.rebuild [--customers 20000]

Seeds a fresh schema in the `bench` database with a realistic history (each customer: registered,
a coverage added, contact details changed, a special concern noted, and every third customer's
coverage ended), then rebuilds the search model from the store twice and reports events/s:

* bulk      -- what `python -m services.registration.rebuild search --source store` does: the
               projection's one fold in memory over the history, then one COPY;
* per-event -- the live path (`apply`: read the row, fold, upsert) for every event, as the
               baseline measured in the same run.
Both results are compared row for row; the benchmark fails if they differ.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime

import asyncpg

from services.registration.application.search import CustomerSearchProjection
from services.registration.domain import commands
from services.registration.domain.customer import Customer
from services.registration.domain.events import SOURCE, CoverageTerms
from services.registration.main import MIGRATIONS
from shared.db import migrate, migrations_in, platform_migrations
from shared.envelope import EventEnvelope
from shared.eventstore import PostgresEventStore
from shared.projections import rebuild_from_store

DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://bench:bench@127.0.0.1:5432/bench")
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def history_of(n: int) -> tuple[str, list[EventEnvelope]]:
    customer = Customer(f"cus_{uuid.uuid4().hex}")
    contact = commands.ContactDetailsInput(
        emails=[commands.EmailInput(address=f"c{n}@example.com")],
        phones=[commands.PhoneInput(number=f"+1555{n:07d}")],
        preferred_channel="email", consents={"email": True}, time_zone="America/Chicago",
    )
    decisions = [
        lambda c: Customer.register(
            commands.RegisterCustomer(kind="person", person_name={"given": "Pat", "family": f"Doe{n}"},
                                      date_of_birth="1980-01-01", contact=contact),
            customer_id=c.customer_id, now=NOW, possible_duplicates=[]),
        lambda c: c.add_coverage(commands.AddCoverage(terms=CoverageTerms(
            payer_id="acme", payer_kind="insurer", member_id=f"M{n}", priority="primary",
            subscriber={"relationship": "self"}, effective_from="2026-01-01")),
            coverage_id=f"cov_{n}", now=NOW),
        lambda c: c.change_contact_details(commands.ChangeContactDetails(contact=contact.model_copy(
            update={"phones": [commands.PhoneInput(number=f"+1666{n:07d}")]})), now=NOW),
        lambda c: c.note_special_concern(commands.NoteSpecialConcern(flags_raised=["hardship"]), now=NOW),
    ]
    if n % 3 == 0:
        decisions.append(lambda c: c.end_coverage(
            commands.EndCoverage(coverage_id=f"cov_{n}", ended_on="2026-06-30"), now=NOW))
    envelopes = []
    for decide in decisions:
        for event in decide(customer):
            customer.apply(event)
            envelopes.append(EventEnvelope.wrap(event, source=SOURCE, subject=customer.customer_id, time=NOW))
    return customer.customer_id, envelopes


class PerEvent:
    """The search projection without its bulk path: the live `apply`, event by event."""

    def __init__(self) -> None:
        self.inner = CustomerSearchProjection()
        self.name, self.tables, self.event_types = self.inner.name, self.inner.tables, self.inner.event_types

    async def apply(self, conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
        await self.inner.apply(conn, envelope)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=20000)
    arguments = parser.parse_args()
    schema = f"bench_rebuild_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    pool = await asyncpg.create_pool(DSN, min_size=4, max_size=8, server_settings={"search_path": schema})
    try:
        await migrate(pool, [*platform_migrations(), *migrations_in(MIGRATIONS, "registration")])
        store = PostgresEventStore(pool, source=SOURCE)
        seeded = 0
        started = time.perf_counter()
        histories = [history_of(n) for n in range(arguments.customers)]

        async def seed(part: list[tuple[str, list[EventEnvelope]]]) -> None:
            for stream_id, envelopes in part:
                await store.append(stream_id, 0, envelopes)

        await asyncio.gather(*(seed(histories[i::4]) for i in range(4)))
        # statistics as autovacuum would have gathered on a table that grew over time; without
        # them a freshly bulk-loaded table is read with a sort instead of its global-order index
        await pool.execute("ANALYZE events")
        seeded = sum(len(envelopes) for _, envelopes in histories)
        print(f"seeded {seeded} events for {arguments.customers} customers in {time.perf_counter() - started:.1f}s")

        results = {}
        snapshots = {}
        for name, projection in (("bulk", CustomerSearchProjection()), ("per-event", PerEvent())):
            started = time.perf_counter()
            events = await rebuild_from_store(projection, store)
            elapsed = time.perf_counter() - started
            results[name] = events / elapsed
            snapshots[name] = await pool.fetch("SELECT * FROM customer_search ORDER BY customer_id")
            print(f"{name:<10} {events} events in {elapsed:.2f}s = {events / elapsed:,.0f} events/s")
        assert snapshots["bulk"] == snapshots["per-event"], "bulk and per-event rebuilds differ"
        assert len(snapshots["bulk"]) == arguments.customers
        print(f"ratio bulk/per-event: {results['bulk'] / results['per-event']:.1f}x; rows identical")
    finally:
        await pool.close()
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
