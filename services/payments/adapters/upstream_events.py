"""Other services' events as payments reads them: tolerant readers of their published contracts,
taking only what payments needs: from invoicing's (shared/contracts/invoicing/) what each invoice
asks, from collections' (shared/contracts/collections/) what collection agencies collected.
tests/unit/payments/test_upstream_readers.py holds them to the published JSON Schemas."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

INVOICING_TOPIC = "invoicing.events"
COLLECTIONS_TOPIC = "collections.events"


class Reader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class BilledParty(Reader):
    kind: str  # customer, payer
    payer_id: str | None = None
    payer_kind: str | None = None


class InvoiceIssued(Reader):
    TYPE: ClassVar[str] = "billing.invoicing.InvoiceIssued"
    invoice_id: str
    number: str
    customer_id: str
    party: BilledParty
    total: int
    currency: str
    issue_date: date
    due_date: date


class CreditNoteIssued(Reader):
    TYPE: ClassVar[str] = "billing.invoicing.CreditNoteIssued"
    invoice_id: str
    customer_id: str
    total: int


class RemittanceApplied(Reader):
    TYPE: ClassVar[str] = "billing.invoicing.RemittanceApplied"
    invoice_id: str
    customer_id: str
    written_off: int
    transferred: int


class InvoiceVoided(Reader):
    TYPE: ClassVar[str] = "billing.invoicing.InvoiceVoided"
    invoice_id: str
    customer_id: str


READERS: dict[str, type[Reader]] = {
    reader.TYPE: reader  # type: ignore[attr-defined]
    for reader in (InvoiceIssued, CreditNoteIssued, RemittanceApplied, InvoiceVoided)
}


class AgencyPaymentReported(Reader):
    """A collection agency collected ``amount`` from the customer on a placed invoice and keeps
    ``fee`` of it as its commission."""

    TYPE: ClassVar[str] = "billing.collections.AgencyPaymentReported"
    report_id: str
    customer_id: str
    invoice_id: str
    agency_id: str
    agency_name: str
    amount: int
    fee: int
    currency: str
    collected_on: date
    reference: str | None = None


COLLECTIONS_READERS: dict[str, type[Reader]] = {
    reader.TYPE: reader  # type: ignore[attr-defined]
    for reader in (AgencyPaymentReported,)
}
