"""Customers stored as event streams in the platform's event store.

Saving appends the new events and, in the same transaction, updates the read models that must
never lag behind the write (the identity index used for duplicate detection)."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.registration.domain.customer import Customer
from services.registration.domain.events import REGISTRATION_EVENTS, SOURCE
from shared import correlation
from shared.clock import Clock
from shared.envelope import EventEnvelope
from shared.events import DomainEvent
from shared.eventstore import PostgresEventStore, RecordedEvent
from shared.projections import Projection


class CustomerNotFound(LookupError):
    pass


class PostgresCustomerRepository:
    def __init__(
        self, store: PostgresEventStore, clock: Clock, *, inline_projections: Sequence[Projection] = ()
    ) -> None:
        self.store = store
        self.clock = clock
        self.inline_projections = inline_projections

    async def history(self, customer_id: str, after_version: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        return await self.store.read_stream(customer_id, after_version, limit)

    async def get(self, customer_id: str, *, connection: asyncpg.Connection | None = None) -> Customer:
        recorded = await self.store.read_stream(customer_id, connection=connection)
        if not recorded:
            raise CustomerNotFound(customer_id)
        return Customer.fold(
            customer_id, (REGISTRATION_EVENTS.decode(r.envelope.type, r.envelope.data) for r in recorded)
        )

    async def save(
        self, customer: Customer, events: Sequence[DomainEvent], *, connection: asyncpg.Connection
    ) -> None:
        """Append ``events`` after the version ``customer`` was loaded at, then fold them in."""
        if not events:
            return
        envelopes = [
            EventEnvelope.wrap(
                event,
                source=SOURCE,
                subject=customer.customer_id,
                time=self.clock.now(),
                correlation_id=correlation.current_correlation_id(),
                causation_id=correlation.current_causation_id(),
            )
            for event in events
        ]
        await self.store.append(customer.customer_id, customer.version, envelopes, connection=connection)
        for envelope in envelopes:
            for projection in self.inline_projections:
                if envelope.type in projection.event_types:
                    await projection.apply(connection, envelope)
        for event in events:
            customer.apply(event)
