"""Invoicing's delivery failures as registration reads them: a tolerant reader of the published
contracts (shared/contracts/invoicing/), taking only what marks a contact point bounced."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

TOPIC = "invoicing.events"
DELIVERY_FAILED = frozenset({
    "billing.invoicing.InvoiceDeliveryFailed", "billing.invoicing.CreditNoteDeliveryFailed",
    "billing.invoicing.StatementDeliveryFailed",
})


class DeliveryFailed(BaseModel):
    """A document could not be delivered; ``bounced`` when the recipient was refused for good."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    customer_id: str
    channel: str
    recipient: str | None = None
    contact_point_id: str | None = None
    reason: str
    bounced: bool
