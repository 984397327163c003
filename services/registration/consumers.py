"""Which Kafka events registration folds, and into what.

Registration consumes its own topic to keep the customer search model, exactly as any other
service keeps a read model of registration: through the platform consumer, with an inbox and a
dead-letter topic. It also consumes invoicing's delivery failures, to mark bounced contact points."""

from __future__ import annotations

from services.registration.adapters.delivery_events import TOPIC as INVOICING_TOPIC
from services.registration.application.bounces import BounceFeed
from services.registration.application.handlers import Registration
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


def bounce_consumer(
    runtime: ServiceRuntime, settings: RegistrationSettings, registration: Registration
) -> EventConsumer:
    """Invoicing's delivery failures: a bounced e-mail marks the customer's contact point."""
    return runtime.consumer(
        group_id=settings.bounce_consumer_group, dead_letter_topic=settings.bounce_dead_letter_topic,
        topics=[INVOICING_TOPIC], projection=BounceFeed(registration),
    )
