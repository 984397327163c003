"""Kafka clients with the settings money needs.

aiokafka's defaults suit telemetry, not billing: it acknowledges on the leader alone, commits
offsets on a timer whether or not the work was done, and starts new groups at the end of a topic.
Every producer and consumer of the platform is built here so no service gets those defaults.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


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
