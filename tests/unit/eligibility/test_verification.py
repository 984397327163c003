"""The coverage verification aggregate and the standing rule, without I/O."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from services.eligibility.domain.coverage import (
    Benefit,
    BenefitKind,
    CostShare,
    EligibilityResponse,
    Member,
    Rejection,
    RejectionSource,
    ResponseStatus,
    TimePeriod,
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
from services.eligibility.domain.verification import (
    CheckRequest,
    CheckStatus,
    CoverageVerification,
    EndedCheck,
    StaffAnswer,
    Standing,
    standing_as_of,
)
from shared.rules import RuleViolated

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
TODAY = NOW.date()
SUBSCRIBER = SubscriberSnapshot(member_id="W123456789", given_name="Ada", family_name="Lovelace",
                                date_of_birth=date(1985, 12, 10))
REQUEST = CheckRequest(customer_id="cus_1", payer_id="acme-health", subscriber=SUBSCRIBER,
                       service_date=TODAY, service_types=("30",), trigger=CheckTrigger.COVERAGE_ADDED)
ACTIVE = EligibilityResponse(
    status=ResponseStatus.ACTIVE, plan_name="Gold PPO", coverage_from=date(2026, 1, 1),
    subscriber=Member(member_id="W123456789", group_number="GRP-77"),
    benefits=[
        Benefit(kind=BenefitKind.ACTIVE, info_code="1", service_types=["30"]),
        Benefit(kind=BenefitKind.DEDUCTIBLE, info_code="C", coverage_level="IND", service_types=["30"],
                time_period=TimePeriod.CALENDAR_YEAR, amount=150000, in_network=True),
        Benefit(kind=BenefitKind.COINSURANCE, info_code="A", coverage_level="IND", service_types=["30"],
                percent_bp=2000, in_network=True),
    ],
)
INACTIVE = EligibilityResponse(
    status=ResponseStatus.INACTIVE,
    rejections=[Rejection(source=RejectionSource.INACTIVE, code="inactive", description="Coverage inactive")],
)


def requested(check_id: str = "chk_1") -> CoverageVerification:
    verification = CoverageVerification("cov_1")
    for event in verification.request_check(REQUEST, check_id=check_id, now=NOW):
        verification.apply(event)
    return verification


def decided(verification: CoverageVerification, events: list) -> CoverageVerification:  # type: ignore[type-arg]
    for event in events:
        verification.apply(event)
    return verification


def test_a_request_opens_a_pending_check() -> None:
    verification = requested()
    assert verification.customer_id == "cus_1"
    assert verification.check("chk_1").status is CheckStatus.PENDING
    assert verification.version == 1


def test_the_same_request_while_pending_asks_nothing_twice() -> None:
    verification = requested()
    assert verification.request_check(REQUEST, check_id="chk_2", now=NOW) == []
    other_date = CheckRequest(**{**REQUEST.__dict__, "service_date": date(2027, 1, 4)})
    [event] = verification.request_check(other_date, check_id="chk_2", now=NOW)
    assert isinstance(event, EligibilityCheckRequested)


def test_an_active_271_verifies_with_cost_shares_and_a_stale_date() -> None:
    verification = requested()
    [event] = verification.record_answer("chk_1", ACTIVE, exchange_id="x12_1", today=TODAY, valid_days=30, now=NOW)
    assert isinstance(event, EligibilityVerified)
    assert event.valid_until == date(2026, 12, 27)
    assert event.plan_name == "Gold PPO"
    assert event.group_number == "GRP-77"
    [share] = event.cost_shares
    assert (share.service_type, share.deductible, share.coinsurance_bp) == ("30", 150000, 2000)
    decided(verification, [event])
    assert verification.check("chk_1").status is CheckStatus.VERIFIED


def test_an_inactive_271_rejects_with_the_payers_reason() -> None:
    verification = requested()
    [event] = verification.record_answer("chk_1", INACTIVE, exchange_id="x12_1", today=TODAY, valid_days=30, now=NOW)
    assert isinstance(event, EligibilityRejected)
    assert event.reasons[0].code == "inactive"


def test_a_check_ends_once() -> None:
    verification = requested()
    decided(verification, verification.record_answer(
        "chk_1", ACTIVE, exchange_id="x12_1", today=TODAY, valid_days=30, now=NOW))
    with pytest.raises(RuleViolated) as refused:
        verification.record_failure("chk_1", attempts=1, reason="late", exchange_id=None, now=NOW)
    assert refused.value.field == "check_id"


def test_only_a_failed_check_is_retried_and_then_pending_again() -> None:
    verification = requested()
    with pytest.raises(RuleViolated):
        verification.retry("chk_1", requested_by="ops", now=NOW)
    [failed] = verification.record_failure("chk_1", attempts=4, reason="timeout", exchange_id=None, now=NOW)
    assert isinstance(failed, EligibilityCheckFailed) and failed.retryable
    decided(verification, [failed])
    [retried] = verification.retry("chk_1", requested_by="ops", now=NOW)
    assert isinstance(retried, EligibilityCheckRetried)
    decided(verification, [retried])
    assert verification.check("chk_1").status is CheckStatus.PENDING


def test_replaying_the_stream_gives_the_same_state() -> None:
    verification = requested()
    events = [*verification.record_failure("chk_1", attempts=4, reason="timeout", exchange_id=None, now=NOW)]
    decided(verification, events)
    history = [
        *CoverageVerification("cov_1").request_check(REQUEST, check_id="chk_1", now=NOW), *events,
    ]
    replayed = CoverageVerification.fold("cov_1", history)
    assert replayed == verification


VERIFIED = EndedCheck(CheckStatus.VERIFIED, verified_on=date(2026, 11, 1), valid_until=date(2026, 12, 1),
                      coverage_from=date(2026, 1, 1), coverage_to=date(2026, 12, 31))


@pytest.mark.parametrize(
    ("latest", "pending", "as_of", "standing"),
    [
        (VERIFIED, False, date(2026, 11, 20), Standing.VERIFIED),
        (VERIFIED, False, date(2026, 12, 1), Standing.VERIFIED),  # the last valid day
        (VERIFIED, False, date(2026, 12, 2), Standing.STALE),
        (EndedCheck(CheckStatus.VERIFIED, date(2026, 11, 1), date(2027, 2, 1), date(2026, 1, 1), date(2026, 12, 31)),
         False, date(2027, 1, 5), Standing.OUTSIDE_COVERAGE_DATES),
        (EndedCheck(CheckStatus.REJECTED, date(2026, 11, 1), None, None, None), False, date(2026, 11, 2), Standing.REJECTED),
        (EndedCheck(CheckStatus.FAILED, None, None, None, None), False, date(2026, 11, 2), Standing.FAILED),
        (EndedCheck(CheckStatus.FAILED, None, None, None, None), True, date(2026, 11, 2), Standing.PENDING),
        (None, True, date(2026, 11, 2), Standing.PENDING),
        (None, False, date(2026, 11, 2), Standing.UNVERIFIED),
    ],
)
def test_standing_as_of_a_date(latest: EndedCheck | None, pending: bool, as_of: date, standing: Standing) -> None:
    assert standing_as_of(latest, pending=pending, as_of=as_of) is standing


def test_staff_record_what_the_payer_told_them_on_a_failed_check() -> None:
    verification = requested()
    decided(verification, verification.record_failure(
        "chk_1", attempts=1, reason="payer takes no electronic inquiries", exchange_id=None, now=NOW, retryable=False))
    answer = StaffAnswer(active=True, plan_name="Employer plan", coverage_from=date(2026, 1, 1),
                         cost_shares=[CostShare(service_type="30", copay=1500)], reference="CALL-4411")

    [event] = verification.record_staff_answer("chk_1", answer, recorded_by="front-desk", today=TODAY,
                                               valid_days=30, now=NOW)

    assert isinstance(event, EligibilityVerified)
    assert (event.method, event.exchange_id, event.recorded_by) == (VerificationMethod.STAFF, None, "front-desk")
    assert (event.payer_reference, event.cost_shares[0].copay, event.group_number) == ("CALL-4411", 1500, None)
    decided(verification, [event])
    with pytest.raises(RuleViolated):
        verification.record_staff_answer("chk_1", answer, recorded_by="x", today=TODAY, valid_days=30, now=NOW)


def test_a_staff_no_needs_the_reason() -> None:
    verification = requested()
    with pytest.raises(RuleViolated) as refused:
        verification.record_staff_answer("chk_1", StaffAnswer(active=False), recorded_by="x", today=TODAY,
                                         valid_days=30, now=NOW)
    assert refused.value.field == "reason"
    [event] = verification.record_staff_answer(
        "chk_1", StaffAnswer(active=False, reason="terminated 2026-10-31"), recorded_by="x", today=TODAY,
        valid_days=30, now=NOW)
    assert isinstance(event, EligibilityRejected)
    assert (event.reasons[0].source, event.reasons[0].description) == (RejectionSource.STAFF, "terminated 2026-10-31")


def test_a_service_type_the_payer_refused_is_kept_as_a_notice_of_an_active_coverage() -> None:
    notice = Rejection(source=RejectionSource.AAA, code="T4", description="Payer Name or Identifier Missing",
                       follow_up_action="C", loop="2110C")
    response = ACTIVE.model_copy(update={"rejections": [notice]})

    [event] = requested().record_answer("chk_1", response, exchange_id="x12_1", today=TODAY, valid_days=30, now=NOW)

    assert isinstance(event, EligibilityVerified)
    assert event.notices == [notice]


def test_a_check_for_a_dependent_is_another_question_than_one_for_the_subscriber() -> None:
    verification = requested()
    child = PatientSnapshot(given_name="Ben", family_name="Lovelace", date_of_birth=date(2014, 5, 6))
    [event] = verification.request_check(
        CheckRequest(**{**REQUEST.__dict__, "patient": child}), check_id="chk_2", now=NOW
    )
    assert isinstance(event, EligibilityCheckRequested) and event.patient == child
    verification.apply(event)
    assert verification.request_check(CheckRequest(**{**REQUEST.__dict__, "patient": child}), check_id="chk_3", now=NOW) == []
