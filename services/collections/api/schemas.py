"""Request and response bodies of collections' HTTP API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.collections.domain.events import DisputeOutcome, Itemization, RecallReason

CURRENCY = r"^[A-Z]{3}$"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- standing ------------------------------------------------------------------------------------

BUCKETS = ("current", "1-30", "31-60", "61-90", "91-120", "120+")


class AgingPublic(BaseModel):
    currency: str
    buckets: dict[str, int] = Field(description="Balance per aging bucket (days past due), minor units")
    total: int


class DebtLinePublic(BaseModel):
    invoice_id: str
    invoice_number: str
    currency: str
    original_amount: int
    payments: int
    adjustments: int
    balance: int
    due_date: date
    days_past_due: int
    bucket: str
    in_plan: bool
    debt_status: str | None = Field(description="Dunning status, if the invoice became a debt in arrears")


class CustomerStandingPublic(BaseModel):
    customer_id: str
    as_of: date
    invoices: list[DebtLinePublic]
    aging: list[AgingPublic]


class StandingPublic(BaseModel):
    as_of: date
    aging: list[AgingPublic]
    customers: int = Field(description="Customers with a balance")


# -- debts ---------------------------------------------------------------------------------------


class NoticePublic(BaseModel):
    notice_id: str
    kind: str
    step: str | None
    channel: str
    recipient: str
    status: str
    issued_at: datetime
    deadline: date | None


class PostponementPublic(BaseModel):
    action: str
    guard: str
    until: datetime | None
    reason: str
    postponed_at: datetime


class PlacementPublic(BaseModel):
    placement_id: str
    debt_id: str
    customer_id: str
    agency_id: str
    account_reference: str
    status: str
    currency: str
    placed_balance: int
    collected: int
    fees: int
    agency_reference: str | None
    escalated_at: datetime
    closed_reason: str | None


class DebtPublic(BaseModel):
    debt_id: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    business_id: str
    status: str = Field(description="dunning, escalated, settled or returned")
    due_date: date
    days_past_due: int
    itemization: Itemization
    last_step: str | None
    dispute_open: bool
    paused_by_plan: bool
    notices: list[NoticePublic]
    postponed: PostponementPublic | None = Field(description="The action a guard holds back now, if any")
    contact_attempts: int
    placement: PlacementPublic | None
    version: int


class DebtsPublic(BaseModel):
    items: list[DebtPublic]


class DunningRunRequest(Body):
    at: datetime | None = Field(None, description="Review as of this moment; defaults to now")


class DunningRunPublic(BaseModel):
    at: datetime
    reviewed: int
    conflicts: int = Field(description="Debts that kept changing while reviewed, left for the next run")
    failed: int = Field(description="Debts whose review failed (see the log), tried again by the next run")
    outcomes: dict[str, int] = Field(description="Events recorded, by type")


class ContactAttemptCreate(Body):
    channel: str = Field(pattern=r"^(phone|sms|email|letter|in_person)$")
    outcome: str = Field(min_length=1, max_length=40, description="e.g. reached, voicemail, no_answer")
    note: str | None = Field(None, max_length=2000)
    attempted_at: datetime | None = Field(None, description="Defaults to now")


class DisputeCreate(Body):
    reason: str = Field(min_length=1, max_length=2000)


class DisputeResolution(Body):
    outcome: DisputeOutcome
    note: str | None = Field(None, max_length=2000)


class DisputePublic(BaseModel):
    dispute_id: str
    debt_id: str


class RecallCreate(Body):
    reason: RecallReason = Field(description="placed_in_error, disputed, paid_directly or settled")
    note: str | None = Field(None, max_length=2000)


class VerificationTaskPublic(BaseModel):
    debt_id: str
    customer_id: str
    channel: str
    contact_point_id: str | None
    reason: str
    status: str
    requested_at: datetime
    resolved_at: datetime | None


class VerificationTasksPublic(BaseModel):
    items: list[VerificationTaskPublic]


# -- agencies ------------------------------------------------------------------------------------


class AcknowledgementCreate(Body):
    agency_reference: str | None = Field(None, max_length=100, description="The agency's own account number")


class AgencyPaymentCreate(Body):
    amount: int = Field(gt=0, description="What the debtor paid the agency (gross of its fee), minor units")
    currency: str = Field(pattern=CURRENCY)
    collected_on: date | None = Field(None, description="Defaults to today")
    reference: str | None = Field(None, max_length=100)


class AgencyPaymentPublic(BaseModel):
    report_id: str
    placement_id: str
    amount: int
    fee: int = Field(description="The agency's fee at its agreed rate, minor units")
    net: int = Field(description="What reaches the provider: amount - fee")
    currency: str
    collected_on: date


class ReturnCreate(Body):
    reason: str = Field(min_length=1, max_length=2000, description="Why the account is uncollectible")


class PlacementsPublic(BaseModel):
    items: list[PlacementPublic]
