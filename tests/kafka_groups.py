"""Consumer groups for tests: start a new group where the topic ends now, so it reads what the
test produces and not the history of every earlier run on a long-lived broker."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from shared.kafka import topic_partitions


async def commit_group_offsets(
    bootstrap: str, group_id: str, topic: str, to: dict[int, int] | None = None
) -> None:
    """Commit ``group_id``'s offsets on ``topic``, each partition's end unless ``to`` says
    otherwise: what an operator does with kafka-consumer-groups --reset-offsets."""
    partitions = await topic_partitions(bootstrap, topic)
    committer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await committer.start()
    try:
        committer.assign(partitions)
        ends = await committer.end_offsets(partitions)
        await committer.commit({tp: (to or {}).get(tp.partition, ends[tp]) for tp in partitions})
    finally:
        await committer.stop()


async def start_group_at_end(bootstrap: str, group_id: str, topic: str) -> None:
    """A new group that skips everything published before now."""
    await commit_group_offsets(bootstrap, group_id, topic)
