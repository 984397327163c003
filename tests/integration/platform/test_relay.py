"""The outbox relay between the real PostgreSQL event store and the real Kafka broker."""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerClosed

from shared.envelope import EventEnvelope
from shared.eventstore import GlobalPosition, PostgresEventStore, RecordedEvent
from shared.eventstore.postgres import PostgresCheckpoints
from shared.kafka import reliable_producer
from shared.relay import OutboxRelay
from tests.integration.platform.conftest import SOURCE, TEST_TOPIC
from tests.polling import eventually

pytestmark = pytest.mark.integration


class ProducerThatDies:
    """Passes the first ``sends_before_dying`` sends to a real producer, then fails every send:
    a relay process that crashes part-way through a batch."""

    def __init__(self, producer: AIOKafkaProducer, sends_before_dying: int) -> None:
        self.producer = producer
        self.sends_left = sends_before_dying

    async def send(self, topic: str, **message: object) -> asyncio.Future:
        if self.sends_left == 0:
            raise ConnectionError("relay process died")
        self.sends_left -= 1
        return await self.producer.send(topic, **message)


async def append_one_stream_per_customer(
    store: PostgresEventStore, events: list[EventEnvelope]
) -> None:
    """Append ``events`` one at a time, each to its customer's stream, in the order given."""
    versions: dict[str, int] = {}
    for event in events:
        version = versions.get(event.subject, 0)
        versions[event.subject] = await store.append(event.subject, version, [event])


async def test_appended_events_reach_the_topic_keyed_by_customer_in_order_with_cloudevents_headers(
    store, readable, producer, tail_topic, new_event, keyed, record_headers, run_id
) -> None:
    customers = [f"{run_id}-customer-{i}" for i in range(3)]
    events = [new_event(customers[n % 3], n) for n in range(12)]  # interleaved customers
    await append_one_stream_per_customer(store, events)
    await readable(12)
    tail = await tail_topic(TEST_TOPIC)
    relay = OutboxRelay(store=store, producer=producer, topic=TEST_TOPIC, name=f"relay-{run_id}")

    assert await relay.publish_pending() == 12

    records = await tail.collect(keyed(customers), 12)
    by_customer: dict[bytes, list[int]] = defaultdict(list)
    for record in records:
        by_customer[record.key].append(json.loads(record.value)["n"])
    assert by_customer == {
        c.encode(): [e.data["n"] for e in events if e.subject == c] for c in customers
    }
    assert all(len({r.partition for r in records if r.key == c.encode()}) == 1 for c in customers)

    sent = {e.id: e for e in events}
    for record in records:
        headers = record_headers(record)
        original = sent[EventEnvelope.from_kafka(record.key, record.value, record.headers).id]
        assert headers["ce_id"] == str(original.id)
        assert headers["ce_type"] == "billing.test.Counted"
        assert headers["ce_source"] == store.source
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_subject"] == original.subject == record.key.decode()
        assert headers["ce_time"] == original.time.isoformat()
        assert headers["content-type"] == "application/json"
        assert headers["ce_correlationid"] == original.correlation_id
        assert EventEnvelope.from_kafka(record.key, record.value, record.headers) == original

    assert await relay.publish_pending() == 0  # the checkpoint remembers what was acknowledged


async def test_a_crash_mid_batch_keeps_the_checkpoint_at_the_last_acked_batch_and_loses_nothing(
    store, readable, producer, tail_topic, new_event, keyed, run_id
) -> None:
    customer = f"{run_id}-customer"
    events = [new_event(customer, n) for n in range(1, 6)]
    await append_one_stream_per_customer(store, events)
    await readable(5)
    recorded = await store.read_all()
    tail = await tail_topic(TEST_TOPIC)
    name = f"relay-{run_id}"
    crashing = OutboxRelay(
        store=store,
        producer=ProducerThatDies(producer, 3),
        topic=TEST_TOPIC,
        name=name,
        batch_size=2,
    )

    with pytest.raises(ConnectionError):
        await crashing.publish_pending()  # batch [1, 2] acknowledged; 3 sent, then the crash

    checkpoints = PostgresCheckpoints(store.pool)
    assert await checkpoints.load(crashing.checkpoint_name) == recorded[1].global_position

    restarted = OutboxRelay(
        store=store, producer=producer, topic=TEST_TOPIC, name=name, batch_size=2
    )
    assert await restarted.publish_pending() == 3

    records = await tail.collect(keyed([customer]), 6)
    assert [json.loads(r.value)["n"] for r in records] == [1, 2, 3, 3, 4, 5]  # a duplicate, no gap
    assert await checkpoints.load(restarted.checkpoint_name) == recorded[-1].global_position


async def test_a_relay_whose_producer_is_gone_publishes_nothing_and_a_fresh_relay_catches_up(
    store, readable, producer, kafka_bootstrap, tail_topic, new_event, keyed, run_id
) -> None:
    def relay_through(producer: AIOKafkaProducer) -> OutboxRelay:
        return OutboxRelay(store=store, producer=producer, topic=TEST_TOPIC, name=f"relay-{run_id}")

    customer = f"{run_id}-customer"
    tail = await tail_topic(TEST_TOPIC)
    await store.append(customer, 0, [new_event(customer, 1)])
    await readable(1)
    assert await relay_through(producer).publish_pending() == 1
    checkpoints = PostgresCheckpoints(store.pool)
    before_crash = await checkpoints.load(relay_through(producer).checkpoint_name)
    assert before_crash != GlobalPosition.START

    stopped = reliable_producer(kafka_bootstrap, client_id=f"stopped-{run_id}")
    await stopped.start()
    await stopped.partitions_for(TEST_TOPIC)  # metadata cached, so send fails fast once stopped
    await stopped.stop()
    await store.append(customer, 1, [new_event(customer, 2), new_event(customer, 3)])
    await readable(3)

    with pytest.raises(ProducerClosed):
        await relay_through(stopped).publish_pending()
    assert await checkpoints.load(relay_through(producer).checkpoint_name) == before_crash

    assert await relay_through(producer).publish_pending() == 2
    records = await tail.collect(keyed([customer]), 3)
    assert [json.loads(r.value)["n"] for r in records] == [1, 2, 3]


async def test_the_running_relay_is_woken_by_notify_long_before_its_poll_interval(
    store, readable, producer, tail_topic, new_event, keyed, run_id
) -> None:
    customer = f"{run_id}-customer"
    tail = await tail_topic(TEST_TOPIC)
    relay = OutboxRelay(
        store=store, producer=producer, topic=TEST_TOPIC, name=f"relay-{run_id}", poll_interval=30
    )
    await store.append(customer, 0, [new_event(customer, 1)])
    await readable(1)  # so the first pass publishes it, without help from NOTIFY
    running = asyncio.create_task(relay.run())
    try:
        await tail.collect(keyed([customer]), 1)  # its first pass is done; now it waits

        appended_at = time.monotonic()
        await store.append(customer, 1, [new_event(customer, 2)])
        records = await tail.collect(keyed([customer]), 2, timeout=5)
        latency = time.monotonic() - appended_at
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    assert [json.loads(r.value)["n"] for r in records] == [1, 2]
    assert latency < 5, f"took {latency:.1f}s: the relay slept through the NOTIFY"


class WatchedStore(PostgresEventStore):
    """The event store, counting the reads of the global order that found nothing to hand out."""

    empty_reads = 0

    async def read_all(self, *args: Any, **kwargs: Any) -> list[RecordedEvent]:
        batch = await super().read_all(*args, **kwargs)
        self.empty_reads += not batch
        return batch

    async def came_back_empty(self, times: int) -> bool:
        return self.empty_reads >= times


async def test_an_event_held_back_by_an_older_transaction_is_published_soon_after_that_ends(
    schema_pool, producer, tail_topic, new_event, keyed, run_id
) -> None:
    """The NOTIFY comes at commit, but the store hands an event out only once every older
    transaction has ended (anywhere on the server, another service's database included). Their
    ends send no NOTIFY, and the relay must not wait a whole poll interval for them."""
    store = WatchedStore(schema_pool, source=SOURCE)
    customer = f"{run_id}-customer"
    tail = await tail_topic(TEST_TOPIC)
    relay = OutboxRelay(
        store=store, producer=producer, topic=TEST_TOPIC, name=f"relay-{run_id}", poll_interval=30
    )
    running = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: store.came_back_empty(1), message="the relay's first pass")
        async with schema_pool.acquire() as older:
            transaction = older.transaction()
            await transaction.start()
            await older.fetchval("SELECT pg_current_xact_id()")  # it now holds back the horizon
            await store.append(customer, 0, [new_event(customer, 1)])
            await eventually(lambda: store.came_back_empty(2), message="the notified pass")
            await transaction.rollback()
        ended_at = time.monotonic()

        await tail.collect(keyed([customer]), 1, timeout=5)
        latency = time.monotonic() - ended_at
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running

    assert latency < 5, f"took {latency:.1f}s after the older transaction ended"
