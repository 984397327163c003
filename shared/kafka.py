"""Kafka clients with the settings money needs.

aiokafka's defaults suit telemetry, not billing: it acknowledges on the leader alone, commits
offsets on a timer whether or not the work was done, and starts new groups at the end of a topic.
Every producer and consumer of the platform is built here so no service gets those defaults.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError

log = logging.getLogger(__name__)


def reliable_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    """Idempotent producer waiting for all in-sync replicas: no loss, no duplicates on retry, and
    per-partition order kept across retries."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=30_000,
    )


def reliable_consumer(
    bootstrap_servers: str, *topics: str, group_id: str | None, client_id: str
) -> AIOKafkaConsumer:
    """A consumer that commits only when told to (after its database transaction) and starts a new
    group from the beginning of the log, so nothing published before it first ran is missed."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=500,
    )


async def start_reliable_producer(
    bootstrap_servers: str, *, client_id: str, wait_for_broker_seconds: float = 60.0
) -> AIOKafkaProducer:
    """A started reliable producer. Services and the broker are often started together, so an
    unreachable broker is retried until the deadline rather than failing the first attempt."""
    deadline = asyncio.get_running_loop().time() + wait_for_broker_seconds
    while True:
        producer = reliable_producer(bootstrap_servers, client_id=client_id)
        try:
            await producer.start()
            return producer
        except KafkaConnectionError:
            await producer.stop()
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("Kafka at %s not reachable yet; retrying", bootstrap_servers)
            await asyncio.sleep(1.0)


async def topic_partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    """The partitions of ``topic``, in order; LookupError if the topic does not exist."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description["error_code"] != 0:
        raise LookupError(f"topic {topic} does not exist")
    return sorted(TopicPartition(topic, p["partition"]) for p in description["partitions"])


async def records_until_end(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition]
) -> AsyncIterator[ConsumerRecord]:
    """Every record of ``partitions`` from the consumer's position up to the end offsets they had
    when this was called, each partition in offset order; then it stops.

    The end is judged by the consumer's position, not by the offsets of returned records: a
    partition whose last records were deleted (retention, kafka-delete-records) or that ends in a
    transaction marker never returns a record at end - 1 and would otherwise be waited on for ever."""
    end_offsets = await consumer.end_offsets(partitions)
    remaining = {tp for tp in partitions if await consumer.position(tp) < end_offsets[tp]}
    while remaining:
        for tp, records in (await consumer.getmany(*remaining, timeout_ms=1000)).items():
            for record in records:
                if record.offset >= end_offsets[tp]:
                    break
                yield record
        remaining = {tp for tp in remaining if await consumer.position(tp) < end_offsets[tp]}
