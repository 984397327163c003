"""Collections' events: each debt in arrears, the notices sent for it, what held them back, and
its life with a collection agency.

They are published on the `collections.events` topic keyed by customer id; their JSON Schemas are
in shared/contracts/collections/. A debt is one customer invoice that went unpaid past its due
date (payments' PaymentMissed opens it); its stream is ``debt-<invoice id>``.

- ``DebtOpened`` starts dunning; ``DebtSettled`` ends it (paid, credited or voided).
- ``DemandIssued`` is a notice of the business's dunning policy (reminder, first demand, second
  demand, final notice), ``ValidationNoticeIssued`` the notice a debt needs before it may be
  escalated; both carry the itemization, how to pay and a deadline, and are delivered like
  invoices (``NoticeSent`` or ``NoticeDeliveryFailed``).
- ``ContactAttemptRecorded`` is a call or letter staff made outside the policy; it counts toward
  the contact limits like a notice does.
- ``ActionPostponed`` says a compliance guard held an action back and until when (if known): a
  blocked action is postponed, never dropped.
- ``ContactVerificationRequested`` is a skip-trace task: the contact point a notice needs is
  unknown or bounced.
- ``DisputeOpened`` and ``DisputeResolved``: no contact and no escalation while a dispute is open.
- ``AccountEscalated`` places the debt with a collection agency; ``PlacementAcknowledged``,
  ``AgencyPaymentReported``, ``AccountRecalled`` and ``AccountReturned`` follow the placement.
  What the agency itself reads is the agency contract (``agency.py``), on its own topic.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from shared.events import DomainEvent, EventRegistry

SOURCE = "/billing/collections"
TOPIC = "collections.events"


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Step(StrEnum):
    """The notices of a dunning policy, in the order they are sent."""

    REMINDER = "reminder"
    FIRST_DEMAND = "first_demand"
    SECOND_DEMAND = "second_demand"
    FINAL_NOTICE = "final_notice"


class Action(StrEnum):
    """What dunning does next for a debt."""

    REMINDER = "reminder"
    FIRST_DEMAND = "first_demand"
    SECOND_DEMAND = "second_demand"
    FINAL_NOTICE = "final_notice"
    VALIDATION_NOTICE = "validation_notice"
    ESCALATE = "escalate"


class Guard(StrEnum):
    """Why an action was held back."""

    CONTACT_LIMIT = "contact_limit"  # too many contact attempts in the window
    CONTACT_HOURS = "contact_hours"  # outside the customer's local contact hours
    DO_NOT_CONTACT = "do_not_contact"
    DECEASED = "deceased"
    DISPUTE_OPEN = "dispute_open"
    VALIDATION_PERIOD = "validation_period"  # escalation waits for the validation notice's period
    NON_PROFIT_WAIT = "non_profit_wait"  # escalation waits after the first statement
    CONTACT_UNUSABLE = "contact_unusable"  # no usable contact point for the notice's channel


class Channel(StrEnum):
    EMAIL = "email"
    LETTER = "letter"


class Itemization(Value):
    """The debt as the customer is told it: what was billed, what came off it, what is left."""

    itemization_date: date = Field(description="The date the amounts are stated as of")
    currency: str
    original_amount: int = Field(description="What the invoice billed the customer, minor units")
    payments: int = Field(description="Payments applied to it, minor units")
    adjustments: int = Field(description="Credit notes, write-offs and amounts moved to another party, minor units")
    balance: int = Field(description="original_amount - payments - adjustments")


class PaymentWay(Value):
    """One way to pay, as payments publishes it for the business."""

    method: str
    label: str
    url: str | None = None
    account_name: str | None = None
    bank_name: str | None = None
    iban: str | None = None
    bic: str | None = None
    routing_number: str | None = None
    account_number: str | None = None
    payable_to: str | None = None
    address_lines: list[str] = []
    reference_hint: str | None = None


class Destination(Value):
    channel: Channel
    recipient: str = Field(description="The e-mail address, or the postal address on one line")
    contact_point_id: str


class DebtOpened(DomainEvent):
    """A customer invoice went unpaid past its due date: dunning starts, its clock at the due date
    (the customer's responsibility is known once the payers have answered and the invoice issued)."""

    event_type = "billing.collections.DebtOpened"
    debt_id: str
    customer_id: str
    business_id: str
    invoice_id: str
    invoice_number: str
    currency: str
    original_amount: int
    balance: int
    issue_date: date
    due_date: date
    service_dates: list[date]
    opened_at: datetime


class DemandIssued(DomainEvent):
    """A dunning notice was issued for a debt: the itemization, how to pay and a deadline."""

    event_type = "billing.collections.DemandIssued"
    notice_id: str
    debt_id: str
    customer_id: str
    step: Step
    template: str
    destination: Destination
    itemization: Itemization
    how_to_pay: list[PaymentWay]
    deadline: date = Field(description="Pay by this date to avoid the next step")
    days_past_due: int
    issued_at: datetime


class ValidationNoticeIssued(DomainEvent):
    """The notice a debt needs before escalation: the itemization date and amounts, and the
    customer's right to dispute by ``dispute_by``."""

    event_type = "billing.collections.ValidationNoticeIssued"
    notice_id: str
    debt_id: str
    customer_id: str
    template: str
    destination: Destination
    itemization: Itemization
    how_to_pay: list[PaymentWay]
    dispute_by: date
    issued_at: datetime


class NoticeSent(DomainEvent):
    """A notice was handed to the mail server or queued for printing."""

    event_type = "billing.collections.NoticeSent"
    notice_id: str
    debt_id: str
    customer_id: str
    channel: Channel
    recipient: str
    reference: str = Field(description="The mail's Message-ID, or the print queue's letter id")
    sent_at: datetime


class NoticeDeliveryFailed(DomainEvent):
    """A notice could not be delivered; ``bounced`` when the contact point refused it for good."""

    event_type = "billing.collections.NoticeDeliveryFailed"
    notice_id: str
    debt_id: str
    customer_id: str
    channel: Channel
    recipient: str
    contact_point_id: str
    bounced: bool
    reason: str
    failed_at: datetime


class ContactAttemptRecorded(DomainEvent):
    """Staff contacted (or tried to contact) the customer about the debt outside the policy."""

    event_type = "billing.collections.ContactAttemptRecorded"
    attempt_id: str
    debt_id: str
    customer_id: str
    channel: str = Field(description="phone, sms, email, letter, in_person")
    outcome: str = Field(description="e.g. reached, voicemail, no_answer")
    note: str | None = None
    attempted_at: datetime
    recorded_by: str


class ActionPostponed(DomainEvent):
    """A compliance guard held an action back; it is taken once the guard allows it."""

    event_type = "billing.collections.ActionPostponed"
    debt_id: str
    customer_id: str
    action: Action
    guard: Guard
    until: datetime | None = Field(None, description="When the guard allows it, if known in advance")
    reason: str
    postponed_at: datetime


class ContactVerificationRequested(DomainEvent):
    """A skip-trace task for staff: the contact point a notice needs is unknown or bounced.
    Notices wait until registration's ContactDetailsChanged gives a usable one."""

    event_type = "billing.collections.ContactVerificationRequested"
    debt_id: str
    customer_id: str
    channel: Channel
    contact_point_id: str | None = Field(None, description="The bounced contact point, if any")
    reason: str
    requested_at: datetime


class DisputeOpened(DomainEvent):
    event_type = "billing.collections.DisputeOpened"
    dispute_id: str
    debt_id: str
    customer_id: str
    reason: str
    opened_by: str
    opened_at: datetime


class DisputeOutcome(StrEnum):
    UPHELD = "upheld"  # the customer was right; the debt is corrected by a credit note
    REJECTED = "rejected"  # the debt stands; dunning resumes
    WITHDRAWN = "withdrawn"


class DisputeResolved(DomainEvent):
    event_type = "billing.collections.DisputeResolved"
    dispute_id: str
    debt_id: str
    customer_id: str
    outcome: DisputeOutcome
    note: str | None = None
    resolved_by: str
    resolved_at: datetime


class SettledHow(StrEnum):
    PAID = "paid"
    CREDITED = "credited"
    VOIDED = "voided"


class DebtSettled(DomainEvent):
    """Nothing is owed on the debt any more: dunning ends."""

    event_type = "billing.collections.DebtSettled"
    debt_id: str
    customer_id: str
    how: SettledHow
    settled_at: datetime


class Flags(Value):
    deceased: bool = False
    attorney_represented: bool = False
    bankruptcy: bool = False


class Debtor(Value):
    """Who owes the debt and how to reach them: only what an agency needs."""

    name: str
    addresses: list[list[str]] = Field(default=[], description="Postal addresses, each as printed lines")
    phones: list[str] = Field(default=[], description="E.164 numbers")
    emails: list[str] = []
    time_zone: str


class AccountEscalated(DomainEvent):
    """The debt was placed with a collection agency, which works it for ``fee_rate_bp`` of what it
    collects. Carries only what the agency needs: no diagnosis or procedure codes."""

    event_type = "billing.collections.AccountEscalated"
    placement_id: str
    debt_id: str
    customer_id: str
    agency_id: str
    agency_name: str
    fee_rate_bp: int = Field(description="The agency's fee in basis points of what it collects")
    account_reference: str = Field(description="The invoice number, as the customer knows the debt")
    debtor: Debtor
    itemization: Itemization
    service_dates: list[date]
    flags: Flags
    escalated_at: datetime


class PlacementAcknowledged(DomainEvent):
    event_type = "billing.collections.PlacementAcknowledged"
    placement_id: str
    debt_id: str
    customer_id: str
    agency_id: str
    agency_reference: str | None = None
    acknowledged_at: datetime


class AgencyPaymentReported(DomainEvent):
    """The agency collected money on a placed debt; ``fee`` of ``amount`` is its commission, so the
    account falls by ``amount`` and ``amount - fee`` reaches the provider."""

    event_type = "billing.collections.AgencyPaymentReported"
    report_id: str
    placement_id: str
    debt_id: str
    customer_id: str
    invoice_id: str
    agency_id: str
    agency_name: str
    amount: int = Field(gt=0)
    fee: int = Field(ge=0)
    currency: str
    collected_on: date
    reference: str | None = None
    reported_at: datetime


class RecallReason(StrEnum):
    PAID_DIRECTLY = "paid_directly"
    DISPUTED = "disputed"
    PLACED_IN_ERROR = "placed_in_error"
    SETTLED = "settled"  # credited or voided after placement


class AccountRecalled(DomainEvent):
    """The debt was taken back from the agency."""

    event_type = "billing.collections.AccountRecalled"
    placement_id: str
    debt_id: str
    customer_id: str
    agency_id: str
    account_reference: str
    reason: RecallReason
    note: str | None = None
    recalled_at: datetime


class AccountReturned(DomainEvent):
    """The agency gave the debt back as uncollectible."""

    event_type = "billing.collections.AccountReturned"
    placement_id: str
    debt_id: str
    customer_id: str
    agency_id: str
    reason: str
    returned_at: datetime


COLLECTIONS_EVENTS = EventRegistry([
    DebtOpened, DemandIssued, ValidationNoticeIssued, NoticeSent, NoticeDeliveryFailed, ContactAttemptRecorded,
    ActionPostponed, ContactVerificationRequested, DisputeOpened, DisputeResolved, DebtSettled,
    AccountEscalated, PlacementAcknowledged, AgencyPaymentReported, AccountRecalled, AccountReturned,
])
