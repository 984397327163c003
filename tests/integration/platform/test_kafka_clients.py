"""Starting the platform's Kafka clients against a broker that is, or is not, there."""

from __future__ import annotations

import socket
import time

import pytest
from aiokafka.errors import KafkaConnectionError

from shared.kafka import start_reliable_producer

pytestmark = pytest.mark.integration


async def test_a_producer_starts_against_the_running_broker(kafka_bootstrap: str) -> None:
    producer = await start_reliable_producer(kafka_bootstrap, client_id="test-start", wait_for_broker_seconds=5)
    try:
        assert await producer.partitions_for("platform.test.events") == {0, 1, 2}
    finally:
        await producer.stop()


async def test_an_unreachable_broker_is_retried_until_the_deadline_then_refused() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()

    with pytest.raises(KafkaConnectionError):
        await start_reliable_producer(nowhere, client_id="test-start", wait_for_broker_seconds=1.5)

    assert time.monotonic() - started >= 1.5  # it kept trying rather than failing at once
