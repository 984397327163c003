"""The agency relay: publishes each placement and recall, translated into the agency contract
(domain/agency.py), on the agency's own topic. It follows collections' event store like the main
relay, with a checkpoint of its own, so an agency hears of each of its placements at least once
and in order (the message id is derived from the event's, so a republished message keeps its id)."""

from __future__ import annotations

import uuid

from services.collections.domain.agency import SOURCE, agency_topic, for_agency
from services.collections.domain.events import COLLECTIONS_EVENTS, AccountEscalated, AccountRecalled
from shared.envelope import EventEnvelope
from shared.eventstore.model import RecordedEvent

AGENCY_NAMESPACE = uuid.UUID("9a3f1f0e-5d1c-4f43-9d43-8f6a1c2b7e55")
RELAYED = frozenset({AccountEscalated.event_type, AccountRecalled.event_type})


def agency_route(recorded: RecordedEvent) -> list[tuple[str, EventEnvelope]]:
    if recorded.envelope.type not in RELAYED:
        return []
    event = COLLECTIONS_EVENTS.decode(recorded.envelope.type, recorded.envelope.data)
    message = for_agency(event)
    assert message is not None and isinstance(event, AccountEscalated | AccountRecalled)
    envelope = EventEnvelope.wrap(
        message, source=SOURCE, subject=event.placement_id, time=recorded.envelope.time,
        correlation_id=recorded.envelope.correlation_id, causation_id=str(recorded.envelope.id),
        event_id=uuid.uuid5(AGENCY_NAMESPACE, str(recorded.envelope.id)),
    )
    return [(agency_topic(event.agency_id), envelope)]
