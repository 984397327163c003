"""Payments' events: money received from every kind of party and where it went, payers'
remittances (X12 835) claim by claim, payment plans, missed payments, and how to pay.

They are published on the `payments.events` topic, keyed by customer id (a remittance by payer,
payment instructions by business). Their JSON Schemas are in shared/contracts/payments/.

Money on a customer's account moves only through these events, so for every payment
``amount = allocated + refunded + unallocated`` (a reversed payment keeps nothing), and what is
still owed on an invoice, as payments knows it, is invoicing's
``total - credited - written_off - transferred`` (or nothing once voided) less what payments
allocated to it:

- ``PaymentReceived``: money came in (gross of a collection agency's fee, which ``fee`` states);
- ``PaymentAllocated``: some of it paid invoices; ``AllocationReleased`` gives an allocation back to
  the payment's unallocated credit (the invoice was credited or voided after it was paid);
- ``RefundIssued``: unallocated credit was paid back;
- ``PaymentReversed``: the money never arrived after all (a bounced cheque, a chargeback): its
  allocations are released and the invoices are owed again.

A payer's remittance is ``RemittancePosted`` (the whole 835) and one event per claim:

- ``ClaimAdjusted``: the payer paid the claim, possibly less than billed, with its adjustments;
- ``ClaimDenied``: the payer denied the claim, or some of its lines, paying nothing for them.

Both carry every line the payer reported with what it paid and its adjustments, so a consumer
reconciles a line from one event: charge = paid + the sum of its adjustments (the 835's balancing
rule). Adjustment groups follow X12 CAS01: CO contractual obligation and PI payer initiated are
the provider's to write off; PR patient responsibility and OA other adjustments remain to be paid
by the next party (a secondary payer, or the customer).

``PaymentMissed`` is published once per due item (an invoice past its due date, an instalment of
a plan past its due date), however often the scheduler looks.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, EventRegistry

SOURCE = "/billing/payments"
TOPIC = "payments.events"


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AdjustmentGroup(StrEnum):
    """CAS01 claim adjustment group code."""

    CONTRACTUAL_OBLIGATION = "CO"
    PATIENT_RESPONSIBILITY = "PR"
    OTHER_ADJUSTMENT = "OA"
    PAYER_INITIATED = "PI"
    CORRECTION_REVERSAL = "CR"


class Adjustment(Value):
    """One CAS reason: why part of a claim or line was not paid."""

    group: AdjustmentGroup
    reason_code: str = Field(description="CARC, claim adjustment reason code, e.g. '45', '96', '2'")
    amount: int = Field(description="Minor units; negative when the payer reverses an adjustment")
    quantity: str | None = None
    description: str | None = Field(None, description="The CARC's text, when known")


class RemittedLine(Value):
    """One service line (SVC loop) of a claim as the payer adjudicated it."""

    line_reference: str | None = Field(
        description="REF*6R: the line item control number the claim sent, echoed back"
    )
    procedure_code: str = Field(description="SVC01 as adjudicated, e.g. 'HC:99213'")
    charge: int = Field(description="SVC02: what was billed for the line, minor units")
    paid: int = Field(description="SVC03: what the payer paid for the line, minor units")
    allowed: int | None = Field(None, description="AMT*B6 allowed amount, when sent")
    units: str | None = None
    service_date: date | None = None
    adjustments: list[Adjustment] = []
    remark_codes: list[str] = Field(default=[], description="RARC remark codes (LQ*HE), e.g. 'N130'")


class ClaimRemittance(DomainEvent):
    """What one CLP loop of an 835 said about one claim."""

    remittance_id: str = Field(description="The remittance (835) this claim came in")
    claim_reference: str = Field(
        description="CLP01: the patient control number our claim sent (CLM01), i.e. the invoice number"
    )
    payer_claim_number: str | None = Field(None, description="CLP07: the payer's own claim number")
    payer_id: str
    customer_id: str
    claim_status: str = Field(description="CLP02: 1 processed as primary, 2 secondary, 3 tertiary, 4 denied, 22 reversal")
    currency: str = "USD"
    charge: int = Field(description="CLP03: total billed, minor units")
    paid: int = Field(description="CLP04: total paid, minor units")
    patient_responsibility: int = Field(0, description="CLP05, minor units")
    claim_adjustments: list[Adjustment] = Field(default=[], description="CAS at claim level")
    lines: list[RemittedLine]
    payment_date: date | None = Field(None, description="BPR16: when the payer pays")
    posted_at: datetime


class ClaimAdjusted(ClaimRemittance):
    """The payer paid the claim, possibly less than billed; the adjustments say why."""

    event_type = "billing.payments.ClaimAdjusted"


class ClaimDenied(ClaimRemittance):
    """The payer denied the claim (CLP02 = 4) or some of its lines, paying nothing for them;
    ``denied_line_references`` names the denied lines (all of them when the whole claim was)."""

    event_type = "billing.payments.ClaimDenied"
    denied_line_references: list[str] = Field(default=[])




# -- payments ------------------------------------------------------------------------------------


class PartyKind(StrEnum):
    """Who paid."""

    CUSTOMER = "customer"
    INSURER = "insurer"
    GOVERNMENT_AGENCY = "government_agency"
    EMPLOYER = "employer"
    COLLECTION_AGENCY = "collection_agency"
    OTHER = "other"


class PaymentMethod(StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CHEQUE = "cheque"
    EFT = "eft"  # a payer's ACH payment, as an 835's BPR04 says
    OTHER = "other"


class PaymentChannel(StrEnum):
    """How we learned of the payment."""

    DESK = "desk"  # recorded by staff or an internal system over HTTP
    GATEWAY = "gateway"  # a card or bank gateway's signed notification
    REMITTANCE = "remittance"  # an 835 from a payer
    AGENCY = "agency"  # reported by a collection agency


class PayingParty(Value):
    kind: PartyKind
    name: str
    payer_id: str | None = Field(None, description="The payer's id in eligibility's directory")
    agency_id: str | None = Field(None, description="The collection agency's id")


class PaymentReceived(DomainEvent):
    """Money came in for a customer's account. ``amount`` is what the account is credited with; a
    collection agency keeps ``fee`` of it, so ``amount - fee`` reached the provider."""

    event_type = "billing.payments.PaymentReceived"
    payment_id: str
    customer_id: str
    party: PayingParty
    method: PaymentMethod
    channel: PaymentChannel
    amount: int = Field(gt=0, description="Minor units")
    fee: int = Field(0, ge=0, description="A collection agency's fee, minor units")
    currency: str
    reference: str | None = Field(None, description="Cheque number, card authorisation, bank or EFT trace")
    received_on: date
    gateway: str | None = None
    remittance_id: str | None = None
    recorded_by: str
    recorded_at: datetime


class AllocationRule(StrEnum):
    EXPLICIT = "explicit"  # the caller named the invoices
    OLDEST_FIRST = "oldest_first"  # open invoices by due date, then number
    REMITTANCE = "remittance"  # the claim the payer's 835 paid
    CREDIT = "credit"  # the account's credit, applied to a new invoice


class Allocation(Value):
    invoice_id: str
    invoice_number: str
    amount: int = Field(gt=0)


class PaymentAllocated(DomainEvent):
    """Some of a payment paid invoices of its customer."""

    event_type = "billing.payments.PaymentAllocated"
    payment_id: str
    customer_id: str
    allocations: list[Allocation] = Field(min_length=1)
    currency: str
    rule: AllocationRule
    unallocated: int = Field(description="What is left of the payment after these, minor units")
    allocated_at: datetime


class AllocationReleased(DomainEvent):
    """An allocation given back to its payment's unallocated credit: the invoice now asks less
    than was paid on it (a credit note, a void, a write-off after the payment)."""

    event_type = "billing.payments.AllocationReleased"
    payment_id: str
    customer_id: str
    invoice_id: str
    invoice_number: str
    amount: int = Field(gt=0)
    currency: str
    reason: str
    released_at: datetime


class RefundIssued(DomainEvent):
    """Unallocated credit of a payment was paid back."""

    event_type = "billing.payments.RefundIssued"
    payment_id: str
    refund_id: str
    customer_id: str
    amount: int = Field(gt=0)
    currency: str
    method: PaymentMethod
    reference: str | None = None
    reason: str
    refunded_by: str
    refunded_at: datetime


class ReversalReason(StrEnum):
    BOUNCED_CHEQUE = "bounced_cheque"
    CHARGEBACK = "chargeback"
    BANK_RETURN = "bank_return"
    RECORDED_IN_ERROR = "recorded_in_error"


class PaymentReversed(DomainEvent):
    """The money never arrived or was taken back: what was allocated is owed again and what was
    unallocated is gone."""

    event_type = "billing.payments.PaymentReversed"
    payment_id: str
    customer_id: str
    amount: int = Field(description="What the account loses: the payment less what was refunded")
    currency: str
    reason: ReversalReason
    released: list[Allocation] = Field(default=[], description="The allocations undone")
    reference: str | None = None
    reversed_by: str
    reversed_at: datetime


# -- remittances ---------------------------------------------------------------------------------


class PostedClaim(Value):
    claim_reference: str = Field(description="CLP01, our invoice number")
    invoice_id: str | None = Field(description="The invoice it answers; None: no such invoice here")
    customer_id: str | None
    claim_status: str
    charge: int
    paid: int
    patient_responsibility: int
    payment_id: str | None = Field(None, description="The payment that carries what it paid")


class PostedProviderAdjustment(Value):
    reason_code: str
    reference: str | None = None
    amount: int


class RemittancePosted(DomainEvent):
    """A payer's 835 was posted: each claim it answers is paid (a payment allocated to the
    payer's invoice) and told to invoicing (ClaimAdjusted or ClaimDenied)."""

    event_type = "billing.payments.RemittancePosted"
    remittance_id: str
    payer_id: str | None = Field(description="Our payer id, from the invoices the claims answer")
    payer_name: str
    payer_identifier: str | None
    trace_number: str
    payment_method: str = Field(description="BPR04: ACH, CHK, BOP, FWT or NON")
    payment_amount: int
    payment_date: date
    currency: str
    claims: list[PostedClaim]
    provider_adjustments: list[PostedProviderAdjustment] = Field(default=[])
    unmatched_amount: int = Field(description="Paid for claims we do not know, minor units")
    document_sha256: str
    posted_by: str
    posted_at: datetime


# -- payment plans -------------------------------------------------------------------------------


class Frequency(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class Instalment(Value):
    sequence: int = Field(ge=0, description="0 is the down payment")
    due_date: date
    amount: int = Field(gt=0)


class PaymentPlanAgreed(DomainEvent):
    """A customer agreed to pay a balance in instalments; while it is in good standing its
    invoices are not treated as overdue."""

    event_type = "billing.payments.PaymentPlanAgreed"
    plan_id: str
    customer_id: str
    invoice_ids: list[str] = Field(min_length=1)
    currency: str
    total: int
    down_payment: int
    frequency: Frequency
    instalments: list[Instalment] = Field(min_length=1)
    minimum_instalment: int
    default_after_missed: int = Field(description="Missed instalments that default the plan")
    grace_days: int
    agreed_by: str
    agreed_at: datetime


class PlanPaymentApplied(DomainEvent):
    """A payment to the plan's invoices counted toward the plan: it pays the earliest instalment
    not yet paid."""

    event_type = "billing.payments.PlanPaymentApplied"
    plan_id: str
    customer_id: str
    payment_id: str
    amount: int = Field(gt=0)
    paid_to_date: int
    instalments_paid: list[int] = Field(description="Instalments this payment completed")
    applied_at: datetime


class PlanPaymentReversed(DomainEvent):
    """A payment that counted toward the plan was reversed or its allocation released."""

    event_type = "billing.payments.PlanPaymentReversed"
    plan_id: str
    customer_id: str
    payment_id: str
    amount: int = Field(gt=0)
    paid_to_date: int
    reversed_at: datetime


class PaymentPlanCompleted(DomainEvent):
    event_type = "billing.payments.PaymentPlanCompleted"
    plan_id: str
    customer_id: str
    total: int
    paid: int
    currency: str
    completed_at: datetime


class PaymentPlanDefaulted(DomainEvent):
    """Too many instalments were missed: the plan ends and its invoices are owed as they stand."""

    event_type = "billing.payments.PaymentPlanDefaulted"
    plan_id: str
    customer_id: str
    missed_instalments: list[int]
    outstanding: int
    currency: str
    defaulted_at: datetime


class DueItem(StrEnum):
    INVOICE = "invoice"
    INSTALMENT = "instalment"


class PaymentMissed(DomainEvent):
    """A due item was not paid by its due date (and the grace days after it). Published once per
    due item."""

    event_type = "billing.payments.PaymentMissed"
    customer_id: str
    item: DueItem
    invoice_id: str | None = None
    invoice_number: str | None = None
    billed_party: str = Field(description="Who was billed: 'customer', or 'payer' for a payer's invoice")
    plan_id: str | None = None
    instalment: int | None = Field(None, description="The instalment's sequence (0 is the down payment)")
    due_date: date
    amount: int = Field(description="What is still unpaid of the item, minor units")
    currency: str
    days_overdue: int
    as_of: date = Field(description="The business date the scheduler ran for")
    detected_at: datetime


# -- how to pay ----------------------------------------------------------------------------------


class PaymentOption(Value):
    """One way to pay, with what a customer needs to use it."""

    method: PaymentMethod
    label: str
    url: str | None = Field(None, description="Card or online payment link")
    account_name: str | None = None
    bank_name: str | None = None
    iban: str | None = None
    bic: str | None = None
    routing_number: str | None = None
    account_number: str | None = None
    payable_to: str | None = Field(None, description="For cheques")
    address_lines: list[str] = Field(default=[], description="Where cheques or cash go")
    reference_hint: str | None = Field(None, description="What to quote, e.g. 'your invoice number'")


class PaymentInstructionsPublished(DomainEvent):
    """How a business's customers can pay, as demands and statements print it."""

    event_type = "billing.payments.PaymentInstructionsPublished"
    business_id: str
    business_name: str
    options: list[PaymentOption] = Field(min_length=1)
    notes: str | None = None
    published_by: str
    published_at: datetime


PAYMENTS_EVENTS = EventRegistry([
    ClaimAdjusted, ClaimDenied, PaymentReceived, PaymentAllocated, AllocationReleased, RefundIssued,
    PaymentReversed, RemittancePosted, PaymentPlanAgreed, PlanPaymentApplied, PlanPaymentReversed,
    PaymentPlanCompleted, PaymentPlanDefaulted, PaymentMissed, PaymentInstructionsPublished,
])
