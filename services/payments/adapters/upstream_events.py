"""Invoicing's events as payments reads them: tolerant readers of invoicing's published contract
(shared/contracts/invoicing/), taking only what payments needs to know what each invoice asks.
tests/unit/payments/test_upstream_readers.py holds them to the published JSON Schemas."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

INVOICING_TOPIC = "invoicing.events"


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
