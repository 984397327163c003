"""The verifications of one coverage: every check asked of its payer and how each ended.

A check is requested (by registration's coverage events or on demand), then ends exactly once:
verified, rejected by the payer, or failed (unreachable after retries, or an answer that is not a
271). A failed check can be retried by an operator, which opens it again. The stream is the
coverage's, so concurrent answers to the same check cannot both be recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.eligibility.domain.cost_share import cost_share
from services.eligibility.domain.coverage import (
    CostShare,
    EligibilityResponse,
    Rejection,
    RejectionSource,
    ResponseStatus,
)
from services.eligibility.domain.events import (
    CheckTrigger,
    EligibilityCheckFailed,
    EligibilityCheckRequested,
    EligibilityCheckRetried,
    EligibilityRejected,
    EligibilityVerified,
    PatientSnapshot,
    SubscriberSnapshot,
    VerificationMethod,
)
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.rules import RuleViolated


class CheckStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass
class Check:
    check_id: str
    payer_id: str
    subscriber: SubscriberSnapshot
    patient: PatientSnapshot | None
    service_date: date
    service_types: list[str]
    status: CheckStatus = CheckStatus.PENDING


@dataclass(frozen=True)
class CheckRequest:
    """What a new check asks: whom, for which date of service and service types."""

    customer_id: str
    payer_id: str
    subscriber: SubscriberSnapshot
    service_date: date
    service_types: tuple[str, ...]
    trigger: CheckTrigger
    patient: PatientSnapshot | None = None


class CheckNotFound(LookupError):
    pass


class StaffAnswer(BaseModel):
    """What the payer told staff who asked it directly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    active: bool = Field(description="Whether the payer confirmed the coverage for the date of service")
    plan_name: str | None = None
    coverage_from: date | None = None
    coverage_to: date | None = None
    cost_shares: list[CostShare] = Field(default=[], description="What the payer said the member pays")
    reason: str | None = Field(None, max_length=500, description="Why not, when the payer did not confirm")
    reference: str | None = Field(None, max_length=100, description="The payer's call or case reference")


@dataclass
class CoverageVerification(FoldedFromEvents):
    coverage_id: str
    version: int = 0
    customer_id: str | None = None
    checks: dict[str, Check] = field(default_factory=dict)

    def apply(self, event: DomainEvent) -> None:
        match event:
            case EligibilityCheckRequested():
                self.customer_id = event.customer_id
                self.checks[event.check_id] = Check(
                    event.check_id, event.payer_id, event.subscriber, event.patient, event.service_date,
                    list(event.service_types),
                )
            case EligibilityVerified(check_id=check_id):
                self.checks[check_id].status = CheckStatus.VERIFIED
            case EligibilityRejected(check_id=check_id):
                self.checks[check_id].status = CheckStatus.REJECTED
            case EligibilityCheckFailed(check_id=check_id):
                self.checks[check_id].status = CheckStatus.FAILED
            case EligibilityCheckRetried(check_id=check_id):
                self.checks[check_id].status = CheckStatus.PENDING
        self.version += 1

    def check(self, check_id: str) -> Check:
        try:
            return self.checks[check_id]
        except KeyError:
            raise CheckNotFound(check_id) from None

    # -- decisions ------------------------------------------------------------------------------

    def request_check(self, request: CheckRequest, *, check_id: str, now: datetime) -> list[DomainEvent]:
        """A new check, unless one asking exactly the same is still pending (a CoverageChanged
        that changed nothing the payer is asked about must not send a second inquiry)."""
        for pending in self.checks.values():
            if pending.status is CheckStatus.PENDING and (
                pending.payer_id, pending.subscriber, pending.patient, pending.service_date,
                tuple(pending.service_types),
            ) == (request.payer_id, request.subscriber, request.patient, request.service_date, request.service_types):
                return []
        return [
            EligibilityCheckRequested(
                check_id=check_id, customer_id=request.customer_id, coverage_id=self.coverage_id,
                payer_id=request.payer_id, subscriber=request.subscriber, patient=request.patient,
                service_date=request.service_date, service_types=list(request.service_types),
                trigger=request.trigger, requested_at=now,
            )
        ]

    def record_answer(
        self, check_id: str, response: EligibilityResponse, *, exchange_id: str, today: date,
        valid_days: int, now: datetime,
    ) -> list[DomainEvent]:
        """The payer's 271 settles the check: verified when coverage is active, rejected otherwise."""
        check = self._pending(check_id)
        assert self.customer_id is not None
        if response.status is ResponseStatus.ACTIVE:
            return [
                EligibilityVerified(
                    check_id=check_id, customer_id=self.customer_id, coverage_id=self.coverage_id,
                    payer_id=check.payer_id, service_date=check.service_date, verified_on=today,
                    valid_until=today + timedelta(days=valid_days), plan_name=response.plan_name,
                    coverage_from=response.coverage_from, coverage_to=response.coverage_to,
                    group_number=response.subscriber.group_number if response.subscriber else None,
                    currency=response.currency,
                    cost_shares=_cost_shares(response, check.service_types),
                    benefits=response.benefits, notices=response.rejections, exchange_id=exchange_id,
                    verified_at=now,
                )
            ]
        return [
            EligibilityRejected(
                check_id=check_id, customer_id=self.customer_id, coverage_id=self.coverage_id,
                payer_id=check.payer_id, service_date=check.service_date, verified_on=today,
                reasons=response.rejections, coverage_from=response.coverage_from,
                coverage_to=response.coverage_to, exchange_id=exchange_id, rejected_at=now,
            )
        ]

    def record_staff_answer(
        self, check_id: str, answer: StaffAnswer, *, recorded_by: str, today: date, valid_days: int, now: datetime,
    ) -> list[DomainEvent]:
        """Staff asked the payer themselves (a payer without electronic inquiries, or one whose
        clearinghouse keeps failing) and record what it said; ends a pending or failed check."""
        check = self.check(check_id)
        if check.status not in (CheckStatus.PENDING, CheckStatus.FAILED):
            raise RuleViolated("check_id", f"check {check_id} is already {check.status.value}")
        assert self.customer_id is not None
        if answer.active:
            return [
                EligibilityVerified(
                    check_id=check_id, customer_id=self.customer_id, coverage_id=self.coverage_id,
                    payer_id=check.payer_id, service_date=check.service_date, verified_on=today,
                    valid_until=today + timedelta(days=valid_days), plan_name=answer.plan_name,
                    coverage_from=answer.coverage_from, coverage_to=answer.coverage_to,
                    group_number=check.subscriber.group_number, cost_shares=answer.cost_shares, benefits=[],
                    method=VerificationMethod.STAFF, exchange_id=None, recorded_by=recorded_by,
                    payer_reference=answer.reference, verified_at=now,
                )
            ]
        if not answer.reason:
            raise RuleViolated("reason", "say why the payer does not confirm the coverage")
        return [
            EligibilityRejected(
                check_id=check_id, customer_id=self.customer_id, coverage_id=self.coverage_id,
                payer_id=check.payer_id, service_date=check.service_date, verified_on=today,
                reasons=[Rejection(source=RejectionSource.STAFF, code="staff", description=answer.reason)],
                coverage_from=answer.coverage_from, coverage_to=answer.coverage_to,
                method=VerificationMethod.STAFF, exchange_id=None, recorded_by=recorded_by,
                payer_reference=answer.reference, rejected_at=now,
            )
        ]

    def record_failure(
        self, check_id: str, *, attempts: int, reason: str, exchange_id: str | None, now: datetime,
        retryable: bool = True,
    ) -> list[DomainEvent]:
        check = self._pending(check_id)
        assert self.customer_id is not None
        return [
            EligibilityCheckFailed(
                check_id=check_id, customer_id=self.customer_id, coverage_id=self.coverage_id,
                payer_id=check.payer_id, attempts=attempts, reason=reason, exchange_id=exchange_id,
                retryable=retryable, failed_at=now,
            )
        ]

    def retry(self, check_id: str, *, requested_by: str, now: datetime) -> list[DomainEvent]:
        check = self.check(check_id)
        if check.status is not CheckStatus.FAILED:
            raise RuleViolated("check_id", f"check {check_id} is {check.status.value}; only failed checks are retried")
        assert self.customer_id is not None
        return [
            EligibilityCheckRetried(
                check_id=check_id, customer_id=self.customer_id, coverage_id=self.coverage_id,
                requested_by=requested_by, retried_at=now,
            )
        ]

    def _pending(self, check_id: str) -> Check:
        check = self.check(check_id)
        if check.status is not CheckStatus.PENDING:
            raise RuleViolated("check_id", f"check {check_id} is already {check.status.value}")
        return check


def _cost_shares(response: EligibilityResponse, service_types: Iterable[str]) -> list[CostShare]:
    shares = (cost_share(response.benefits, service_type) for service_type in service_types)
    return [share for share in shares if share is not None]


class Standing(StrEnum):
    """Whether a coverage counts as verified on a date, and if not, why."""

    VERIFIED = "verified"
    STALE = "stale"
    OUTSIDE_COVERAGE_DATES = "outside_coverage_dates"
    REJECTED = "rejected"
    FAILED = "failed"
    PENDING = "pending"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class EndedCheck:
    status: CheckStatus
    verified_on: date | None
    valid_until: date | None
    coverage_from: date | None
    coverage_to: date | None


def standing_as_of(latest: EndedCheck | None, *, pending: bool, as_of: date) -> Standing:
    """The rule invoicing applies from our events (see events.py): the latest ended check decides;
    a verification counts from the day it was made until ``valid_until``, within the coverage dates
    the payer gave."""
    if latest is None:
        return Standing.PENDING if pending else Standing.UNVERIFIED
    if latest.status is CheckStatus.REJECTED:
        return Standing.REJECTED
    if latest.status is CheckStatus.FAILED:
        return Standing.PENDING if pending else Standing.FAILED
    assert latest.verified_on is not None and latest.valid_until is not None
    if as_of > latest.valid_until:
        return Standing.STALE
    if (latest.coverage_from and as_of < latest.coverage_from) or (latest.coverage_to and as_of > latest.coverage_to):
        return Standing.OUTSIDE_COVERAGE_DATES
    return Standing.VERIFIED
