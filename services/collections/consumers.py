"""Which Kafka events collections folds: registration's customers and contact points,
invoicing's customer invoices, and payments' payments, plans, missed payments and how to pay
(application/feeds.py)."""

from __future__ import annotations

from services.collections.adapters.upstream_events import (
    INVOICING_TOPIC,
    PAYMENTS_TOPIC,
    REGISTRATION_TOPIC,
)
from services.collections.application.feeds import UpstreamFeed
from services.collections.settings import CollectionsSettings
from shared.consumer import EventConsumer
from shared.runtime import ServiceRuntime

TOPICS = (REGISTRATION_TOPIC, INVOICING_TOPIC, PAYMENTS_TOPIC)


def feeds_consumer(runtime: ServiceRuntime, settings: CollectionsSettings, feed: UpstreamFeed) -> EventConsumer:
    return runtime.consumer(
        group_id=settings.feeds_consumer_group, dead_letter_topic=settings.feeds_dead_letter_topic,
        topics=TOPICS, projection=feed,
    )
