"""Re-driving a dead-letter topic back to where its messages came from, against the real broker."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

import shared
from shared.consumer import EventConsumer, PoisonEvent
from shared.envelope import EventEnvelope
from shared.redrive import NotRedrivable, redrive
from tests.integration.platform.conftest import TEST_DLQ, TEST_TOPIC

pytestmark = pytest.mark.integration

REPOSITORY = Path(shared.__file__).parents[1]


async def refuse_everything(conn: asyncpg.Connection, envelope: EventEnvelope) -> None:
    raise PoisonEvent(f"no customer {envelope.subject} (yet)")


@pytest.fixture
def dead_lettered(
    schema_pool: asyncpg.Pool,
    kafka_bootstrap: str,
    producer: AIOKafkaProducer,
    new_group,
    running_consumers,
    publish,
    tail_topic,
    record_headers,
) -> Callable[[list[EventEnvelope]], Awaitable[None]]:
    """Publish events that a consumer refuses, wait until they are in the dead-letter topic, and
    stop that consumer (or it would refuse them again once they are re-driven)."""

    async def dead_letter(events: list[EventEnvelope]) -> None:
        dead_letters = await tail_topic(TEST_DLQ)
        refusing = running_consumers.start(
            EventConsumer(
                group_id=await new_group("refuses"),
                topics=[TEST_TOPIC],
                pool=schema_pool,
                bootstrap_servers=kafka_bootstrap,
                handler=refuse_everything,
                producer=producer,
                dlq_topic=TEST_DLQ,
            )
        )
        for event in events:
            await publish(event)
        ids = {str(e.id) for e in events}
        await dead_letters.collect(
            lambda record: record_headers(record).get("ce_id") in ids, len(events)
        )
        await running_consumers.stop(refusing)

    return dead_letter


@pytest.fixture
async def redrive_group(new_group) -> str:
    """A re-drive group that has already dealt with every older dead letter of the test topic."""
    return await new_group("redrive", topic=TEST_DLQ)


async def test_a_dead_letter_goes_back_to_its_topic_as_it_was_and_only_once(
    kafka_bootstrap, dead_lettered, redrive_group, tail_topic, new_event, record_headers, run_id
) -> None:
    event = new_event(f"{run_id}-customer", 1)
    await dead_lettered([event])
    events = await tail_topic(TEST_TOPIC)
    printed: list[str] = []

    summary = await redrive(
        kafka_bootstrap, TEST_DLQ, group_id=redrive_group, report=printed.append
    )

    [back] = await events.collect(
        lambda record: record_headers(record).get("ce_id") == str(event.id), 1
    )
    assert (back.key, back.value) == (event.kafka_key(), event.kafka_value())
    assert record_headers(back) == {name: raw.decode() for name, raw in event.kafka_headers()}
    assert EventEnvelope.from_kafka(back.key, back.value, back.headers) == event
    assert (summary.seen, summary.redriven) == (1, 1)
    [line] = printed
    assert f"from {TEST_TOPIC}[" in line
    assert f"PoisonEvent: no customer {event.subject} (yet)" in line

    again = await redrive(kafka_bootstrap, TEST_DLQ, group_id=redrive_group, report=printed.append)
    assert (again.seen, again.redriven) == (0, 0)  # the group remembers how far it got


async def run_redrive_command(*options: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.redrive",
        *options,
        cwd=REPOSITORY,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    return stdout.decode()


async def test_the_command_lists_on_a_dry_run_and_re_drives_up_to_its_limit(
    kafka_bootstrap, dead_lettered, redrive_group, tail_topic, new_event, record_headers, run_id
) -> None:
    first, second = new_event(f"{run_id}-customer", 1), new_event(f"{run_id}-customer", 2)
    await dead_lettered([first, second])
    events = await tail_topic(TEST_TOPIC)
    command = ["--bootstrap", kafka_bootstrap, "--dlq", TEST_DLQ, "--group", redrive_group]

    listed = await run_redrive_command(*command, "--dry-run")
    assert listed.count("would re-drive [") == 2
    assert "dry run: 2 dead letters listed" in listed

    assert "re-drove 1 dead letters" in await run_redrive_command(*command, "--limit", "1")
    assert "re-drove 1 dead letters" in await run_redrive_command(*command)
    assert "re-drove 0 dead letters" in await run_redrive_command(*command)

    ours = {str(first.id), str(second.id)}
    back = await events.collect(lambda record: record_headers(record).get("ce_id") in ours, 2)
    assert [json.loads(record.value)["n"] for record in back] == [1, 2]
    assert (
        len([r for r in events.seen if record_headers(r).get("ce_id") in ours]) == 2
    )  # not 3 or 4


async def test_a_dead_letter_that_does_not_say_where_it_came_from_stops_the_run_uncommitted(
    kafka_bootstrap, producer, redrive_group, run_id
) -> None:
    await producer.send_and_wait(
        TEST_DLQ, value=b"{}", key=f"{run_id}-customer".encode(), headers=[]
    )

    for _ in range(2):  # a second run stops at the same message: nothing was committed past it
        with pytest.raises(NotRedrivable, match="no dlq_original_topic"):
            await redrive(kafka_bootstrap, TEST_DLQ, group_id=redrive_group, report=lambda _: None)
