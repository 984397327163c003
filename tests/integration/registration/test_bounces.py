"""Invoicing reports a bounced e-mail on invoicing.events; registration marks the contact point it
used as bounced, through Kafka alone. A failure that is no bounce marks nothing."""

from __future__ import annotations

import uuid
from typing import Any

from shared.envelope import EventEnvelope
from shared.kafka import start_reliable_producer
from tests.integration.registration.conftest import NOW, RunningService
from tests.integration.registration.test_api import a_person, customer, history, register
from tests.polling import eventually


async def publish_delivery_failed(bootstrap: str, customer_id: str, contact_point_id: str, *, bounced: bool) -> None:
    """As invoicing's relay publishes it (shared/contracts/invoicing/...InvoiceDeliveryFailed)."""
    envelope = EventEnvelope(
        id=uuid.uuid4(), type="billing.invoicing.InvoiceDeliveryFailed", source="/billing/invoicing",
        subject=customer_id, time=NOW, schema_version=1, data={
            "invoice_id": uuid.uuid4().hex, "customer_id": customer_id, "channel": "email",
            "recipient": "someone@example.com", "contact_point_id": contact_point_id,
            "reason": "550 5.1.1 mailbox unavailable" if bounced else "mail server unreachable",
            "bounced": bounced, "failed_at": NOW.isoformat(),
        },
    )
    producer = await start_reliable_producer(bootstrap, client_id="invoicing-stand-in")
    try:
        await producer.send_and_wait("invoicing.events", value=envelope.kafka_value(), key=envelope.kafka_key(),
                                     headers=envelope.kafka_headers())
    finally:
        await producer.stop()


async def test_an_email_invoicing_could_not_deliver_for_good_is_marked_bounced(
    service: RunningService, kafka_bootstrap: str
) -> None:
    registered = await register(service.api, a_person())
    customer_id = registered["customer_id"]
    [email] = registered["contact"]["emails"]
    await publish_delivery_failed(kafka_bootstrap, customer_id, email["id"], bounced=False)
    await publish_delivery_failed(kafka_bootstrap, customer_id, email["id"], bounced=True)

    async def bounced() -> dict[str, Any] | None:
        found = await customer(service.api, customer_id)
        return found if found["contact_point_status"].get(email["id"]) == "bounced" else None

    marked = await eventually(bounced, timeout=20, message="the e-mail was marked bounced")
    bounces = [e for e in await history(service.api, customer_id) if e["type"].endswith("ContactPointBounced")]
    assert len(bounces) == 1 and "550 5.1.1" in bounces[0]["data"]["reason"]
    assert marked["version"] == registered["version"] + 1
