"""Aggregates stored as event streams: load by folding the stream, save by appending the new
events after the version that was loaded, and update the inline read models (those that must
never lag behind a write) in the same transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar

import asyncpg

from shared import correlation
from shared.clock import Clock
from shared.envelope import EventEnvelope
from shared.events import DomainEvent, EventRegistry
from shared.eventstore.model import ConcurrencyConflict, RecordedEvent
from shared.eventstore.postgres import PostgresEventStore
from shared.projections import Projection


class Aggregate(Protocol):
    version: int

    def apply(self, event: DomainEvent) -> None: ...


A = TypeVar("A", bound=Aggregate)


class StreamNotFound(LookupError):
    """No events were ever recorded in the stream."""


class EventSourcedRepository(Generic[A]):
    """Loads and saves one kind of aggregate by its id; ``fold(aggregate_id, events)`` rebuilds it.

    The stream of aggregate ``x`` is ``stream_prefix + x``: a prefix keeps the streams of kinds
    whose ids could collide (a payer and a coverage) apart in one store."""

    def __init__(
        self,
        store: PostgresEventStore,
        clock: Clock,
        registry: EventRegistry,
        fold: Callable[[str, Iterable[DomainEvent]], A],
        *,
        source: str,
        inline_projections: Sequence[Projection] = (),
        not_found: type[StreamNotFound] = StreamNotFound,
        stream_prefix: str = "",
    ) -> None:
        self.store = store
        self.clock = clock
        self.registry = registry
        self.fold = fold
        self.source = source
        self.inline_projections = inline_projections
        self.not_found = not_found
        self.stream_prefix = stream_prefix

    async def history(self, aggregate_id: str, after_version: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        return await self.store.read_stream(self.stream_prefix + aggregate_id, after_version, limit)

    async def get(
        self, aggregate_id: str, *, connection: asyncpg.Connection | None = None, expected_version: int | None = None,
    ) -> A:
        """The aggregate; ``not_found`` (a StreamNotFound) when it has no events."""
        aggregate = await self.get_or_new(aggregate_id, connection=connection)
        if aggregate.version == 0:
            raise self.not_found(aggregate_id)
        return self._pinned(aggregate_id, aggregate, expected_version)

    async def get_or_new(
        self, aggregate_id: str, *, connection: asyncpg.Connection | None = None, expected_version: int | None = None,
    ) -> A:
        """The aggregate, or a new one at version 0 when the stream is empty. ``expected_version``
        (a caller's If-Match): ConcurrencyConflict unless the aggregate is at that version."""
        recorded = await self.store.read_stream(self.stream_prefix + aggregate_id, connection=connection)
        aggregate = self.fold(
            aggregate_id, (self.registry.decode(r.envelope.type, r.envelope.data) for r in recorded)
        )
        return self._pinned(aggregate_id, aggregate, expected_version)

    @staticmethod
    def _pinned(aggregate_id: str, aggregate: A, expected_version: int | None) -> A:
        if expected_version is not None and aggregate.version != expected_version:
            raise ConcurrencyConflict(aggregate_id, expected_version)
        return aggregate

    async def save(
        self, aggregate_id: str, aggregate: A, events: Sequence[DomainEvent], *,
        subject: str | Callable[[DomainEvent], str], connection: asyncpg.Connection,
    ) -> list[EventEnvelope]:
        """Append ``events`` after the version ``aggregate`` was loaded at, update the inline
        read models, then fold the events in. ``subject`` is the Kafka key (the customer id), or
        a function giving each event's when they concern different customers."""
        if not events:
            return []
        subject_of = subject if callable(subject) else (lambda _: subject)
        envelopes = [
            EventEnvelope.wrap(
                event, source=self.source, subject=subject_of(event), time=self.clock.now(),
                correlation_id=correlation.current_correlation_id(),
                causation_id=correlation.current_causation_id(),
            )
            for event in events
        ]
        await self.store.append(self.stream_prefix + aggregate_id, aggregate.version, envelopes, connection=connection)
        for envelope in envelopes:
            for projection in self.inline_projections:
                if envelope.type in projection.event_types:
                    await projection.apply(connection, envelope)
        for event in events:
            aggregate.apply(event)
        return envelopes
