"""The relay: publishes committed events from the service's event table (its outbox) to Kafka.

Order: events are read in the store's global order and sent through one idempotent producer, so
each key's events reach their partition in the order they were recorded. Loss: the checkpoint moves
only after the broker acknowledged every event before it; a crash anywhere before that republishes
the batch (consumers deduplicate by event id), it never skips one. LISTEN/NOTIFY only shortens the
wait: a missed notification costs at most one poll interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.envelope import EventEnvelope
from shared.eventstore.model import RecordedEvent
from shared.eventstore.postgres import PostgresCheckpoints, PostgresEventStore

# Where each recorded event goes: (topic, envelope) pairs; none for an event the relay skips.
Route = Callable[[RecordedEvent], Sequence[tuple[str, EventEnvelope]]]

log = logging.getLogger(__name__)

_REREAD_AFTER_NOTIFY = 0.05  # seconds; doubles on each empty read up to the poll interval


class OutboxRelay:
    def __init__(
        self,
        *,
        store: PostgresEventStore,
        producer: AIOKafkaProducer,
        topic: str,
        name: str = "relay",
        batch_size: int = 500,
        poll_interval: float = 1.0,
        on_published: Callable[[int], None] | None = None,
        route: Route | None = None,
    ) -> None:
        """``route`` publishes other messages than the events themselves (e.g. a translation of
        some of them for an outside party, on topics of its own); by default each event goes to
        ``topic`` as it was recorded. ``name`` and ``topic`` name the relay's checkpoint."""
        self.store = store
        self.producer = producer
        self.topic = topic
        self.checkpoints = PostgresCheckpoints(store.pool)
        self.checkpoint_name = f"{name}:{topic}"
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_published = on_published
        self._wake = asyncio.Event()
        self.route: Route = route or (lambda recorded: [(self.topic, recorded.envelope)])

    async def publish_pending(self) -> int:
        """Publish everything committed and not yet acknowledged; returns how many were sent."""
        total = 0
        cursor = await self.checkpoints.load(self.checkpoint_name)
        while True:
            batch = await self.store.read_all(cursor, self.batch_size)
            if not batch:
                return total
            deliveries = [
                await self.producer.send(
                    topic, value=envelope.kafka_value(), key=envelope.kafka_key(), headers=envelope.kafka_headers(),
                )
                for recorded in batch
                for topic, envelope in self.route(recorded)
            ]
            await asyncio.gather(*deliveries)  # raises if any was not acknowledged
            cursor = batch[-1].global_position
            await self.checkpoints.save(self.checkpoint_name, cursor)
            total += len(batch)
            if self.on_published:
                self.on_published(len(batch))

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _woken_within(self, timeout: float) -> bool:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
        # arrives as the wake-up does, and the relay would then outlive its service's shutdown.
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
            return True
        except TimeoutError:
            return False

    async def run(self) -> None:
        """Publish until cancelled; errors are logged and retried with backoff, never skipped."""
        listener: asyncpg.Connection | None = None
        backoff = 0.5
        wait = self.poll_interval
        try:
            while True:
                try:
                    if listener is None or listener.is_closed():
                        listener = await self.store.pool.acquire()
                        await listener.add_listener(self.store.notify_channel, self._notified)
                    self._wake.clear()
                    published = await self.publish_pending()
                    backoff = 0.5
                    # A NOTIFY arrives at commit, but the store hands the event out only once every
                    # older transaction on the server has ended, and their ends are not notified.
                    # So after a notification look again soon, then less and less often.
                    if await self._woken_within(wait):
                        wait = min(_REREAD_AFTER_NOTIFY, self.poll_interval)
                    elif not published:
                        wait = min(wait * 2, self.poll_interval)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("relay to %s failed; retrying in %.1fs", self.topic, backoff)
                    if listener is not None:
                        await self._release(listener)
                        listener = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 30.0)
        finally:
            if listener is not None:
                await self._release(listener)

    async def _release(self, listener: asyncpg.Connection) -> None:
        try:
            await listener.remove_listener(self.store.notify_channel, self._notified)
        except Exception:  # the connection may already be gone
            pass
        await self.store.pool.release(listener)
