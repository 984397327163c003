"""Read models fed from the event store and from Kafka, and rebuilt from either: the rebuilt rows
equal the live ones."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from shared.consumer import EventConsumer
from shared.envelope import EventEnvelope
from shared.eventstore import PostgresEventStore
from shared.projections import StoreProjectionRunner, rebuild_from_kafka, rebuild_from_store
from shared.relay import OutboxRelay
from tests.integration.platform.conftest import TEST_DLQ, TEST_TOPIC
from tests.polling import eventually

pytestmark = pytest.mark.integration

Rows = list[tuple[str, int, int]]


class EventsPerSubject:
    """A tiny projection: per subject, how many events of one type it had and the last one's n
    (so a fold in the wrong order shows)."""

    def __init__(self, name: str, table: str, event_type: str) -> None:
        self.name = name
        self.table = table
        self.tables = (table,)
        self.event_types = frozenset({event_type})

    async def create_table(self, pool: asyncpg.Pool) -> None:
        await pool.execute(
            f"""CREATE TABLE {self.table} (
                    subject text PRIMARY KEY, events integer NOT NULL, last_n integer NOT NULL)"""
        )

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await conn.execute(
            f"""INSERT INTO {self.table} (subject, events, last_n) VALUES ($1, 1, $2)
                ON CONFLICT (subject) DO UPDATE
                SET events = {self.table}.events + 1, last_n = EXCLUDED.last_n""",
            event.subject,
            event.data["n"],
        )

    async def rows(self, pool: asyncpg.Pool) -> Rows:
        return [tuple(r) for r in await pool.fetch(f"SELECT * FROM {self.table} ORDER BY subject")]


@pytest.fixture
def counted_type(run_id: str) -> str:
    """This test's own event type. The test topic holds every earlier run's events and a rebuild
    reads it from offset 0; a type no other run used keeps other runs out of the model and the
    inbox, not only out of the rows compared."""
    return f"billing.test.Counted.{run_id}"


@pytest.fixture
async def from_store(schema_pool: asyncpg.Pool, counted_type: str) -> EventsPerSubject:
    projection = EventsPerSubject("per-subject-from-store", "per_subject_from_store", counted_type)
    await projection.create_table(schema_pool)
    return projection


@pytest.fixture
async def from_kafka(schema_pool: asyncpg.Pool, counted_type: str) -> EventsPerSubject:
    projection = EventsPerSubject("per-subject-from-kafka", "per_subject_from_kafka", counted_type)
    await projection.create_table(schema_pool)
    return projection


@pytest.fixture
def append(
    store: PostgresEventStore,
    readable,
    new_event: Callable[..., EventEnvelope],
    counted_type: str,
    run_id: str,
) -> Callable[[int, int], Awaitable[None]]:
    """Append events numbered ``first_n`` on for customers ``a``, ``b``, ``c`` of this test,
    interleaved, with one of a type the projections do not read after every fourth; return once
    the store hands them all out."""
    versions: dict[str, int] = {}

    async def append_rounds(first_n: int, count: int) -> None:
        for n in range(first_n, first_n + count):
            subject = f"{run_id}-{'abc'[n % 3]}"
            stream = [new_event(subject, n, event_type=counted_type)]
            if n % 4 == 0:
                stream.append(new_event(subject, n, event_type="billing.test.SomethingElse"))
            versions[subject] = await store.append(subject, versions.get(subject, 0), stream)
        await readable(sum(versions.values()))

    return append_rounds


async def test_the_store_runner_applies_each_event_once_and_resumes_from_its_checkpoint(
    store, schema_pool, from_store, append, run_id
) -> None:
    runner = StoreProjectionRunner(from_store, store, batch_size=4)
    await append(0, 9)

    assert await runner.catch_up() == 12  # 9 counted and 3 others: each read once
    await append(9, 2)
    assert await runner.catch_up() == 2

    assert await from_store.rows(schema_pool) == [
        (f"{run_id}-a", 4, 9),
        (f"{run_id}-b", 4, 10),
        (f"{run_id}-c", 3, 8),
    ]
    assert await runner.catch_up() == 0


async def test_rebuild_from_store_restores_a_damaged_model_to_the_live_rows(
    store, schema_pool, from_store, append
) -> None:
    runner = StoreProjectionRunner(from_store, store)
    await append(0, 20)
    await runner.catch_up()
    live = await from_store.rows(schema_pool)
    await schema_pool.execute(f"UPDATE {from_store.table} SET events = 0")
    await schema_pool.execute(f"DELETE FROM {from_store.table} WHERE subject LIKE '%-a'")

    assert await rebuild_from_store(from_store, store, batch_size=7, fed_by_runner=True) == 25
    assert await from_store.rows(schema_pool) == live

    await append(21, 1)  # the rebuild left the checkpoint at its end: the runner goes on from there
    assert await runner.catch_up() == 1


async def test_the_kafka_fed_model_equals_the_store_fed_one_and_survives_rebuild_from_kafka(
    store,
    schema_pool,
    producer,
    kafka_bootstrap,
    from_store,
    from_kafka,
    append,
    new_group,
    running_consumers,
    run_id,
) -> None:
    group_id = await new_group("projection")
    running_consumers.start(
        EventConsumer(
            group_id=group_id,
            topics=[TEST_TOPIC],
            pool=schema_pool,
            bootstrap_servers=kafka_bootstrap,
            handler=from_kafka.apply,
            producer=producer,
            event_types=from_kafka.event_types,
            dlq_topic=TEST_DLQ,
        )
    )
    relay = OutboxRelay(store=store, producer=producer, topic=TEST_TOPIC, name=f"relay-{run_id}")
    runner = StoreProjectionRunner(from_store, store)

    async def both_models_agree() -> bool:
        await runner.catch_up()
        return await from_kafka.rows(schema_pool) == await from_store.rows(schema_pool)

    await append(0, 30)
    await relay.publish_pending()
    await eventually(both_models_agree, message="the Kafka-fed model to catch up")
    live = await from_kafka.rows(schema_pool)
    assert sum(events for _, events, _ in live) == 30
    await schema_pool.execute(f"DELETE FROM {from_kafka.table} WHERE subject LIKE '%-b'")

    await rebuild_from_kafka(
        from_kafka,
        schema_pool,
        bootstrap_servers=kafka_bootstrap,
        topics=[TEST_TOPIC],
        consumer_name=group_id,
    )

    assert await from_kafka.rows(schema_pool) == live
    inbox = await schema_pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", group_id)
    assert inbox == 30
    # The live consumer kept running through the rebuild and neither loses nor repeats anything.
    await append(30, 3)
    await relay.publish_pending()
    await eventually(both_models_agree, message="the Kafka-fed model to catch up after the rebuild")
    assert sum(events for _, events, _ in await from_kafka.rows(schema_pool)) == 33
