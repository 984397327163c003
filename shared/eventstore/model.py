"""What an event store promises, independent of the database behind it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, TypeVar

from shared.envelope import EventEnvelope

T = TypeVar("T")


class ConcurrencyConflict(Exception):
    """The stream is not at the expected version: someone else appended first. Nothing was written;
    reload the aggregate and decide again."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id} is not at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


@dataclass(frozen=True, order=True)
class GlobalPosition:
    """A place in the global order: (transaction id, position), compared in that order."""

    xid: int
    position: int

    START: ClassVar[GlobalPosition]


GlobalPosition.START = GlobalPosition(0, 0)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the store holds it: where it stands globally and in its stream."""

    global_position: GlobalPosition
    stream_id: str
    version: int
    envelope: EventEnvelope


class EventStore(Protocol):
    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[EventEnvelope],
        *,
        connection: Any = None,
    ) -> int:
        """Append ``events`` after version ``expected_version`` of the stream, atomically; returns
        the stream's new version or raises ConcurrencyConflict having written nothing."""
        ...

    async def read_stream(
        self, stream_id: str, after_version: int = 0, limit: int | None = None, *, connection: Any = None
    ) -> list[RecordedEvent]: ...

    async def read_all(
        self, after: GlobalPosition = GlobalPosition.START, limit: int = 1000
    ) -> list[RecordedEvent]:
        """The next events in global order; never skips one that a later call could return."""
        ...

    def iterate_all(
        self, after: GlobalPosition = GlobalPosition.START, batch_size: int = 1000, *, connection: Any = None
    ) -> AsyncIterator[list[RecordedEvent]]: ...


async def retry_on_conflict(
    attempt: Callable[[], Awaitable[T]], *, attempts: int = 3
) -> T:
    """Run ``attempt`` again (each time in a new transaction) while a concurrent writer got to the
    stream first. For callers that did not pin a version (no If-Match): re-deciding on the fresh
    state is what they asked for."""
    for _ in range(attempts - 1):
        try:
            return await attempt()
        except ConcurrencyConflict:
            pass
    return await attempt()
