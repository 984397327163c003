"""Which Kafka events payments folds: invoicing's invoices, credit notes, remittance outcomes and
voids, which say what each invoice asks, and collections' reports of what collection agencies
collected (application/feeds.py)."""

from __future__ import annotations

from services.payments.adapters.upstream_events import COLLECTIONS_TOPIC, INVOICING_TOPIC
from services.payments.application.feeds import PaymentsFeeds
from services.payments.settings import PaymentsSettings
from shared.consumer import EventConsumer
from shared.runtime import ServiceRuntime

TOPICS = (INVOICING_TOPIC, COLLECTIONS_TOPIC)


def feeds_consumer(runtime: ServiceRuntime, settings: PaymentsSettings, feed: PaymentsFeeds) -> EventConsumer:
    return runtime.consumer(
        group_id=settings.feeds_consumer_group, dead_letter_topic=settings.feeds_dead_letter_topic,
        topics=TOPICS, projection=feed,
    )
