"""Re-drive a dead-letter topic: put each dead letter back on the topic it came from.

    python -m shared.redrive --bootstrap 127.0.0.1:9092 --dlq <topic>
                             [--group <g>] [--dry-run] [--limit N]

An operator runs it once the cause is fixed (a consumer bug, a missing reference row). It reads
the dead-letter topic as consumer group ``<dlq>.redrive`` (or ``--group``), so each run starts where
the last one stopped, and stops at the end the topic had when it started. Every dead letter is
printed with its reason and where it came from. Unless ``--dry-run``, it is published again to its
original topic with its original key, value and headers (the ``dlq_*`` ones removed), and the
group's offset moves past it only after the broker acknowledged that: a crash re-drives a message
twice (the consumer's inbox absorbs the repeat), it never loses one. A dry run commits nothing.

A dead letter that does not say where it came from stops the run, committed up to just before it;
once it is dealt with, move the group past it with ``kafka-consumer-groups --reset-offsets``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import ConsumerRecord, TopicPartition

from shared.envelope import KafkaHeaders
from shared.kafka import records_until_end, reliable_consumer, reliable_producer, topic_partitions

DLQ_HEADER_PREFIX = "dlq_"


class NotRedrivable(Exception):
    """A dead letter without a dlq_original_topic header: there is nowhere to send it back to."""


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter topic, with the original message and why it was set aside."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    original_headers: KafkaHeaders
    reason: str
    original_topic: str | None
    original_place: str  # "<partition>@<offset>" on the original topic

    @classmethod
    def from_record(cls, record: ConsumerRecord) -> DeadLetter:
        headers = list(record.headers or ())
        dlq = {
            name: (raw or b"").decode(errors="replace")
            for name, raw in headers
            if name.startswith(DLQ_HEADER_PREFIX)
        }
        partition = dlq.get("dlq_original_partition", "?")
        offset = dlq.get("dlq_original_offset", "?")
        return cls(
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            original_headers=[(n, raw) for n, raw in headers if n not in dlq],
            reason=dlq.get("dlq_reason", "(no reason given)"),
            original_topic=dlq.get("dlq_original_topic") or None,
            original_place=f"{partition}@{offset}",
        )

    def describe(self) -> str:
        key = self.key.decode(errors="replace") if self.key is not None else "(none)"
        origin = f"{self.original_topic or '(unknown topic)'}[{self.original_place}]"
        return f"[{self.partition}]@{self.offset} key={key} from {origin}: {self.reason}"


@dataclass
class RedriveSummary:
    seen: int = 0
    redriven: int = 0


async def redrive(
    bootstrap_servers: str,
    dlq_topic: str,
    *,
    group_id: str | None = None,
    dry_run: bool = False,
    limit: int | None = None,
    report: Callable[[str], None] = print,
) -> RedriveSummary:
    """Re-drive (or with ``dry_run`` only list) the dead letters of ``dlq_topic`` not yet handled
    by ``group_id``, at most ``limit`` of them; see the module docstring."""
    group_id = group_id or f"{dlq_topic}.redrive"
    partitions = await topic_partitions(bootstrap_servers, dlq_topic)
    consumer = reliable_consumer(bootstrap_servers, group_id=group_id, client_id=group_id)
    producer = None if dry_run else reliable_producer(bootstrap_servers, client_id=group_id)
    summary = RedriveSummary()
    await consumer.start()
    try:
        if producer is not None:
            await producer.start()
        # Assigned, not subscribed: the group never has members to rebalance, so an operator can
        # reset its offsets with kafka-consumer-groups at any time.
        consumer.assign(partitions)
        async for record in records_until_end(consumer, partitions):
            if summary.seen == limit:
                break
            summary.seen += 1
            letter = DeadLetter.from_record(record)
            report(("would re-drive " if dry_run else "re-driving ") + letter.describe())
            if producer is None:
                continue
            if letter.original_topic is None:
                raise NotRedrivable(f"{dlq_topic}{letter.describe()}: no dlq_original_topic header")
            await producer.send_and_wait(
                letter.original_topic,
                value=letter.value,
                key=letter.key,
                headers=letter.original_headers,
            )
            await consumer.commit({TopicPartition(record.topic, record.partition): record.offset + 1})
            summary.redriven += 1
    finally:
        await consumer.stop()
        if producer is not None:
            await producer.stop()
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.redrive",
        description="Re-drive a dead-letter topic to the topics its messages came from.",
    )
    parser.add_argument("--bootstrap", required=True, help="Kafka bootstrap servers, host:port,...")
    parser.add_argument("--dlq", required=True, help="the dead-letter topic to read")
    parser.add_argument("--group", help="the group remembering progress (default <dlq>.redrive)")
    parser.add_argument("--dry-run", action="store_true", help="only list; commit nothing")
    parser.add_argument("--limit", type=int, help="handle at most this many dead letters")
    arguments = parser.parse_args(argv)
    try:
        summary = asyncio.run(
            redrive(
                arguments.bootstrap,
                arguments.dlq,
                group_id=arguments.group,
                dry_run=arguments.dry_run,
                limit=arguments.limit,
            )
        )
    except (NotRedrivable, LookupError) as error:
        print(f"stopped: {error}", file=sys.stderr)
        return 2
    if arguments.dry_run:
        print(f"dry run: {summary.seen} dead letters listed, nothing re-driven or committed")
    else:
        print(f"re-drove {summary.redriven} dead letters from {arguments.dlq}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
