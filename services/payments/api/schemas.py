"""Request and response bodies of payments' HTTP API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.payments.domain.events import (
    Frequency,
    Instalment,
    PartyKind,
    PayingParty,
    PaymentChannel,
    PaymentMethod,
    PaymentOption,
    ReversalReason,
)

CURRENCY = r"^[A-Z]{3}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AllocationRequest(Body):
    invoice_id: str = Field(min_length=1)
    amount: int = Field(gt=0, description="Minor units")


class PaymentCreate(Body):
    """A payment to record. Without ``allocations`` it pays the customer's oldest open invoices
    (a payer's: the invoices billed to that payer), unless ``allocate`` is false; the rest is
    credit."""

    customer_id: str = Field(min_length=1)
    party: PayingParty
    method: PaymentMethod
    amount: int = Field(gt=0, description="What the account is credited with, minor units")
    fee: int = Field(0, ge=0, description="A collection agency's fee kept from the amount, minor units")
    currency: str = Field(pattern=CURRENCY)
    reference: str | None = Field(None, max_length=200, description="Cheque number, bank reference, ...")
    received_on: date | None = Field(None, description="Defaults to today")
    allocations: list[AllocationRequest] | None = None
    allocate: bool = True

    @field_validator("party")
    @classmethod
    def agency_reports_as_agency(cls, party: PayingParty) -> PayingParty:
        if party.kind == PartyKind.COLLECTION_AGENCY and not party.agency_id:
            raise ValueError("a collection agency's payment names the agency (agency_id)")
        return party


class AllocationsCreate(Body):
    allocations: list[AllocationRequest] | None = Field(
        None, description="The invoices to pay; none: the oldest open ones"
    )


class CreditApplication(Body):
    currency: str = Field(pattern=CURRENCY)


class CreditAppliedPublic(BaseModel):
    customer_id: str
    currency: str
    applied: int = Field(description="Credit that paid open invoices, minor units")
    credit_left: int


class RefundCreate(Body):
    amount: int = Field(gt=0)
    method: PaymentMethod
    reference: str | None = Field(None, max_length=200)
    reason: str = Field(min_length=1, max_length=500)


class ReversalCreate(Body):
    reason: ReversalReason
    reference: str | None = Field(None, max_length=200)


class AllocationPublic(BaseModel):
    invoice_id: str
    amount: int


class RefundPublic(BaseModel):
    refund_id: str
    amount: int
    method: str
    reference: str | None
    reason: str
    refunded_at: datetime


class PaymentPublic(BaseModel):
    payment_id: str
    customer_id: str
    party: PayingParty
    method: PaymentMethod
    channel: PaymentChannel
    amount: int
    fee: int
    currency: str
    reference: str | None
    received_on: date
    allocated: int
    refunded: int
    unallocated: int
    reversed: bool
    reversal_reason: str | None
    remittance_id: str | None
    allocations: list[AllocationPublic]
    refunds: list[RefundPublic]
    version: int


class PaymentsPublic(BaseModel):
    items: list[PaymentPublic]


class InvoiceBalancePublic(BaseModel):
    invoice_id: str
    number: str
    customer_id: str
    billed_party: str
    payer_id: str | None
    currency: str
    total: int
    credited: int
    written_off: int
    transferred: int
    voided: bool
    owed: int = Field(description="What invoicing says it asks: total less credits, write-offs, transfers")
    paid: int
    balance: int
    due_date: date
    standing: str = Field(description="open, partially_paid, paid, in_plan, overdue or voided")
    plan_id: str | None


class CurrencyBalancePublic(BaseModel):
    currency: str
    owed: int = Field(description="The customer's own open invoices")
    credit: int = Field(description="Payments on the account not yet used")
    net: int = Field(description="owed - credit; negative when the account is in credit")
    overdue: int
    in_plan: int
    with_payers: int = Field(description="Invoices billed to payers, still open")
    payer_credit: int = Field(description="Payers' payments beyond what their invoices asked")
    standing: str = Field(description="open, overdue, in_plan, credit or settled")


class CustomerBalancePublic(BaseModel):
    customer_id: str
    as_of: date
    balances: list[CurrencyBalancePublic]
    invoices: list[InvoiceBalancePublic]


class PlanQuote(Body):
    customer_id: str = Field(min_length=1)
    invoice_ids: list[str] | None = Field(None, description="The invoices; none: all the customer's open ones")
    currency: str = Field(pattern=CURRENCY)
    instalments: int = Field(ge=1, description="How many instalments after the down payment")
    frequency: Frequency = Frequency.MONTHLY
    first_due_date: date
    down_payment: int = Field(0, ge=0)


class PlanCreate(PlanQuote):
    pass


class PlanQuotePublic(BaseModel):
    total: int
    currency: str
    instalments: list[Instalment]
    minimum_instalment: int


class InstalmentPublic(BaseModel):
    sequence: int
    due_date: date
    amount: int
    unpaid: int
    status: str = Field(description="paid, due, missed")


class PlanPublic(BaseModel):
    plan_id: str
    customer_id: str
    status: str
    invoice_ids: list[str]
    currency: str
    total: int
    down_payment: int
    frequency: Frequency
    paid_to_date: int
    outstanding: int
    instalments: list[InstalmentPublic]
    missed: list[int]
    default_after_missed: int
    version: int


class PlansPublic(BaseModel):
    items: list[PlanPublic]


class MissedRunRequest(Body):
    as_of: date | None = Field(None, description="The business date to look at; defaults to today")


class MissedRunPublic(BaseModel):
    as_of: date
    invoices_missed: int
    instalments_missed: int
    plans_defaulted: int
    plans_completed: int


class MissedPaymentPublic(BaseModel):
    due_item: str
    item: str
    invoice_id: str | None
    plan_id: str | None
    instalment: int | None
    due_date: date
    amount: int
    currency: str
    days_overdue: int
    as_of: date
    detected_at: datetime


class MissedPaymentsPublic(BaseModel):
    items: list[MissedPaymentPublic]


class InstructionsUpdate(Body):
    business_name: str = Field(min_length=1, max_length=200)
    options: list[PaymentOption] = Field(min_length=1)
    notes: str | None = Field(None, max_length=2000)

    @field_validator("options")
    @classmethod
    def each_option_is_usable(cls, options: list[PaymentOption]) -> list[PaymentOption]:
        for position, option in enumerate(options):
            missing = {
                PaymentMethod.CARD: [] if option.url else ["url"],
                PaymentMethod.BANK_TRANSFER: ([] if option.account_name else ["account_name"]) + (
                    [] if option.iban or (option.routing_number and option.account_number)
                    else ["iban (or routing_number and account_number)"]
                ),
                PaymentMethod.CHEQUE: ([] if option.payable_to else ["payable_to"])
                + ([] if option.address_lines else ["address_lines"]),
            }.get(option.method, [])
            if missing:
                raise ValueError(f"options[{position}] ({option.method}) needs {', '.join(missing)}")
        return options


class InstructionsPublic(BaseModel):
    business_id: str
    business_name: str
    options: list[PaymentOption]
    notes: str | None
    published_at: datetime
    version: int


class PostedClaimPublic(BaseModel):
    claim_reference: str
    invoice_id: str | None
    customer_id: str | None
    claim_status: str
    charge: int
    paid: int
    patient_responsibility: int
    payment_id: str | None


class RemittancePublic(BaseModel):
    remittance_id: str
    payer_id: str | None
    payer_name: str
    trace_number: str
    payment_method: str
    payment_amount: int
    payment_date: date
    currency: str
    unmatched_amount: int
    claims: list[PostedClaimPublic]
    posted_at: datetime


class RemittancesPublic(BaseModel):
    items: list[RemittancePublic]


class NotificationOutcome(BaseModel):
    notification_id: str
    outcome: str = Field(description="taken, duplicate or ignored")
