"""The event store port and its PostgreSQL recorder."""

from shared.eventstore.model import (
    ConcurrencyConflict,
    EventStore,
    GlobalPosition,
    RecordedEvent,
)
from shared.eventstore.postgres import PostgresEventStore

__all__ = [
    "ConcurrencyConflict",
    "EventStore",
    "GlobalPosition",
    "PostgresEventStore",
    "RecordedEvent",
]
