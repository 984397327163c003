"""The event store port and its PostgreSQL recorder."""

from shared.eventstore.model import (
    ConcurrencyConflict,
    EventStore,
    GlobalPosition,
    RecordedEvent,
    retry_on_conflict,
)
from shared.eventstore.postgres import PostgresEventStore

__all__ = [
    "ConcurrencyConflict",
    "EventStore",
    "GlobalPosition",
    "PostgresEventStore",
    "RecordedEvent",
    "retry_on_conflict",
]
