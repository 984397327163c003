"""The platform's Kafka consumer: effectively-once processing into the service's database.

For each message, in one database transaction: record the event id in the inbox (a redelivered
event finds itself there and changes nothing) and apply it. Kafka offsets are committed only after
that transaction, so a crash in between redelivers, and the inbox absorbs the repeat.

A message we can never process (not a CloudEvent, not JSON, fails its schema, or keeps failing in
the handler) goes to the group's dead-letter topic with the reason and where it came from in its
headers, and the consumer carries on. An unavailable database is not the message's fault: that is
retried without end, never dead-lettered.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone

import asyncpg
import pydantic
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from shared import correlation
from shared.envelope import EventEnvelope, MalformedEnvelope
from shared.kafka import reliable_consumer

log = logging.getLogger(__name__)

EventHandler = Callable[[asyncpg.Connection, EventEnvelope], Awaitable[None]]

DLQ_HEADERS = (
    "dlq_reason",
    "dlq_original_topic",
    "dlq_original_partition",
    "dlq_original_offset",
    "dlq_consumer_group",
    "dlq_failed_at",
)


class PoisonEvent(Exception):
    """Raised by a handler for an event that no retry can fix; it is dead-lettered."""


class Outcome(enum.Enum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    DEAD_LETTERED = "dead_lettered"


_TRANSIENT = (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncio.TimeoutError)


def dead_letter_topic(group_id: str) -> str:
    return f"{group_id}.dlq"


async def record_in_inbox(
    conn: asyncpg.Connection, consumer: str, envelope: EventEnvelope, topic: str, partition: int, offset: int
) -> bool:
    """True when the event is new to this consumer; false for a redelivery."""
    inserted = await conn.fetchval(
        """INSERT INTO inbox (consumer, event_id, topic, kafka_partition, kafka_offset)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1""",
        consumer,
        envelope.id,
        topic,
        partition,
        offset,
    )
    return inserted is not None


class EventConsumer:
    """Consumes ``topics`` as consumer group ``group_id`` and applies each event with ``handler``.

    ``event_types`` limits which CloudEvents types reach the handler (others are acknowledged and
    skipped). ``max_attempts`` bounds retries of a handler that keeps raising something other
    than a connection problem before the message is dead-lettered."""

    def __init__(
        self,
        *,
        group_id: str,
        topics: Iterable[str],
        pool: asyncpg.Pool,
        bootstrap_servers: str,
        handler: EventHandler,
        producer: AIOKafkaProducer,
        event_types: Iterable[str] | None = None,
        dlq_topic: str | None = None,
        max_attempts: int = 5,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.group_id = group_id
        self.topics = tuple(topics)
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.handler = handler
        self.producer = producer
        self.event_types = frozenset(event_types) if event_types is not None else None
        self.dlq_topic = dlq_topic or dead_letter_topic(group_id)
        self.max_attempts = max_attempts
        self.on_outcome = on_outcome
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        """Consume until cancelled. A failure of the Kafka session (a rebalance that fails a
        commit, a broker restart) restarts it with backoff: what was applied but not committed
        comes again and the inbox absorbs it."""
        backoff = 0.5
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s failed; restarting in %.1fs", self.group_id, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    async def _consume(self) -> None:
        consumer = reliable_consumer(
            self.bootstrap_servers, *self.topics, group_id=self.group_id, client_id=self.group_id
        )
        await consumer.start()
        self._consumer = consumer
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                for partition, records in batches.items():
                    for record in records:
                        await self.process(record)
                    # Only now is the work durable; commit the next offset to read.
                    await consumer.commit({partition: records[-1].offset + 1})
        finally:
            self._consumer = None
            await consumer.stop()

    async def process(self, record: ConsumerRecord) -> Outcome:
        try:
            envelope = EventEnvelope.from_kafka(record.key, record.value, list(record.headers or ()))
        except MalformedEnvelope as error:
            return await self._dead_letter(record, f"malformed envelope: {error}")
        if self.event_types is not None and envelope.type not in self.event_types:
            return self._counted(Outcome.IGNORED)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._counted(await self._apply(record, envelope))
            except (PoisonEvent, pydantic.ValidationError) as error:
                return await self._dead_letter(record, f"{type(error).__name__}: {error}")
            except asyncio.CancelledError:
                raise
            except _TRANSIENT:
                log.warning("database or network unavailable; retrying %s", envelope.id, exc_info=True)
                await asyncio.sleep(min(0.2 * 2**min(attempt, 8), 30.0))
            except Exception as error:
                if attempt >= self.max_attempts:
                    return await self._dead_letter(
                        record, f"handler failed {attempt} times: {type(error).__name__}: {error}"
                    )
                log.warning("handler failed on %s (attempt %d)", envelope.id, attempt, exc_info=True)
                await asyncio.sleep(0.1 * 2**attempt)

    async def _apply(self, record: ConsumerRecord, envelope: EventEnvelope) -> Outcome:
        tokens = correlation.bind(envelope.correlation_id or str(envelope.id), str(envelope.id))
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                is_new = await record_in_inbox(
                    conn, self.group_id, envelope, record.topic, record.partition, record.offset
                )
                if not is_new:
                    return Outcome.DUPLICATE
                await self.handler(conn, envelope)
                return Outcome.PROCESSED
        finally:
            correlation.unbind(tokens)

    async def _dead_letter(self, record: ConsumerRecord, reason: str) -> Outcome:
        log.error(
            "dead-lettering %s[%d]@%d to %s: %s",
            record.topic, record.partition, record.offset, self.dlq_topic, reason,
        )
        original = [(k, v) for k, v in (record.headers or ()) if k not in DLQ_HEADERS]
        headers = original + [
            ("dlq_reason", reason[:4000].encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_consumer_group", self.group_id.encode()),
            ("dlq_failed_at", datetime.now(timezone.utc).isoformat().encode()),
        ]
        await self.producer.send_and_wait(
            self.dlq_topic, value=record.value, key=record.key, headers=headers
        )
        return self._counted(Outcome.DEAD_LETTERED)

    def _counted(self, outcome: Outcome) -> Outcome:
        if self.on_outcome:
            self.on_outcome(outcome)
        return outcome
