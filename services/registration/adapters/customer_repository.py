"""Customers stored as event streams in the platform's event store, one stream per customer.

Saving appends the new events and, in the same transaction, updates the read models that must
never lag behind the write (the identity index used for duplicate detection)."""

from __future__ import annotations

from collections.abc import Sequence

from services.registration.domain.customer import Customer
from services.registration.domain.events import REGISTRATION_EVENTS, SOURCE
from shared.clock import Clock
from shared.eventstore import PostgresEventStore
from shared.eventstore.repository import EventSourcedRepository, StreamNotFound
from shared.projections import Projection


class CustomerNotFound(StreamNotFound):
    pass


class PostgresCustomerRepository(EventSourcedRepository[Customer]):
    """The stream id and the Kafka key are both the customer id."""

    def __init__(
        self, store: PostgresEventStore, clock: Clock, *, inline_projections: Sequence[Projection] = ()
    ) -> None:
        super().__init__(
            store, clock, REGISTRATION_EVENTS, Customer.fold, source=SOURCE,
            inline_projections=inline_projections, not_found=CustomerNotFound,
        )
