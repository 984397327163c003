"""Which Kafka events invoicing folds, and into what: registration's customers and coverages,
eligibility's payers, verifications and estimates, and payments' remittances, which move unpaid
amounts on to the next party (application/feeds.py)."""

from __future__ import annotations

from services.invoicing.adapters.upstream_events import (
    ELIGIBILITY_TOPIC,
    PAYMENTS_TOPIC,
    REGISTRATION_TOPIC,
)
from services.invoicing.application.feeds import UpstreamFeed
from services.invoicing.settings import InvoicingSettings
from shared.consumer import EventConsumer
from shared.runtime import ServiceRuntime

TOPICS = (REGISTRATION_TOPIC, ELIGIBILITY_TOPIC, PAYMENTS_TOPIC)


def feeds_consumer(runtime: ServiceRuntime, settings: InvoicingSettings, feed: UpstreamFeed) -> EventConsumer:
    return runtime.consumer(
        group_id=settings.feeds_consumer_group, dead_letter_topic=settings.feeds_dead_letter_topic,
        topics=TOPICS, projection=feed,
    )
