"""Which Kafka events eligibility folds, and into what: registration's customers and coverages,
which also start verification checks (application/registration_feed.py)."""

from __future__ import annotations

from services.eligibility.adapters.registration_events import TOPIC as REGISTRATION_TOPIC
from services.eligibility.application.registration_feed import RegistrationFeed
from services.eligibility.settings import EligibilitySettings
from shared.consumer import EventConsumer
from shared.runtime import ServiceRuntime


def registration_feed_consumer(
    runtime: ServiceRuntime, settings: EligibilitySettings, feed: RegistrationFeed
) -> EventConsumer:
    return runtime.consumer(
        group_id=settings.registration_consumer_group,
        dead_letter_topic=settings.registration_dead_letter_topic,
        topics=[REGISTRATION_TOPIC], projection=feed,
    )
