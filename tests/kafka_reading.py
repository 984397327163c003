"""Reading back what a service published: the messages of one type under one key on a topic,
from its beginning, polled until enough arrived (topics are shared by every test module, so a key
reused by earlier runs needs ``where``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from tests.polling import eventually


async def published(
    bootstrap: str, topic: str, key: str, ce_type: str, count: int, *, timeout: float = 20,
    where: Callable[[dict[str, Any]], bool] = lambda _: True,
) -> list[dict[str, Any]]:
    """The data of the ``ce_type`` messages under ``key`` on ``topic`` (those ``where`` says), once
    there are ``count``."""
    reader = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await reader.start()
    try:
        found: list[dict[str, Any]] = []

        async def scan() -> bool:
            batches = await reader.getmany(timeout_ms=300)
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers)
                    if record.key == key.encode() and headers.get("ce_type") == ce_type.encode():
                        data = json.loads(record.value)
                        if where(data):
                            found.append(data)
            return len(found) >= count

        await eventually(scan, timeout=timeout, message=f"{count} {ce_type} for {key} on {topic}")
        return found
    finally:
        await reader.stop()
