"""Eligibility's events: who pays, how much the customer will owe, and what could lower it.

They are published on the `eligibility.events` topic. Verification, program and estimate events
are keyed by customer id, so a consumer sees a customer's facts in order; payer directory events
are keyed by payer id. Their JSON Schemas are in shared/contracts/eligibility/.

How a consumer (invoicing) tells whether a coverage was verified as of a date D, from these events
alone: the latest of the coverage's EligibilityVerified, EligibilityRejected and
EligibilityCheckFailed decides. The coverage counts as verified on D when that event is an
EligibilityVerified, D is on or before its ``valid_until``, and D lies within its
``coverage_from``/``coverage_to`` when the payer gave them. A verification is stale after
``valid_until`` (``verified_on`` plus the configured number of days).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field

from services.eligibility.domain.coverage import Benefit, CostShare, Rejection, Value
from services.eligibility.domain.estimates import Advice, LineEstimate
from services.eligibility.domain.programs import ProgramDetermination
from shared.events import DomainEvent, EventRegistry

SOURCE = "/billing/eligibility"
TOPIC = "eligibility.events"


# -- payer directory -----------------------------------------------------------------------------


class PayerKind(StrEnum):
    INSURER = "insurer"
    GOVERNMENT_PROGRAM = "government_program"
    GOVERNMENT_AGENCY = "government_agency"
    EMPLOYER = "employer"
    OTHER = "other"


class X12Connection(Value):
    """The payer is asked with X12 270 inquiries through a clearinghouse endpoint."""

    method: Literal["x12"] = "x12"
    endpoint: str = Field(description="The clearinghouse's HTTP(S) URL that answers 270s with 271s")
    payer_identifier: str = Field(description="The payer's id at the clearinghouse (NM109 of 2100A)")
    receiver_id: str = Field(description="ISA08: the clearinghouse's interchange id")
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    claims_endpoint: str | None = Field(
        None, description="The clearinghouse's HTTP(S) URL that takes X12 837 claims and answers with "
        "999 acknowledgments; without it claims are kept for submission by other means",
    )


class RulesConnection(Value):
    """The payer has no electronic inquiry: eligibility follows program rules or staff confirm it."""

    method: Literal["rules"] = "rules"
    program_id: str | None = Field(None, description="The payment program whose rules decide, if any")


class BillingContact(Value):
    name: str
    email: str | None = None
    phone: str | None = None
    address_lines: list[str] = []


class PayerProfile(Value):
    """Everything the directory knows of one payer."""

    name: str = Field(min_length=1, max_length=200)
    kind: PayerKind
    connection: X12Connection | RulesConnection = Field(discriminator="method")
    code_system: str = Field(
        description="The code system the payer expects on bills, e.g. HCPCS, CPT, tariff:city-water"
    )
    billing_contact: BillingContact


class PayerRegistered(DomainEvent):
    """A payer was added to the directory."""

    event_type = "billing.eligibility.PayerRegistered"
    payer_id: str
    profile: PayerProfile
    registered_at: datetime


class PayerChanged(DomainEvent):
    """A payer's directory entry was replaced: name, connection, code system or billing contact."""

    event_type = "billing.eligibility.PayerChanged"
    payer_id: str
    profile: PayerProfile
    changed_at: datetime


class PayerRetired(DomainEvent):
    """The payer is no longer used; coverages with it are no longer verified."""

    event_type = "billing.eligibility.PayerRetired"
    payer_id: str
    reason: str | None = None
    retired_at: datetime


# -- insurance verification ----------------------------------------------------------------------


class VerificationMethod(StrEnum):
    X12 = "x12"  # the payer's 271, through its clearinghouse
    STAFF = "staff"  # staff asked the payer (phone, portal, letter) and recorded its answer


class CheckTrigger(StrEnum):
    COVERAGE_ADDED = "coverage_added"
    COVERAGE_CHANGED = "coverage_changed"
    ON_DEMAND = "on_demand"
    STALE = "stale"


class SubscriberSnapshot(Value):
    """Who the inquiry is about, as registration last described them."""

    member_id: str
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None
    group_number: str | None = None


class PatientSnapshot(Value):
    """The patient when it is not the subscriber: a child or spouse on the subscriber's plan."""

    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: date | None = None


class EligibilityCheckRequested(DomainEvent):
    """A coverage is to be verified with its payer for a date of service."""

    event_type = "billing.eligibility.EligibilityCheckRequested"
    check_id: str
    customer_id: str
    coverage_id: str
    payer_id: str
    subscriber: SubscriberSnapshot
    patient: PatientSnapshot | None = Field(None, description="The patient, when not the subscriber")
    service_date: date
    service_types: list[str]
    trigger: CheckTrigger
    requested_at: datetime


class EligibilityVerified(DomainEvent):
    """The payer confirmed the coverage is active, with the coverage facts it sent."""

    event_type = "billing.eligibility.EligibilityVerified"
    check_id: str
    customer_id: str
    coverage_id: str
    payer_id: str
    service_date: date
    verified_on: date = Field(description="The day the payer answered")
    valid_until: date = Field(description="Last day this verification counts; it is stale after")
    plan_name: str | None = None
    coverage_from: date | None = None
    coverage_to: date | None = None
    group_number: str | None = None
    currency: str = "USD"
    cost_shares: list[CostShare] = Field(
        description="In-network member cost share per service type asked, from the EB loops"
    )
    benefits: list[Benefit] = Field(description="Every EB loop of the 271, as the payer sent it")
    notices: list[Rejection] = Field(
        default=[], description="AAA segments the payer sent for single service types of an active coverage"
    )
    method: VerificationMethod = VerificationMethod.X12
    exchange_id: str | None = Field(description="The raw 270/271 pair kept for audit; none when staff verified")
    recorded_by: str | None = Field(None, description="Who recorded a staff verification")
    payer_reference: str | None = Field(None, description="The payer's call or case reference, when staff asked")
    verified_at: datetime


class EligibilityRejected(DomainEvent):
    """The payer answered but did not confirm coverage: inactive, or the request was refused (AAA)."""

    event_type = "billing.eligibility.EligibilityRejected"
    check_id: str
    customer_id: str
    coverage_id: str
    payer_id: str
    service_date: date
    verified_on: date
    reasons: list[Rejection] = Field(min_length=1)
    coverage_from: date | None = None
    coverage_to: date | None = None
    method: VerificationMethod = VerificationMethod.X12
    exchange_id: str | None = Field(description="The raw 270/271 pair kept for audit; none when staff asked")
    recorded_by: str | None = Field(None, description="Who recorded a staff answer")
    payer_reference: str | None = Field(None, description="The payer's call or case reference, when staff asked")
    rejected_at: datetime


class EligibilityCheckFailed(DomainEvent):
    """No usable answer after every attempt: the payer was unreachable, refused the request, or
    answered with something that is not a 271. The check is kept and an operator can retry it."""

    event_type = "billing.eligibility.EligibilityCheckFailed"
    check_id: str
    customer_id: str
    coverage_id: str
    payer_id: str
    attempts: int
    reason: str
    exchange_id: str | None = Field(None, description="The last raw exchange, when the payer answered")
    retryable: bool = True
    failed_at: datetime


class EligibilityCheckRetried(DomainEvent):
    """An operator asked for a failed check to be tried again."""

    event_type = "billing.eligibility.EligibilityCheckRetried"
    check_id: str
    customer_id: str
    coverage_id: str
    requested_by: str
    retried_at: datetime


# -- payment programs ----------------------------------------------------------------------------


class ProgramEligibilityDetermined(DomainEvent):
    """A customer's household was measured against a program's poverty-guideline tiers."""

    event_type = "billing.eligibility.ProgramEligibilityDetermined"
    determination_id: str
    customer_id: str
    program_name: str
    guideline_year: int
    region: str
    determination: ProgramDetermination
    valid_from: date
    valid_until: date
    determined_by: str
    determined_at: datetime


# -- estimates -----------------------------------------------------------------------------------


class EstimateBasis(Value):
    """What the estimate was computed from."""

    coverage_id: str | None = None
    payer_id: str | None = None
    check_id: str | None = Field(None, description="The verification whose cost shares were used")
    determination_id: str | None = Field(None, description="The program determination applied")
    self_pay: bool
    coverage_status: str = Field(
        description="verified, stale, rejected, failed, pending, unverified, outside_coverage_dates or "
        "no_coverage: why the estimate is self-pay when it is"
    )


class EstimateIssued(DomainEvent):
    """A Good Faith Estimate was given to the customer; a later bill above it by more than
    ``flag_threshold`` is flagged."""

    event_type = "billing.eligibility.EstimateIssued"
    estimate_id: str
    customer_id: str
    service_date: date
    currency: str
    lines: list[LineEstimate]
    total: int
    payer_portion: int
    program_discount: int
    customer_portion: int
    flag_threshold: int = Field(description="Minor units a bill may exceed the customer portion by")
    basis: EstimateBasis
    advice: list[Advice] = Field(description="Ways to pay less or spread the cost, as shown to the customer")
    valid_until: date
    issued_by: str
    issued_at: datetime


ELIGIBILITY_EVENTS = EventRegistry(
    [
        PayerRegistered,
        PayerChanged,
        PayerRetired,
        EligibilityCheckRequested,
        EligibilityVerified,
        EligibilityRejected,
        EligibilityCheckFailed,
        EligibilityCheckRetried,
        ProgramEligibilityDetermined,
        EstimateIssued,
    ]
)
