"""Invoicing's events: what was charged, who was billed for it and how much, and what became of
each bill (sent, remitted, voided, credited, moved on to the next party).

They are published on the `invoicing.events` topic, keyed by customer id (catalogue and crosswalk
events by code system and payer id). Their JSON Schemas are in shared/contracts/invoicing/.

An issued invoice is never edited: its total changes only through later events on its stream, so
what a party owes on an invoice, as invoicing knows it, is
``total - credited - written_off - transferred`` (payments adds what was paid):

- ``CreditNoteIssued`` lowers it (a reversal of a charge, a goodwill credit);
- ``RemittanceApplied`` records a payer's answer to a claim: what it paid, what the provider writes
  off (CO/PI adjustments) and what moves on to the next party as a new invoice linked to this one;
- ``InvoiceVoided`` cancels it whole.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, EventRegistry

SOURCE = "/billing/invoicing"
TOPIC = "invoicing.events"
CUSTOMER = "customer"


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- catalogue and crosswalks --------------------------------------------------------------------


class CodeSetImported(DomainEvent):
    """An operator loaded a code file into the catalogue (HCPCS, ICD-10-CM, CPT, a tariff)."""

    event_type = "billing.invoicing.CodeSetImported"
    system: str
    source_name: str
    code_count: int
    sha256: str
    imported_by: str
    imported_at: datetime


class MappedCode(Value):
    """One crosswalk entry: an internal code and the payer's code (and modifiers) for it."""

    system: str = Field(description="The internal code's system, e.g. CPT")
    code: str
    payer_system: str = Field(description="The payer's code system, e.g. HCPCS")
    payer_code: str
    modifiers: list[str] = Field(default=[], description="The payer's modifiers, added to the charge's")


class CrosswalkPublished(DomainEvent):
    """A new version of a payer's crosswalk; it governs services on dates within its effective
    dates, and a later version wins where they overlap."""

    event_type = "billing.invoicing.CrosswalkPublished"
    payer_id: str
    version: int
    effective_from: date
    effective_to: date | None = None
    entries: list[MappedCode]
    published_by: str
    published_at: datetime


# -- charges -------------------------------------------------------------------------------------


class Code(Value):
    system: str = Field(description="HCPCS, CPT, ICD-10-CM or tariff:<name>")
    code: str
    modifiers: list[str] = []


class RenderingProvider(Value):
    given_name: str
    family_name: str
    npi: str = Field(pattern=r"^\d{10}$")


class ChargeRecorded(DomainEvent):
    """A service was rendered and is to be billed. A correction is a ChargeReversed of this
    charge and a new ChargeRecorded naming it in ``corrects``."""

    event_type = "billing.invoicing.ChargeRecorded"
    charge_id: str
    customer_id: str
    service_date: date
    procedure: Code
    description: str
    diagnoses: list[Code] = Field(default=[], description="ICD-10-CM codes of the encounter, in order")
    diagnosis_pointers: list[int] = Field(default=[], description="1-based positions in diagnoses")
    units: Decimal
    unit_price: int = Field(description="Minor units")
    amount: int = Field(description="units x unit_price, rounded half up to the minor unit")
    currency: str
    service_type: str = Field(description="X12 service type whose cost share applies, e.g. 30, 98")
    place_of_service: str
    rendering_provider: RenderingProvider | None = None
    encounter: str = Field(description="Charges of one encounter are billed together")
    corrects: str | None = Field(None, description="The reversed charge this one replaces")
    recorded_by: str
    recorded_at: datetime


class ChargeReversed(DomainEvent):
    """A charge was taken back; when it was already billed, credit notes take it off the bills."""

    event_type = "billing.invoicing.ChargeReversed"
    charge_id: str
    customer_id: str
    reason: str
    reversed_by: str
    reversed_at: datetime


# -- billing -------------------------------------------------------------------------------------


class PartyKind(StrEnum):
    PAYER = "payer"
    CUSTOMER = "customer"


class Responsibility(StrEnum):
    PRIMARY = "primary"
    SECONDARY = "secondary"
    TERTIARY = "tertiary"
    CUSTOMER = "customer"


class BilledParty(Value):
    """Who an invoice is addressed to."""

    kind: PartyKind
    name: str
    payer_id: str | None = None
    payer_kind: str | None = Field(None, description="insurer, government_program, employer, ...")
    coverage_id: str | None = None
    responsibility: Responsibility


class ShareComponents(Value):
    """Why a customer owes a line: the cost share the payers left, or nothing covering it."""

    deductible: int = 0
    copay: int = 0
    coinsurance: int = 0
    not_covered: int = 0


class InvoiceLine(Value):
    line_id: str = Field(description="Stable id of the line; sent as the claim's line item control number")
    charge_id: str
    service_date: date
    code: Code = Field(description="The code as this party is billed: the payer's code when it has one")
    description: str
    units: Decimal
    unit_price: int
    charge_amount: int = Field(description="The whole charge for the line, minor units")
    amount: int = Field(description="What this party is billed for the line, minor units")
    diagnoses: list[str] = Field(default=[], description="ICD-10-CM codes the line treats, in pointer order")
    components: ShareComponents | None = Field(None, description="For the customer: why they owe it")


class ClaimDocument(Value):
    format: Literal["X12 837P 005010X222A1"] = "X12 837P 005010X222A1"
    control_number: int
    document_id: str


class EstimateComparison(Value):
    estimate_id: str
    estimated: int = Field(description="The estimate's customer portion")
    billed: int
    threshold: int
    exceeded: bool


class CoverageBasis(Value):
    coverage_id: str
    payer_id: str
    responsibility: Responsibility
    check_id: str | None = Field(description="The verification whose cost shares were applied")


class EncounterBilled(DomainEvent):
    """An encounter's charges were split between the responsible parties and billed."""

    event_type = "billing.invoicing.EncounterBilled"
    bill_id: str
    customer_id: str
    service_date: date
    charge_ids: list[str]
    currency: str
    coverages: list[CoverageBasis] = Field(description="Verified coverages applied, in coverage order")
    unverified_coverages: list[str] = Field(
        default=[], description="Coverages on file for the date that did not count as verified"
    )
    totals: dict[str, int] = Field(description="Party (coverage id, or 'customer') -> amount billed")
    invoice_ids: dict[str, str] = Field(description="Party -> the invoice billing it")
    billed_at: datetime


class AdjustedAmount(Value):
    group: str = Field(description="CAS group: CO, PR, OA, PI")
    reason_code: str = Field(description="CARC")
    amount: int


class PriorPayer(Value):
    """A payer billed before the one an invoice goes to, and what it decided when it has: the
    next payer's claim must say what it paid and why it left the rest (837P loop 2320)."""

    coverage_id: str
    payer_id: str
    paid: int | None = Field(None, description="What it paid of these lines; None: not decided yet")
    adjustments: list[AdjustedAmount] = []
    decided_on: date | None = None


class InvoiceHeld(DomainEvent):
    """A bill to a payer could not be issued correctly (a code with no mapping to the payer's
    codes, a payer missing from the directory); it is issued once the reason is resolved."""

    event_type = "billing.invoicing.InvoiceHeld"
    invoice_id: str
    customer_id: str
    bill_id: str | None
    party: BilledParty
    lines: list[InvoiceLine] = Field(min_length=1, description="The bill's lines in our own codes")
    currency: str
    transferred_from: str | None = None
    transfer_reason: str | None = None
    prior_payers: list[PriorPayer] = Field(default=[], description="Payers billed before this one")
    reasons: list[str] = Field(min_length=1)
    held_at: datetime


class InvoiceWithdrawn(DomainEvent):
    """A held bill will never be issued: every charge on it was reversed while it was held."""

    event_type = "billing.invoicing.InvoiceWithdrawn"
    invoice_id: str
    customer_id: str
    reason: str
    withdrawn_at: datetime


class InvoiceIssued(DomainEvent):
    """An invoice to one party, with its number in its series."""

    event_type = "billing.invoicing.InvoiceIssued"
    invoice_id: str
    number: str
    series: str
    customer_id: str
    bill_id: str | None
    party: BilledParty
    lines: list[InvoiceLine] = Field(min_length=1)
    total: int
    currency: str
    issue_date: date
    due_date: date
    payment_terms: str
    transferred_from: str | None = Field(None, description="The invoice whose remainder this bills")
    transfer_reason: str | None = None
    claim: ClaimDocument | None = Field(None, description="The 837P sent for it, for insurers")
    estimate: EstimateComparison | None = None
    issued_at: datetime


class InvoiceExceededEstimate(DomainEvent):
    """A customer invoice is above the customer's estimate by more than the estimate's threshold."""

    event_type = "billing.invoicing.InvoiceExceededEstimate"
    invoice_id: str
    number: str
    customer_id: str
    estimate_id: str
    estimated: int
    billed: int
    threshold: int
    excess: int
    currency: str
    flagged_at: datetime


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    LETTER = "letter"
    X12 = "x12"  # an 837P claim submitted to the payer's clearinghouse, acknowledged by a 999


class DocumentSent(DomainEvent):
    """What every delivery event says: where the document went and the proof it went."""

    customer_id: str
    channel: DeliveryChannel
    recipient: str = Field(
        description="The e-mail address, the addressee of the letter, or the clearinghouse's claims endpoint"
    )
    contact_point_id: str | None = Field(None, description="The customer's contact point it went to")
    reference: str = Field(description="The e-mail's Message-ID, the print job, or the 999's control number")
    sent_at: datetime


class DeliveryFailed(DomainEvent):
    """A document could not be delivered. ``bounced`` says the recipient was refused for good, so
    registration can mark the contact point."""

    customer_id: str
    channel: DeliveryChannel
    recipient: str | None
    contact_point_id: str | None = None
    reason: str
    bounced: bool
    failed_at: datetime


class InvoiceSent(DocumentSent):
    """An invoice reached its party: by e-mail, as a letter queued for printing, or as a claim
    the payer's clearinghouse acknowledged."""

    event_type = "billing.invoicing.InvoiceSent"
    invoice_id: str


class InvoiceDeliveryFailed(DeliveryFailed):
    event_type = "billing.invoicing.InvoiceDeliveryFailed"
    invoice_id: str


class RemittedLineOutcome(Value):
    line_id: str
    expected: int = Field(description="What this party was billed for the line")
    paid: int
    written_off: int
    transferred: int
    reasons: list[str] = Field(default=[], description="Adjustments as GROUP-CARC, e.g. PR-96")


class RemittanceApplied(DomainEvent):
    """A payer's remittance for this invoice's claim: paid, written off (CO/PI adjustments up to
    the shortfall) and transferred (the rest of the shortfall) to ``transferred_to``."""

    event_type = "billing.invoicing.RemittanceApplied"
    invoice_id: str
    customer_id: str
    remittance_id: str
    claim_reference: str
    denied: bool
    lines: list[RemittedLineOutcome]
    paid: int
    written_off: int
    transferred: int
    transferred_to: str | None = Field(None, description="The new invoice billing the remainder")
    applied_at: datetime


class InvoiceVoided(DomainEvent):
    event_type = "billing.invoicing.InvoiceVoided"
    invoice_id: str
    number: str
    customer_id: str
    reason: str
    voided_by: str
    voided_at: datetime


class CreditedLine(Value):
    line_id: str
    amount: int


class CreditNoteIssued(DomainEvent):
    """A credit note against an invoice, numbered in its own series."""

    event_type = "billing.invoicing.CreditNoteIssued"
    credit_note_id: str
    number: str
    series: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    lines: list[CreditedLine] = Field(min_length=1)
    total: int
    currency: str
    reason: str
    issued_by: str
    issue_date: date
    issued_at: datetime


class CreditNoteSent(DocumentSent):
    """A credit note reached the party it credits, like its invoice did."""

    event_type = "billing.invoicing.CreditNoteSent"
    credit_note_id: str
    invoice_id: str


class CreditNoteDeliveryFailed(DeliveryFailed):
    event_type = "billing.invoicing.CreditNoteDeliveryFailed"
    credit_note_id: str
    invoice_id: str


# -- statements ----------------------------------------------------------------------------------


class StatementItem(Value):
    invoice_id: str
    number: str
    issue_date: date
    due_date: date
    total: int
    open: int


class StatementIssued(DomainEvent):
    """A customer's periodic statement of open items."""

    event_type = "billing.invoicing.StatementIssued"
    statement_id: str
    number: str
    customer_id: str
    statement_date: date
    items: list[StatementItem]
    total_open: int
    currency: str
    issued_at: datetime


class StatementSent(DocumentSent):
    event_type = "billing.invoicing.StatementSent"
    statement_id: str


class StatementDeliveryFailed(DeliveryFailed):
    event_type = "billing.invoicing.StatementDeliveryFailed"
    statement_id: str


INVOICING_EVENTS = EventRegistry(
    [
        CodeSetImported,
        CrosswalkPublished,
        ChargeRecorded,
        ChargeReversed,
        EncounterBilled,
        InvoiceHeld,
        InvoiceWithdrawn,
        InvoiceIssued,
        InvoiceExceededEstimate,
        InvoiceSent,
        InvoiceDeliveryFailed,
        RemittanceApplied,
        InvoiceVoided,
        CreditNoteIssued,
        CreditNoteSent,
        CreditNoteDeliveryFailed,
        StatementIssued,
        StatementSent,
        StatementDeliveryFailed,
    ]
)
