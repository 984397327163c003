"""The PostgreSQL event store (see migrations/001_event_store.sql for the why of the schema)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import orjson

from shared.db import connection_from
from shared.envelope import EventEnvelope
from shared.eventstore.model import ConcurrencyConflict, GlobalPosition, RecordedEvent

log = logging.getLogger(__name__)

# One statement per append, so an append outside a caller's transaction is a single round trip
# and atomic by itself. The expected version is checked against the stream's previous event: it
# must exist (no gaps) and come from this transaction or an older one, so a stream's versions and
# the global (xid, position) order always agree (within one transaction positions grow with the
# versions, so a use case may append to a stream more than once before it commits). A concurrent append of the same version
# trips the (stream_id, version) unique constraint. There is no NOTIFY in here: NOTIFY takes a
# database-wide lock from commit to the WAL flush and so serialises every appending transaction;
# the relay is woken after the fact instead (see _WakeUp).
_PREVIOUS_EVENT_IS_OLDER = """
    ($2::integer = 0 OR EXISTS (
        SELECT 1 FROM events
        WHERE stream_id = $1 AND version = $2 AND xid <= pg_current_xact_id()))
"""

_APPEND_ONE = f"""
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, subject,
                    occurred_at, correlation_id, causation_id, data)
SELECT $1, $2::integer + 1, $3, $4, $5, $6, $7, $8, $9, $10::jsonb
WHERE {_PREVIOUS_EVENT_IS_OLDER}
"""

_APPEND_MANY = f"""
INSERT INTO events (stream_id, version, event_id, event_type, schema_version, subject,
                    occurred_at, correlation_id, causation_id, data)
SELECT $1, $2::integer + e.ordinality, e.event_id, e.event_type, e.schema_version, e.subject,
       e.occurred_at, e.correlation_id, e.causation_id, e.data
FROM unnest($3::uuid[], $4::text[], $5::integer[], $6::text[], $7::timestamptz[], $8::text[],
            $9::text[], $10::jsonb[])
     WITH ORDINALITY AS e(event_id, event_type, schema_version, subject, occurred_at,
                          correlation_id, causation_id, data, ordinality)
WHERE {_PREVIOUS_EVENT_IS_OLDER}
"""


class _WakeUp:
    """Tells LISTENers (the relay) that events were appended, outside the appending transaction.

    Pokes within a few milliseconds become one NOTIFY sent on a pooled connection of its own. A
    poke from inside a caller's transaction may arrive before that commits; the relay looks again
    shortly after any wake-up, and polls anyway, so a wake-up is never needed for correctness."""

    def __init__(self, pool: asyncpg.Pool, channel: str, delay: float = 0.005) -> None:
        self.pool = pool
        self.channel = channel
        self.delay = delay
        self._pending: asyncio.Task[None] | None = None

    def poke(self) -> None:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        await asyncio.sleep(self.delay)
        try:
            async with self.pool.acquire() as conn:
                await conn.execute("SELECT pg_notify($1, '')", self.channel)
        except Exception:  # the pool may be closing; the relay polls anyway
            log.debug("wake-up notify on %s failed", self.channel, exc_info=True)


_COLUMNS = """position, xid::text AS xid, stream_id, version, event_id, event_type, schema_version,
              subject, occurred_at, correlation_id, causation_id, data::text AS data"""

# Only rows of transactions below the snapshot's xmin: those have all finished, so no row can
# still appear before the cursor. See the migration for the full argument. The price: xids are
# server-wide, so a long-open writing transaction in any database of the server holds back every
# reader (relays, projections) until it ends. Keep transactions short.
_READ_ALL = f"""
SELECT {_COLUMNS}
FROM events
WHERE (xid, position) > ($1::text::xid8, $2::bigint)
  AND xid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY events.xid, events.position  -- qualified: a bare "xid" would mean the text column above
LIMIT $3
"""

# Every committed row this statement can see, in the same order, including rows of transactions
# newer than one still open. Only for a reader that holds the tables it writes locked and reads
# once (a rebuild of inline read models): any writer still to come blocks on its lock and folds its
# own events after it, so none is missed; a reader that keeps a cursor must use _READ_ALL.
_READ_ALL_COMMITTED = f"""
SELECT {_COLUMNS}
FROM events
WHERE (xid, position) > ($1::text::xid8, $2::bigint)
ORDER BY events.xid, events.position
LIMIT $3
"""

_READ_STREAM = f"""
SELECT {_COLUMNS} FROM events WHERE stream_id = $1 AND version > $2 ORDER BY events.version
LIMIT $3
"""


def _record(row: asyncpg.Record, source: str) -> RecordedEvent:
    return RecordedEvent(
        global_position=GlobalPosition(int(row["xid"]), row["position"]),
        stream_id=row["stream_id"],
        version=row["version"],
        envelope=EventEnvelope(
            id=row["event_id"],
            type=row["event_type"],
            source=source,
            subject=row["subject"],
            time=row["occurred_at"],
            schema_version=row["schema_version"],
            data=orjson.loads(row["data"]),  # 3-4x faster than json: replay is bound by it
            correlation_id=row["correlation_id"],
            causation_id=row["causation_id"],
        ),
    )


class PostgresEventStore:
    """An append-only event store in the service's own database.

    ``source`` is the CloudEvents source of everything this service records (e.g.
    ``/billing/registration``); ``notify_channel`` is the LISTEN/NOTIFY channel that wakes the
    relay, which never relies on it for correctness."""

    def __init__(self, pool: asyncpg.Pool, *, source: str, notify_channel: str = "events") -> None:
        self.pool = pool
        self.source = source
        self.notify_channel = notify_channel
        self._wake_up = _WakeUp(pool, notify_channel)

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[EventEnvelope],
        *,
        connection: asyncpg.Connection | None = None,
    ) -> int:
        if not events:
            return expected_version
        if expected_version < 0:
            raise ValueError("expected_version cannot be negative")
        if len(events) == 1:
            [event] = events
            statement = _APPEND_ONE
            arguments: tuple[Any, ...] = (
                stream_id, expected_version, event.id, event.type, event.schema_version,
                event.subject, event.time, event.correlation_id, event.causation_id,
                orjson.dumps(event.data).decode(),
            )
        else:
            statement = _APPEND_MANY
            arguments = (
                stream_id,
                expected_version,
                [e.id for e in events],
                [e.type for e in events],
                [e.schema_version for e in events],
                [e.subject for e in events],
                [e.time for e in events],
                [e.correlation_id for e in events],
                [e.causation_id for e in events],
                [orjson.dumps(e.data).decode() for e in events],
            )
        try:
            async with connection_from(self.pool, connection) as conn:
                status = await conn.execute(statement, *arguments)
        except asyncpg.UniqueViolationError as violation:
            if violation.constraint_name == "events_stream_version":
                raise ConcurrencyConflict(stream_id, expected_version) from None
            raise
        if int(status.rsplit(" ", 1)[-1]) != len(events):  # "INSERT 0 <rows>"
            raise ConcurrencyConflict(stream_id, expected_version)
        self._wake_up.poke()
        return expected_version + len(events)

    async def read_stream(
        self,
        stream_id: str,
        after_version: int = 0,
        limit: int | None = None,
        *,
        connection: asyncpg.Connection | None = None,
    ) -> list[RecordedEvent]:
        async with connection_from(self.pool, connection) as conn:
            rows = await conn.fetch(_READ_STREAM, stream_id, after_version, limit)
        return [_record(row, self.source) for row in rows]

    async def stream_version(self, stream_id: str) -> int:
        version = await self.pool.fetchval(
            "SELECT max(version) FROM events WHERE stream_id = $1", stream_id
        )
        return int(version or 0)

    async def read_all(
        self,
        after: GlobalPosition = GlobalPosition.START,
        limit: int = 1000,
        *,
        connection: asyncpg.Connection | None = None,
        committed: bool = False,
    ) -> list[RecordedEvent]:
        """The next events in global order. ``committed``: every committed one visible, also
        those newer than a transaction still open (see _READ_ALL_COMMITTED for who may ask)."""
        async with connection_from(self.pool, connection) as conn:
            rows = await conn.fetch(
                _READ_ALL_COMMITTED if committed else _READ_ALL, str(after.xid), after.position, limit
            )
        return [_record(row, self.source) for row in rows]

    async def iterate_all(
        self,
        after: GlobalPosition = GlobalPosition.START,
        batch_size: int = 1000,
        *,
        connection: asyncpg.Connection | None = None,
        committed: bool = False,
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Every event visible now, in global order, in batches; ends when caught up."""
        cursor = after
        while True:
            batch = await self.read_all(cursor, batch_size, connection=connection, committed=committed)
            if not batch:
                return
            yield batch
            cursor = batch[-1].global_position
            if len(batch) < batch_size:
                return


class PostgresCheckpoints:
    """Where each reader of the global order has got to (the relay, local projections)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def load(self, name: str, *, connection: asyncpg.Connection | None = None) -> GlobalPosition:
        async with connection_from(self.pool, connection) as conn:
            row = await conn.fetchrow(
                "SELECT xid::text AS xid, position FROM checkpoints WHERE name = $1", name
            )
        return GlobalPosition(int(row["xid"]), row["position"]) if row else GlobalPosition.START

    async def save(
        self, name: str, at: GlobalPosition, *, connection: asyncpg.Connection | None = None
    ) -> None:
        async with connection_from(self.pool, connection) as conn:
            await conn.execute(
                """INSERT INTO checkpoints (name, xid, position, updated_at)
                   VALUES ($1, $2::text::xid8, $3, now())
                   ON CONFLICT (name) DO UPDATE
                   SET xid = EXCLUDED.xid, position = EXCLUDED.position, updated_at = now()""",
                name, str(at.xid), at.position,
            )
