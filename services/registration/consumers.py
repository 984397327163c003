"""Which Kafka events registration folds, and into what.

Registration consumes its own topic to keep the customer search model, exactly as any other
service keeps a read model of registration: through the platform consumer, with an inbox and a
dead-letter topic."""

from __future__ import annotations

from services.registration.application.search import CustomerSearchProjection
from services.registration.domain.events import TOPIC
from services.registration.settings import RegistrationSettings
from shared.consumer import EventConsumer
from shared.runtime import ServiceRuntime


def search_model_consumer(runtime: ServiceRuntime, settings: RegistrationSettings) -> EventConsumer:
    return runtime.consumer(
        group_id=settings.search_consumer_group, dead_letter_topic=settings.search_dead_letter_topic,
        topics=[TOPIC], projection=CustomerSearchProjection(),
    )
