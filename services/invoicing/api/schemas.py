"""The bodies of invoicing's HTTP API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.invoicing.domain.events import (
    BilledParty,
    ChargeRecorded,
    ClaimDocument,
    CreditNoteDeliveryFailed,
    CreditNoteIssued,
    CreditNoteSent,
    EstimateComparison,
    InvoiceDeliveryFailed,
    InvoiceLine,
    InvoiceSent,
    MappedCode,
    RemittanceApplied,
    StatementDeliveryFailed,
    StatementIssued,
    StatementSent,
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChargePublic(BaseModel):
    charge: ChargeRecorded
    status: str = Field(description="unbilled, billed or reversed")
    bill_id: str | None
    version: int


class ChargesPublic(BaseModel):
    items: list[ChargePublic]


class Reversal(Body):
    reason: str = Field(min_length=1, max_length=500)


class ReversalPublic(BaseModel):
    charge: ChargePublic
    credit_notes: list[CreditNoteIssued]


class CrosswalkCreate(Body):
    version: int | None = Field(None, ge=1, description="The version expected next; omit to take the next")
    effective_from: date
    effective_to: date | None = None
    entries: list[MappedCode] = Field(max_length=10_000)


class CrosswalkVersionPublic(BaseModel):
    payer_id: str
    version: int
    effective_from: date
    effective_to: date | None
    entries: list[MappedCode]


class CrosswalkVersionsPublic(BaseModel):
    items: list[CrosswalkVersionPublic]


class BillingRunRequest(Body):
    customer_id: str | None = Field(None, description="Only this customer's encounters")


class EncounterPublic(BaseModel):
    customer_id: str
    encounter: str
    bill_id: str | None
    issued: list[str]
    held: list[str]
    waiting: str | None = Field(description="Why the encounter was not billed yet")


class BillingRunPublic(BaseModel):
    encounters: list[EncounterPublic]


class InvoiceSummary(BaseModel):
    invoice_id: str
    number: str | None
    customer_id: str
    party_kind: str
    payer_id: str | None
    responsibility: str
    party_name: str
    status: str
    hold_reasons: list[str]
    total: int
    open_amount: int
    currency: str | None
    issue_date: date | None
    due_date: date | None
    transferred_from: str | None
    flagged: bool
    delivery: str | None


class InvoicesPublic(BaseModel):
    items: list[InvoiceSummary]


class InvoicePublic(BaseModel):
    invoice_id: str
    version: int
    status: str
    number: str | None
    customer_id: str | None
    bill_id: str | None
    party: BilledParty | None
    lines: list[InvoiceLine]
    total: int
    open_amount: int = Field(description="The total less credit notes, write-offs and what moved on to the next party")
    received_by_payments: int = Field(
        description="What payments allocated to it, as payments reported; a customer invoice's statement "
        "lists open_amount less this. A payer's remittance is already in open_amount."
    )
    currency: str | None
    issue_date: date | None
    due_date: date | None
    payment_terms: str | None
    hold_reasons: list[str]
    transferred_from: str | None
    transfer_reason: str | None
    claim: ClaimDocument | None
    estimate: EstimateComparison | None
    flagged: bool
    credit_notes: list[CreditNoteIssued]
    remittances: list[RemittanceApplied]
    deliveries: list[InvoiceSent | InvoiceDeliveryFailed]
    credit_note_deliveries: list[CreditNoteSent | CreditNoteDeliveryFailed]


class Voiding(Body):
    reason: str = Field(min_length=1, max_length=500)


class CreditNoteCreate(Body):
    reason: str = Field(min_length=1, max_length=500)
    lines: dict[str, int] | None = Field(
        None, description="Line id -> minor units to credit; omit to credit everything still open"
    )


class StatementRunRequest(Body):
    statement_date: date | None = Field(None, description="Defaults to today")
    customer_id: str | None = None


class StatementRunPublic(BaseModel):
    statement_ids: list[str]


class StatementPublic(BaseModel):
    statement: StatementIssued
    deliveries: list[StatementSent | StatementDeliveryFailed]


class CodeImportPublic(BaseModel):
    system: str
    source_name: str
    code_count: int
    added: int
    changed: int
    removed: int
    sha256: str
    imported_at: datetime


class CodeCheckPublic(BaseModel):
    system: str
    code: str
    on: date
    status: str
    message: str
    description: str | None


class PrintJobPublic(BaseModel):
    job_id: str
    document_kind: str
    document_id: str
    recipient_name: str
    address_lines: list[str]
    queued_at: datetime
    printed_at: datetime | None


class PrintJobsPublic(BaseModel):
    items: list[PrintJobPublic]
