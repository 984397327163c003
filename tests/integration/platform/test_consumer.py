"""EventConsumer against the real Kafka broker and PostgreSQL: effectively-once application,
dead letters, and offsets that follow the database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from shared.consumer import EventConsumer, EventHandler, Outcome
from shared.envelope import EventEnvelope
from shared.events import DomainEvent, EventRegistry
from tests.integration.platform.conftest import TEST_DLQ, TEST_TOPIC
from tests.polling import eventually

pytestmark = pytest.mark.integration


class Counted(DomainEvent):
    event_type: ClassVar[str] = "billing.test.Counted"
    n: int


EVENTS = EventRegistry([Counted])


async def count_event(conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
    """The read model under test: how many events each subject had, and the sum of their n."""
    event = EVENTS.decode(envelope.type, envelope.data)
    await conn.execute(
        """INSERT INTO tallies (subject, events, total) VALUES ($1, 1, $2)
           ON CONFLICT (subject) DO UPDATE
           SET events = tallies.events + 1, total = tallies.total + EXCLUDED.total""",
        envelope.subject,
        event.n,
    )


@pytest.fixture
async def tallies(schema_pool: asyncpg.Pool) -> Callable[[str], Awaitable[tuple[int, int]]]:
    await schema_pool.execute(
        """CREATE TABLE tallies (
               subject text PRIMARY KEY, events integer NOT NULL, total integer NOT NULL)"""
    )

    async def tally_of(subject: str) -> tuple[int, int]:
        row = await schema_pool.fetchrow(
            "SELECT events, total FROM tallies WHERE subject = $1", subject
        )
        return (row["events"], row["total"]) if row else (0, 0)

    return tally_of


@pytest.fixture
def start_consumer(
    schema_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    producer: AIOKafkaProducer,
    running_consumers,
    tallies,
) -> Callable[..., tuple[EventConsumer, asyncio.Task[None]]]:
    def start(group_id: str, handler: EventHandler = count_event, **options: Any):
        consumer = EventConsumer(
            group_id=group_id,
            topics=[TEST_TOPIC],
            pool=schema_pool,
            bootstrap_servers=kafka_bootstrap,
            handler=handler,
            producer=producer,
            event_types={Counted.event_type},
            dlq_topic=TEST_DLQ,
            **options,
        )
        return consumer, running_consumers.start(consumer)

    return start


async def test_a_good_event_is_applied_once_and_then_its_offset_is_committed(
    start_consumer, new_group, publish, new_event, tallies, committed_past, schema_pool, run_id
) -> None:
    group_id = await new_group("applied-once")
    start_consumer(group_id)
    event = new_event(f"{run_id}-customer", 7)

    landed = await publish(event)

    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    assert await tallies(event.subject) == (1, 7)
    inbox = await schema_pool.fetchrow(
        "SELECT consumer, topic, kafka_partition, kafka_offset FROM inbox WHERE event_id = $1",
        event.id,
    )
    assert tuple(inbox) == (group_id, TEST_TOPIC, landed.partition, landed.offset)


async def test_the_same_event_delivered_twice_is_applied_once(
    start_consumer, new_group, publish, new_event, tallies, committed_past, run_id
) -> None:
    group_id = await new_group("duplicate")
    outcomes: list[Outcome] = []
    start_consumer(group_id, on_outcome=outcomes.append)
    customer = f"{run_id}-customer"
    event, next_event = new_event(customer, 5), new_event(customer, 1)

    await publish(event)
    await publish(event)  # the relay crashed before its checkpoint and sent it again
    landed = await publish(next_event)

    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    assert await tallies(customer) == (2, 6)
    assert outcomes.count(Outcome.DUPLICATE) == 1


POISON = {
    "value that is not JSON": (
        lambda envelope: envelope.kafka_headers(),
        b"{not json",
        "value is not JSON",
    ),
    "no CloudEvents headers": (lambda envelope: [], b'{"n": 1}', "missing header ce_specversion"),
    "data failing the event's schema": (
        lambda envelope: envelope.kafka_headers(),
        b'{"n": "many"}',
        "ValidationError",
    ),
}


@pytest.mark.parametrize("poison", POISON, ids=list(POISON))
async def test_a_poison_message_is_dead_lettered_and_the_next_message_on_its_partition_is_applied(
    poison,
    start_consumer,
    new_group,
    producer,
    publish,
    new_event,
    tallies,
    tail_topic,
    record_headers,
    committed_past,
    run_id,
) -> None:
    headers_for, value, reason = POISON[poison]
    group_id = await new_group("poison")
    dead_letters = await tail_topic(TEST_DLQ)
    start_consumer(group_id)
    customer = f"{run_id}-customer"
    envelope = new_event(customer, 1)

    poisoned = await producer.send_and_wait(
        TEST_TOPIC, value=value, key=envelope.kafka_key(), headers=headers_for(envelope)
    )
    landed = await publish(new_event(customer, 2))

    assert landed.partition == poisoned.partition
    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    assert await tallies(customer) == (1, 2)
    [dead] = await dead_letters.collect(
        lambda record: record_headers(record).get("dlq_consumer_group") == group_id, 1
    )
    headers = record_headers(dead)
    assert reason in headers["dlq_reason"]
    assert headers["dlq_original_topic"] == TEST_TOPIC
    assert (int(headers["dlq_original_partition"]), int(headers["dlq_original_offset"])) == (
        poisoned.partition,
        poisoned.offset,
    )
    assert (dead.key, dead.value) == (envelope.kafka_key(), value)
    assert {k: v for k, v in headers.items() if not k.startswith("dlq_")} == {
        k: v.decode() for k, v in headers_for(envelope)
    }


@pytest.mark.parametrize("failure", [ConnectionResetError, RuntimeError])
async def test_a_failed_attempt_is_rolled_back_and_the_retry_applies_the_event_once(
    failure, start_consumer, new_group, publish, new_event, tallies, committed_past, run_id
) -> None:
    """Whether the failure looks like the network (retried without end) or like a bug (retried a
    few times), the first attempt's write is undone with its inbox row, so the retry counts once."""
    event = new_event(f"{run_id}-customer", 3)
    attempts: list[uuid.UUID] = []

    async def fail_first_attempt(conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
        await count_event(conn, envelope)
        if envelope.id == event.id:
            attempts.append(envelope.id)
            if len(attempts) == 1:
                raise failure("first attempt fails after writing")

    group_id = await new_group("retry")
    start_consumer(group_id, handler=fail_first_attempt)

    landed = await publish(event)

    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    assert attempts == [event.id, event.id]
    assert await tallies(event.subject) == (1, 3)


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_max_attempts(
    start_consumer,
    new_group,
    publish,
    new_event,
    tallies,
    tail_topic,
    record_headers,
    committed_past,
    run_id,
) -> None:
    async def always_fail(conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
        if envelope.data["n"] == 13:
            raise RuntimeError("unlucky")
        await count_event(conn, envelope)

    group_id = await new_group("keeps-failing")
    dead_letters = await tail_topic(TEST_DLQ)
    start_consumer(group_id, handler=always_fail, max_attempts=2)
    customer = f"{run_id}-customer"

    await publish(new_event(customer, 13))
    landed = await publish(new_event(customer, 1))

    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    assert await tallies(customer) == (1, 1)
    [dead] = await dead_letters.collect(
        lambda record: record_headers(record).get("dlq_consumer_group") == group_id, 1
    )
    assert record_headers(dead)["dlq_reason"] == "handler failed 2 times: RuntimeError: unlucky"


async def test_the_offset_is_committed_only_after_the_database_transaction(
    start_consumer, new_group, publish, new_event, tallies, committed_past, run_id
) -> None:
    event = new_event(f"{run_id}-customer", 4)
    in_transaction, may_commit = asyncio.Event(), asyncio.Event()

    async def slow_handler(conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
        await count_event(conn, envelope)
        if envelope.id == event.id:
            in_transaction.set()
            await may_commit.wait()

    group_id = await new_group("commit-order")
    start_consumer(group_id, handler=slow_handler)
    landed = await publish(event)
    await asyncio.wait_for(in_transaction.wait(), 20)

    assert not await committed_past(group_id, landed)
    assert await tallies(event.subject) == (0, 0)  # the write is not committed either

    may_commit.set()
    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    assert await tallies(event.subject) == (1, 4)


async def test_a_restarted_consumer_resumes_after_its_committed_offsets(
    start_consumer,
    running_consumers,
    new_group,
    publish,
    new_event,
    tallies,
    committed_past,
    run_id,
) -> None:
    customer = f"{run_id}-customer"
    handled: list[int] = []

    async def count_and_note(conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
        if envelope.subject == customer:
            handled.append(envelope.data["n"])
        await count_event(conn, envelope)

    group_id = await new_group("restart")
    _, first_run = start_consumer(group_id, handler=count_and_note)
    await publish(new_event(customer, 1))
    landed = await publish(new_event(customer, 2))
    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    await running_consumers.stop(first_run)

    landed = await publish(new_event(customer, 3))  # published while the consumer is down
    start_consumer(group_id, handler=count_and_note)

    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    assert handled == [1, 2, 3]
    assert await tallies(customer) == (3, 6)


async def test_a_group_rewound_for_replay_changes_nothing_it_already_applied(
    start_consumer,
    running_consumers,
    new_group,
    reset_group,
    publish,
    new_event,
    tallies,
    committed_past,
    run_id,
) -> None:
    """An operator resets the group to an earlier offset: the redelivered events meet the inbox."""
    customer = f"{run_id}-customer"
    outcomes: list[Outcome] = []
    group_id = await new_group("rewind")
    _, first_run = start_consumer(group_id)
    first = await publish(new_event(customer, 1))
    landed = await publish(new_event(customer, 2))
    await eventually(lambda: committed_past(group_id, landed), message="offset commit")
    await running_consumers.stop(first_run)

    await reset_group(group_id, to={first.partition: first.offset})
    start_consumer(group_id, on_outcome=outcomes.append)

    await eventually(lambda: committed_past(group_id, landed), message="replay")
    assert await tallies(customer) == (2, 3)
    assert outcomes.count(Outcome.DUPLICATE) == 2
