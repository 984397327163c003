"""Which Kafka events registration folds, and into what.

Registration consumes its own topic to keep the customer search model, exactly as any other
service keeps a read model of registration: through the platform consumer, with an inbox and a
dead-letter topic."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
from aiokafka import AIOKafkaProducer

from services.registration.application.search import CustomerSearchProjection
from services.registration.domain.events import TOPIC
from shared.consumer import EventConsumer, Outcome


def search_model_consumer(
    *, pool: asyncpg.Pool, bootstrap_servers: str, producer: AIOKafkaProducer,
    projection: CustomerSearchProjection, group_id: str, dead_letter_topic: str, on_outcome: Callable[[Outcome], None] | None = None,
) -> EventConsumer:
    return EventConsumer(
        group_id=group_id,
        dlq_topic=dead_letter_topic,
        topics=[TOPIC],
        pool=pool,
        bootstrap_servers=bootstrap_servers,
        handler=projection.apply,
        producer=producer,
        event_types=projection.event_types,
        on_outcome=on_outcome,
    )

