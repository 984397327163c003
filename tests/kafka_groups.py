"""Consumer groups for tests: start a new group where the topic ends now, so it reads what the
test produces and not the history of every earlier run on a long-lived broker."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def start_group_at_end(bootstrap: str, group_id: str, topic: str) -> None:
    """Commit the topic's end offsets for ``group_id``, as an operator does with
    kafka-consumer-groups --reset-offsets --to-latest, so the group skips earlier runs' events."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [description] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert description["error_code"] == 0, f"no topic {topic}; run deploy/infra.sh up"
    partitions = [TopicPartition(topic, p["partition"]) for p in description["partitions"]]
    committer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign(partitions)
        await committer.commit(await committer.end_offsets(partitions))
    finally:
        await committer.stop()
