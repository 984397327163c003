"""Fixtures for the platform's Kafka tests.

The test topics keep every message of every earlier run, and other runs may publish to them at the
same time, so nothing here reads a topic from its beginning: a tail starts at the end offsets it
found when opened, a consumer group starts where the topic ended when the group was made, and each
test picks out its own messages by unique key or event id."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime, timezone

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import RecordMetadata

from shared.consumer import EventConsumer
from shared.envelope import EventEnvelope
from shared.eventstore import PostgresEventStore
from shared.kafka import reliable_producer, topic_partitions
from tests.kafka_groups import commit_group_offsets
from tests.polling import eventually

TEST_TOPIC = "platform.test.events"
TEST_DLQ = "platform.test.events.dlq"
SOURCE = "/billing/platform-tests"


@pytest.fixture(scope="session")
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = reliable_producer(kafka_bootstrap, client_id="platform-tests")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@pytest.fixture
def store(schema_pool: asyncpg.Pool) -> PostgresEventStore:
    return PostgresEventStore(schema_pool, source=SOURCE)


@pytest.fixture
def readable(store: PostgresEventStore) -> Callable[[int], Awaitable[None]]:
    """Wait until the store hands out ``count`` events in its global order. A committed event is
    handed out only once every older transaction on the server has ended, and other tests, other
    services' databases or a benchmark may share this server."""

    async def wait_until(count: int) -> None:
        async def handed_out() -> bool:
            return len(await store.read_all(limit=count + 1)) >= count

        await eventually(handed_out, message=f"{count} events readable in the global order")

    return wait_until


@pytest.fixture
def run_id() -> str:
    """Unique per test: the prefix of its subjects, consumer groups and event types."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def new_event() -> Callable[..., EventEnvelope]:
    """An envelope for ``subject`` whose data is ``{"n": n}``."""

    def build(
        subject: str, n: int = 0, *, event_type: str = "billing.test.Counted"
    ) -> EventEnvelope:
        return EventEnvelope(
            id=uuid.uuid4(),
            type=event_type,
            source=SOURCE,
            subject=subject,
            time=datetime(2026, 1, 1, 9, 30, n % 60, tzinfo=timezone.utc),
            schema_version=1,
            data={"n": n},
            correlation_id=f"corr-{subject}",
        )

    return build


@pytest.fixture(scope="session")
async def kafka_admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


class TopicTail:
    """Reads a topic from the end offsets it had when opened: only what was published since."""

    def __init__(self, reader: AIOKafkaConsumer) -> None:
        self.reader = reader
        self.seen: list[ConsumerRecord] = []

    @classmethod
    async def open(cls, bootstrap: str, partitions: list[TopicPartition]) -> TopicTail:
        reader = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        await reader.start()
        reader.assign(partitions)
        # Seek to explicit offsets: seek_to_end resolves lazily and could skip what is sent next.
        for partition, end in (await reader.end_offsets(partitions)).items():
            reader.seek(partition, end)
        return cls(reader)

    async def collect(
        self, matches: Callable[[ConsumerRecord], bool], count: int, *, timeout: float = 20.0
    ) -> list[ConsumerRecord]:
        """The first ``count`` matching records, in partition order; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while len(found := [r for r in self.seen if matches(r)]) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {len(found)} of {count} records within {timeout}s")
            for records in (await self.reader.getmany(timeout_ms=200)).values():
                self.seen.extend(records)
        return found[:count]

    async def close(self) -> None:
        await self.reader.stop()


@pytest.fixture
async def tail_topic(kafka_bootstrap: str) -> AsyncIterator[Callable[[str], Awaitable[TopicTail]]]:
    tails: list[TopicTail] = []

    async def open_tail(topic: str) -> TopicTail:
        tail = await TopicTail.open(kafka_bootstrap, await topic_partitions(kafka_bootstrap, topic))
        tails.append(tail)
        return tail

    try:
        yield open_tail
    finally:
        for tail in tails:
            await tail.close()


@pytest.fixture
def reset_group(kafka_bootstrap: str) -> Callable[..., Awaitable[None]]:
    """Commit a group's offsets on ``topic``, each partition's end unless ``to`` says otherwise:
    what an operator does with kafka-consumer-groups --reset-offsets."""

    async def reset(group_id: str, topic: str = TEST_TOPIC, to: dict[int, int] | None = None) -> None:
        await commit_group_offsets(kafka_bootstrap, group_id, topic, to)

    return reset


@pytest.fixture
def new_group(
    run_id: str, reset_group: Callable[..., Awaitable[None]]
) -> Callable[..., Awaitable[str]]:
    """A consumer group that has already read ``topic`` up to its current end."""

    async def make(purpose: str, topic: str = TEST_TOPIC) -> str:
        group_id = f"platform-tests.{purpose}.{run_id}"
        await reset_group(group_id, topic)
        return group_id

    return make


@pytest.fixture
def committed_past(
    kafka_admin: AIOKafkaAdminClient,
) -> Callable[[str, RecordMetadata], Awaitable[bool]]:
    """A probe: has ``group_id`` committed an offset past the record that ``landed`` there?"""

    async def probe(group_id: str, landed: RecordMetadata) -> bool:
        committed = await kafka_admin.list_consumer_group_offsets(group_id)
        at = committed.get(TopicPartition(landed.topic, landed.partition))
        return at is not None and at.offset > landed.offset

    return probe


class RunningConsumers:
    """EventConsumers running in the background; stopping one is a clean shutdown, and a consumer
    that crashed fails the test at teardown instead of going unnoticed."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, consumer: EventConsumer) -> asyncio.Task[None]:
        task = asyncio.create_task(consumer.run(), name=f"consumer {consumer.group_id}")
        self.tasks.append(task)
        return task

    @staticmethod
    async def stop(task: asyncio.Task[None]) -> None:
        if task.done():
            if not task.cancelled():
                task.result()  # re-raises what crashed it
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass

    async def stop_all(self) -> None:
        for task in self.tasks:
            await self.stop(task)


@pytest.fixture
async def running_consumers(schema_pool: asyncpg.Pool) -> AsyncIterator[RunningConsumers]:
    # Depends on schema_pool so the consumers stop before their database schema is dropped.
    consumers = RunningConsumers()
    try:
        yield consumers
    finally:
        await consumers.stop_all()


@pytest.fixture
def record_headers() -> Callable[[ConsumerRecord], dict[str, str]]:
    """A record's headers as text, by name."""
    return lambda record: {name: value.decode() for name, value in record.headers or ()}


@pytest.fixture
def keyed() -> Callable[[Iterable[str]], Callable[[ConsumerRecord], bool]]:
    """A record filter: the records whose key is one of ``subjects``."""

    def filter_for(subjects: Iterable[str]) -> Callable[[ConsumerRecord], bool]:
        wanted = {subject.encode() for subject in subjects}
        return lambda record: record.key in wanted

    return filter_for


@pytest.fixture
def publish(producer: AIOKafkaProducer) -> Callable[[EventEnvelope], Awaitable[RecordMetadata]]:
    """Publish an envelope to the test topic as the relay does; returns where it landed."""

    async def send(envelope: EventEnvelope) -> RecordMetadata:
        return await producer.send_and_wait(
            TEST_TOPIC,
            value=envelope.kafka_value(),
            key=envelope.kafka_key(),
            headers=envelope.kafka_headers(),
        )

    return send
