"""Other services' events as collections reads them: tolerant readers of the published contracts
(shared/contracts/), taking only what collections needs. tests/unit/collections/
test_upstream_readers.py holds them to the published JSON Schemas.

- registration: who the customer is, how to reach them, which contact points bounced, and the
  flags that stop contact (do-not-contact, deceased) or matter to an agency (attorney, bankruptcy);
- invoicing: customer invoices and what credit notes, remittances and voids took off them;
- payments: payments and where they went, plans, missed payments, and how to pay.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

REGISTRATION_TOPIC = "registration.events"
INVOICING_TOPIC = "invoicing.events"
PAYMENTS_TOPIC = "payments.events"


class Reader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# -- registration --------------------------------------------------------------------------------


class PersonName(Reader):
    given: str
    family: str
    middle: str | None = None


class ContactDetails(Reader):
    addresses: list[dict[str, Any]] = []
    phones: list[dict[str, Any]] = []
    emails: list[dict[str, Any]] = []
    preferred_channel: str
    consents: dict[str, bool] = {}
    time_zone: str


class CustomerRegistered(Reader):
    TYPE: ClassVar[str] = "billing.registration.CustomerRegistered"
    customer_id: str
    person_name: PersonName | None = None
    organisation_name: str | None = None
    contact: ContactDetails
    flags: list[str] = []


class ContactDetailsChanged(Reader):
    TYPE: ClassVar[str] = "billing.registration.ContactDetailsChanged"
    customer_id: str
    contact: ContactDetails


class ContactPointBounced(Reader):
    TYPE: ClassVar[str] = "billing.registration.ContactPointBounced"
    customer_id: str
    contact_point_id: str


class ContactPointVerified(Reader):
    TYPE: ClassVar[str] = "billing.registration.ContactPointVerified"
    customer_id: str
    contact_point_id: str


class SpecialConcernNoted(Reader):
    TYPE: ClassVar[str] = "billing.registration.SpecialConcernNoted"
    customer_id: str
    flags_raised: list[str] = []
    flags_cleared: list[str] = []


# -- invoicing -----------------------------------------------------------------------------------


class BilledParty(Reader):
    kind: str  # customer, payer


class InvoiceLine(Reader):
    service_date: date


class InvoiceIssued(Reader):
    TYPE: ClassVar[str] = "billing.invoicing.InvoiceIssued"
    invoice_id: str
    number: str
    customer_id: str
    party: BilledParty
    lines: list[InvoiceLine]
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


# -- payments ------------------------------------------------------------------------------------


class PayingParty(Reader):
    kind: str
    agency_id: str | None = None


class PaymentReceived(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentReceived"
    payment_id: str
    customer_id: str
    party: PayingParty
    channel: str
    amount: int
    fee: int = 0
    currency: str
    received_on: date


class Allocation(Reader):
    invoice_id: str
    amount: int


class PaymentAllocated(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentAllocated"
    payment_id: str
    customer_id: str
    allocations: list[Allocation]


class AllocationReleased(Reader):
    TYPE: ClassVar[str] = "billing.payments.AllocationReleased"
    payment_id: str
    customer_id: str
    invoice_id: str
    amount: int


class PaymentReversed(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentReversed"
    payment_id: str
    customer_id: str
    released: list[Allocation] = []


class PaymentPlanAgreed(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentPlanAgreed"
    plan_id: str
    customer_id: str
    invoice_ids: list[str]


class PaymentPlanCompleted(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentPlanCompleted"
    plan_id: str
    customer_id: str


class PaymentPlanDefaulted(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentPlanDefaulted"
    plan_id: str
    customer_id: str


class PaymentMissed(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentMissed"
    customer_id: str
    item: str  # invoice, instalment
    invoice_id: str | None = None
    billed_party: str
    due_date: date
    amount: int
    currency: str
    days_overdue: int
    as_of: date


class PaymentInstructionsPublished(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentInstructionsPublished"
    business_id: str
    business_name: str
    options: list[dict[str, Any]]
    notes: str | None = None


READERS: dict[str, type[Reader]] = {
    reader.TYPE: reader  # type: ignore[attr-defined]
    for reader in (
        CustomerRegistered, ContactDetailsChanged, ContactPointBounced, ContactPointVerified, SpecialConcernNoted,
        InvoiceIssued, CreditNoteIssued, RemittanceApplied, InvoiceVoided,
        PaymentReceived, PaymentAllocated, AllocationReleased, PaymentReversed, PaymentPlanAgreed,
        PaymentPlanCompleted, PaymentPlanDefaulted, PaymentMissed, PaymentInstructionsPublished,
    )
}
