"""Other services' events as invoicing reads them: tolerant readers of their published contracts
(shared/contracts/), taking only the fields invoicing needs and ignoring the rest, so the
publishers can add fields without breaking us. tests/unit/invoicing/test_upstream_readers.py holds
these readers to the published JSON Schemas."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from services.invoicing.domain.remittance import ClaimRemittance
from services.invoicing.domain.split import CoverageCostShare

REGISTRATION_TOPIC = "registration.events"
ELIGIBILITY_TOPIC = "eligibility.events"
PAYMENTS_TOPIC = "payments.events"


class Reader(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


# -- registration --------------------------------------------------------------------------------


class PersonName(Reader):
    given: str
    family: str


class CustomerRegistered(Reader):
    TYPE: ClassVar[str] = "billing.registration.CustomerRegistered"
    customer_id: str
    kind: str
    person_name: PersonName | None = None
    organisation_name: str | None = None
    date_of_birth: date | None = None
    contact: dict[str, Any]
    flags: list[str] = []


class ContactDetailsChanged(Reader):
    TYPE: ClassVar[str] = "billing.registration.ContactDetailsChanged"
    customer_id: str
    contact: dict[str, Any]


class ContactPointBounced(Reader):
    TYPE: ClassVar[str] = "billing.registration.ContactPointBounced"
    customer_id: str
    contact_point_id: str


class ContactPointVerified(Reader):
    TYPE: ClassVar[str] = "billing.registration.ContactPointVerified"
    customer_id: str
    contact_point_id: str


class Subscriber(Reader):
    relationship: str
    name: PersonName | None = None
    date_of_birth: date | None = None


class CoverageTerms(Reader):
    payer_id: str
    payer_kind: str | None = None
    member_id: str
    group_number: str | None = None
    plan_name: str | None = None
    priority: str
    subscriber: Subscriber
    effective_from: date
    effective_to: date | None = None


class CoverageAdded(Reader):
    TYPE: ClassVar[str] = "billing.registration.CoverageAdded"
    customer_id: str
    coverage_id: str
    terms: CoverageTerms


class CoverageChanged(CoverageAdded):
    TYPE: ClassVar[str] = "billing.registration.CoverageChanged"


class CoverageEnded(Reader):
    TYPE: ClassVar[str] = "billing.registration.CoverageEnded"
    customer_id: str
    coverage_id: str
    ended_on: date


# -- eligibility ---------------------------------------------------------------------------------


class PayerRegistered(Reader):
    TYPE: ClassVar[str] = "billing.eligibility.PayerRegistered"
    payer_id: str
    profile: dict[str, Any]


class PayerChanged(PayerRegistered):
    TYPE: ClassVar[str] = "billing.eligibility.PayerChanged"


class PayerRetired(Reader):
    TYPE: ClassVar[str] = "billing.eligibility.PayerRetired"
    payer_id: str


class EligibilityVerified(Reader):
    TYPE: ClassVar[str] = "billing.eligibility.EligibilityVerified"
    check_id: str
    customer_id: str
    coverage_id: str
    valid_until: date
    coverage_from: date | None = None
    coverage_to: date | None = None
    currency: str = "USD"
    cost_shares: list[CoverageCostShare]


class EligibilityRejected(Reader):
    TYPE: ClassVar[str] = "billing.eligibility.EligibilityRejected"
    check_id: str
    customer_id: str
    coverage_id: str
    coverage_from: date | None = None
    coverage_to: date | None = None


class EligibilityCheckFailed(Reader):
    TYPE: ClassVar[str] = "billing.eligibility.EligibilityCheckFailed"
    check_id: str
    customer_id: str
    coverage_id: str


class EstimateIssued(Reader):
    TYPE: ClassVar[str] = "billing.eligibility.EstimateIssued"
    estimate_id: str
    customer_id: str
    service_date: date
    currency: str
    customer_portion: int
    flag_threshold: int
    valid_until: date


# -- payments ------------------------------------------------------------------------------------


class ClaimAdjusted(ClaimRemittance):
    TYPE: ClassVar[str] = "billing.payments.ClaimAdjusted"


class ClaimDenied(ClaimRemittance):
    TYPE: ClassVar[str] = "billing.payments.ClaimDenied"


class PaidInvoice(Reader):
    invoice_id: str
    amount: int


class PaymentAllocated(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentAllocated"
    customer_id: str
    allocations: list[PaidInvoice]


class AllocationReleased(Reader):
    TYPE: ClassVar[str] = "billing.payments.AllocationReleased"
    customer_id: str
    invoice_id: str
    amount: int


class PaymentReversed(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentReversed"
    customer_id: str
    released: list[PaidInvoice] = []


class PaymentInstructionsPublished(Reader):
    TYPE: ClassVar[str] = "billing.payments.PaymentInstructionsPublished"
    business_id: str
    options: list[dict[str, Any]]
    notes: str | None = None


READERS: dict[str, type[Reader | ClaimRemittance]] = {
    reader.TYPE: reader
    for reader in (
        CustomerRegistered, ContactDetailsChanged, ContactPointBounced, ContactPointVerified,
        CoverageAdded, CoverageChanged, CoverageEnded,
        PayerRegistered, PayerChanged, PayerRetired,
        EligibilityVerified, EligibilityRejected, EligibilityCheckFailed, EstimateIssued,
        ClaimAdjusted, ClaimDenied, PaymentAllocated, AllocationReleased, PaymentReversed,
        PaymentInstructionsPublished,
    )
}
