"""Read models: how they are kept up to date and how they are rebuilt.

A projection owns some tables and folds events into them. It can be fed from the service's own
event store (``StoreProjectionRunner``: the checkpoint moves in the same transaction as the rows)
or from Kafka through ``EventConsumer`` (the inbox plays the checkpoint's part). Either way it can
be dropped and rebuilt from the log, from the store or from offset 0 of its topics, and the
rebuilt tables equal the live ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Protocol, runtime_checkable

import asyncpg
import pydantic
from aiokafka import AIOKafkaConsumer

from shared.consumer import PoisonEvent, record_in_inbox
from shared.envelope import EventEnvelope, MalformedEnvelope
from shared.eventstore.model import GlobalPosition
from shared.eventstore.postgres import PostgresCheckpoints, PostgresEventStore
from shared.kafka import records_until_end, topic_partitions

log = logging.getLogger(__name__)


class Projection(Protocol):
    name: str
    tables: Sequence[str]  # the tables it owns and empties before a rebuild
    event_types: frozenset[str]

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None: ...


@runtime_checkable
class BulkRebuildable(Protocol):
    """A projection that can fold its whole history faster than event by event (e.g. in memory,
    then one COPY). Its result must equal what ``apply`` builds; rebuild tests hold it to that."""

    async def rebuild_in_bulk(
        self, conn: asyncpg.Connection, batches: AsyncIterator[list[EventEnvelope]]
    ) -> None: ...


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a rebuild holds many objects: event data is plain
    dicts and lists without cycles (reference counting frees them), and a collection every few
    hundred allocations that walks the whole growing model made rebuilds four times slower."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def checkpoint_name(projection: Projection) -> str:
    """Where a store-fed projection records how far it has folded."""
    return f"projection:{projection.name}"


async def _empty(conn: asyncpg.Connection, projection: Projection) -> None:
    tables = ", ".join('"' + table.replace('"', '""') + '"' for table in projection.tables)
    await conn.execute(f"TRUNCATE {tables}")


class StoreProjectionRunner:
    """Keeps ``projection`` up to date from the service's own event store."""

    def __init__(
        self, projection: Projection, store: PostgresEventStore, *, batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self.projection = projection
        self.store = store
        self.checkpoints = PostgresCheckpoints(store.pool)
        self.checkpoint_name = checkpoint_name(projection)
        self.batch_size = batch_size
        self.poll_interval = poll_interval

    async def catch_up(self) -> int:
        """Apply everything recorded since the checkpoint; returns how many events were read."""
        total = 0
        while True:
            async with self.store.pool.acquire() as conn, conn.transaction():
                # FOR UPDATE on the checkpoint row would serialise two runners; a unique name per
                # projection and one runner per service process is the deployment rule instead.
                cursor = await self.checkpoints.load(self.checkpoint_name, connection=conn)
                batch = await self.store.read_all(cursor, self.batch_size, connection=conn)
                if not batch:
                    return total
                for recorded in batch:
                    if recorded.envelope.type in self.projection.event_types:
                        await self.projection.apply(conn, recorded.envelope)
                await self.checkpoints.save(
                    self.checkpoint_name, batch[-1].global_position, connection=conn
                )
            total += len(batch)

    async def run(self) -> None:
        while True:
            try:
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("projection %s failed; retrying", self.projection.name)
            await asyncio.sleep(self.poll_interval)


async def rebuild_from_store(
    projection: Projection, store: PostgresEventStore, *, batch_size: int = 5000, fed_by_runner: bool = False,
) -> int:
    """Empty the projection and fold every event of the store into it again, in one transaction
    (readers see the old model until the new one is complete). Returns the events read.

    An inline read model (written in the same transaction as its events) gets every committed
    event: the tables are locked first, so every transaction that wrote them has ended and any
    still to come waits and folds its own events afterwards. One that a StoreProjectionRunner
    feeds (``fed_by_runner``) stops where the runner's cursor may safely stand, below the oldest
    transaction still open, and the runner folds the rest."""
    checkpoints = PostgresCheckpoints(store.pool)
    total = 0
    cursor = GlobalPosition.START
    async with store.pool.acquire() as conn, conn.transaction():
        await _empty(conn, projection)

        async def history() -> AsyncIterator[list[EventEnvelope]]:
            nonlocal cursor, total
            async for batch in store.iterate_all(
                batch_size=batch_size, connection=conn, committed=not fed_by_runner,
            ):
                cursor = batch[-1].global_position
                total += len(batch)
                yield [r.envelope for r in batch if r.envelope.type in projection.event_types]

        with cyclic_gc_paused():
            if isinstance(projection, BulkRebuildable):
                await projection.rebuild_in_bulk(conn, history())
            else:
                async for envelopes in history():
                    for envelope in envelopes:
                        await projection.apply(conn, envelope)
        await checkpoints.save(checkpoint_name(projection), cursor, connection=conn)
    return total


async def rebuild_from_kafka(
    projection: Projection,
    pool: asyncpg.Pool,
    *,
    bootstrap_servers: str,
    topics: Iterable[str],
    consumer_name: str,
) -> int:
    """Empty the projection and its inbox entries, then fold every event of ``topics`` from offset
    0 up to the end offsets seen at the start, in one transaction.

    The live consumer of the same name may keep running: it waits on the tables' lock, and the
    events it then receives are already in the rebuilt inbox, so they change nothing.

    The consumer's whole inbox is rebuilt, so a consumer group feeds exactly one projection."""
    reader = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        client_id=f"{consumer_name}.rebuild",
    )
    partitions = [tp for topic in topics for tp in await topic_partitions(bootstrap_servers, topic)]
    await reader.start()
    total = 0
    try:
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        async with pool.acquire() as conn, conn.transaction():
            await _empty(conn, projection)
            await conn.execute("DELETE FROM inbox WHERE consumer = $1", consumer_name)
            with cyclic_gc_paused():
                async for record in records_until_end(reader, partitions):
                    total += 1
                    try:
                        envelope = EventEnvelope.from_kafka(
                            record.key, record.value, list(record.headers or ())
                        )
                    except MalformedEnvelope:
                        continue  # the live consumer dead-lettered it; so does the rebuild
                    if envelope.type not in projection.event_types:
                        continue
                    if not await record_in_inbox(
                        conn, consumer_name, envelope, record.topic, record.partition, record.offset
                    ):
                        continue
                    try:
                        await projection.apply(conn, envelope)
                    except (PoisonEvent, pydantic.ValidationError):
                        # dead-lettered by the live consumer too; projections validate before
                        # they write, so only the inbox row needs undoing
                        await conn.execute(
                            "DELETE FROM inbox WHERE consumer = $1 AND event_id = $2",
                            consumer_name, envelope.id,
                        )
    finally:
        await reader.stop()
    return total
