"""The dunning decision without I/O: which notice is due, what each guard holds back and until
when, escalation, settlement and recall, and the agency contract."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from services.collections.domain.agency import AGENCY_EVENTS, for_agency
from services.collections.domain.debt import Debt, Facts, next_contact_time
from services.collections.domain.events import (
    AccountEscalated,
    AccountRecalled,
    ActionPostponed,
    Channel,
    ContactVerificationRequested,
    Debtor,
    DebtSettled,
    DemandIssued,
    Destination,
    Itemization,
    RecallReason,
    Step,
    ValidationNoticeIssued,
)
from services.collections.domain.policy import (
    Agency,
    AssignmentRule,
    DunningPolicy,
    Guards,
    NoticeStep,
    Policies,
)
from shared.events import contract_schema
from shared.rules import RuleViolated

DUE = date(2026, 3, 1)
AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 09:00 in Chicago
AGENCY = Agency(id="northwind", name="Northwind", fee_rate_bp=2500)


def debt() -> Debt:
    d = Debt("inv_1")
    for event in Debt.open(
        "inv_1", customer_id="cus_1", business_id="clinic", invoice_id="inv_1", invoice_number="INV-1",
        currency="USD", original_amount=10_000, balance=10_000, issue_date=DUE - timedelta(days=30), due_date=DUE,
        service_dates=[DUE - timedelta(days=32)], at=AT,
    ):
        d.apply(event)
    return d


def facts(balance: int = 10_000, *, flags: frozenset[str] = frozenset(), email: bool = True, **overrides) -> Facts:  # type: ignore[no-untyped-def]
    destinations = {Channel.LETTER: Destination(channel=Channel.LETTER, recipient="Ada\n1 Row", contact_point_id="a1")}
    if email:
        destinations[Channel.EMAIL] = Destination(channel=Channel.EMAIL, recipient="ada@example.com",
                                                  contact_point_id="e1")
    values = {
        "itemization": Itemization(itemization_date=AT.date(), currency="USD", original_amount=10_000,
                                payments=10_000 - balance, adjustments=0, balance=balance),
        "debtor": Debtor(name="Ada Lovelace", time_zone="America/Chicago"), "flags": flags,
        "destinations": destinations, "bounced": {}, "plan_in_good_standing": False, "verification_open": False,
        "how_to_pay": [], "last_payment_on": None, "paid_directly_since_placement": False, "voided": False,
    }
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


def review(d: Debt, f: Facts, policy: DunningPolicy, at: datetime) -> list:  # type: ignore[type-arg]
    events = d.review(f, policy, at, lambda business, currency, balance: AGENCY)
    for event in events:
        d.apply(event)
    return events


def test_each_step_waits_for_its_days_past_due_and_the_previous_deadline() -> None:
    d, policy = debt(), DunningPolicy()
    [reminder] = review(d, facts(), policy, AT)
    assert isinstance(reminder, DemandIssued) and reminder.step is Step.REMINDER
    assert reminder.deadline == AT.date() + timedelta(days=14) and reminder.days_past_due == 1
    assert review(d, facts(), policy, AT + timedelta(days=14)) == []  # 15 days past due, but the deadline is today
    [first] = review(d, facts(), policy, AT + timedelta(days=15))
    assert first.step is Step.FIRST_DEMAND and first.destination.channel is Channel.LETTER


def test_a_guard_is_recorded_once_while_it_holds() -> None:
    d, policy = debt(), DunningPolicy()
    [postponed] = review(d, facts(flags=frozenset({"do_not_contact"})), policy, AT)
    assert isinstance(postponed, ActionPostponed) and postponed.guard.value == "do_not_contact"
    assert review(d, facts(flags=frozenset({"do_not_contact"})), policy, AT + timedelta(days=1)) == []
    [reminder] = review(d, facts(), policy, AT + timedelta(days=2))
    assert isinstance(reminder, DemandIssued)


def test_guards_can_be_switched_off() -> None:
    d = debt()
    policy = DunningPolicy(guards=Guards(do_not_contact=False, contact_hours=False))
    [reminder] = review(d, facts(flags=frozenset({"do_not_contact"})), policy, AT.replace(hour=3))
    assert isinstance(reminder, DemandIssued)


def test_the_contact_limit_counts_notices_and_staff_attempts_and_names_when_it_lifts() -> None:
    d, policy = debt(), DunningPolicy(guards=Guards(max_contact_attempts=2, contact_window_days=7))
    for hours in (1, 2):
        for event in d.record_contact(f"a{hours}", channel="phone", outcome="no_answer", note=None,
                                      attempted_at=AT - timedelta(hours=hours), by="desk"):
            d.apply(event)
    [postponed] = review(d, facts(), policy, AT)
    assert postponed.guard.value == "contact_limit" and postponed.until == AT - timedelta(hours=2) + timedelta(days=7)


@pytest.mark.parametrize(("at", "allowed_from"), [
    (datetime(2026, 3, 2, 14, 0, tzinfo=UTC), None),  # 08:00 in Chicago
    (datetime(2026, 3, 3, 2, 59, tzinfo=UTC), None),  # 20:59
    (datetime(2026, 3, 3, 3, 0, tzinfo=UTC), "2026-03-03T08:00:00-06:00"),  # 21:00: tomorrow morning
    (datetime(2026, 3, 2, 13, 59, tzinfo=UTC), "2026-03-02T08:00:00-06:00"),  # 07:59: this morning
    (datetime(2026, 3, 8, 12, 0, tzinfo=UTC), "2026-03-08T08:00:00-05:00"),  # the day clocks go forward
])
def test_contact_hours_are_the_customers_own(at: datetime, allowed_from: str | None) -> None:
    found = next_contact_time(at, "America/Chicago", time(8), time(21))
    assert (found.isoformat() if found else None) == allowed_from


def test_an_unusable_contact_point_asks_for_verification_once() -> None:
    d, policy = debt(), DunningPolicy()
    requested, postponed = review(d, facts(email=False), policy, AT)
    assert isinstance(requested, ContactVerificationRequested) and requested.channel is Channel.EMAIL
    assert postponed.guard.value == "contact_unusable"
    assert review(d, facts(email=False, verification_open=True), policy, AT + timedelta(days=1)) == []


def _through_final_notice(d: Debt, policy: DunningPolicy) -> datetime:
    at = AT
    for _ in policy.steps:
        while not review(d, facts(), policy, at):
            at += timedelta(days=1)
    return at


def test_escalation_needs_silence_then_the_validation_notice_and_its_period() -> None:
    d, policy = debt(), DunningPolicy()
    final = _through_final_notice(d, policy)
    assert d.last_step == "final_notice"
    assert review(d, facts(), policy, final + timedelta(days=29)) == []
    [validation] = review(d, facts(), policy, final + timedelta(days=30))
    assert isinstance(validation, ValidationNoticeIssued)
    assert validation.dispute_by == (final + timedelta(days=60)).date()
    [waiting] = review(d, facts(), policy, final + timedelta(days=60))
    assert waiting.guard.value == "validation_period"
    [placed] = review(d, facts(), policy, final + timedelta(days=61))
    assert isinstance(placed, AccountEscalated) and placed.agency_id == "northwind" and placed.fee_rate_bp == 2500


def test_a_payment_restarts_the_silence() -> None:
    d, policy = debt(), DunningPolicy(guards=Guards(validation_notice=False))
    final = _through_final_notice(d, policy)
    paid_on = (final + timedelta(days=20)).date()
    assert review(d, facts(9_000, last_payment_on=paid_on), policy, final + timedelta(days=30)) == []
    [placed] = review(d, facts(9_000, last_payment_on=paid_on), policy, final + timedelta(days=50))
    assert isinstance(placed, AccountEscalated) and placed.itemization.balance == 9_000


def test_a_plan_in_good_standing_pauses_dunning() -> None:
    assert review(debt(), facts(plan_in_good_standing=True), DunningPolicy(), AT) == []


def test_paying_in_full_settles_and_a_direct_payment_recalls_the_placement() -> None:
    d, policy = debt(), DunningPolicy(guards=Guards(validation_notice=False))
    final = _through_final_notice(d, policy)
    [placed] = review(d, facts(), policy, final + timedelta(days=30))
    recalled, settled = review(d, facts(0, paid_directly_since_placement=True), policy, final + timedelta(days=31))
    assert isinstance(recalled, AccountRecalled) and recalled.reason is RecallReason.PAID_DIRECTLY
    assert recalled.placement_id == placed.placement_id and recalled.account_reference == "INV-1"
    assert isinstance(settled, DebtSettled) and d.status == "settled"
    assert review(d, facts(0), policy, final + timedelta(days=40)) == []


def test_a_dispute_recalls_a_placed_debt_and_agencies_report_only_their_own() -> None:
    d, policy = debt(), DunningPolicy(guards=Guards(validation_notice=False))
    final = _through_final_notice(d, policy)
    review(d, facts(), policy, final + timedelta(days=30))
    [report] = d.report_payment("r1", AGENCY, amount=3_333, currency="USD",
                                collected_on=AT.date(), reference=None, at=AT)
    assert report.fee == 833  # 25 % of 33.33, rounded half up
    with pytest.raises(RuleViolated):
        d.report_payment("r2", AGENCY, amount=1, currency="EUR", collected_on=AT.date(),
                         reference=None, at=AT)
    _opened, recalled = d.open_dispute("d1", reason="not mine", by="desk", at=AT)
    assert recalled.reason is RecallReason.DISPUTED


def test_policies_refuse_steps_out_of_order_and_unknown_agencies() -> None:
    with pytest.raises(ValidationError):
        DunningPolicy(steps=(NoticeStep(step=Step.FINAL_NOTICE, days_past_due=1, template="f"),
                             NoticeStep(step=Step.REMINDER, days_past_due=2, template="r")))
    with pytest.raises(ValidationError):
        Policies(agencies=(AGENCY,), assignment=(AssignmentRule(agency="elsewhere"),))
    policies = Policies(agencies=(AGENCY,), assignment=(AssignmentRule(agency="northwind", min_balance=5_000),))
    assert policies.assign("clinic", "USD", 4_999) is None and policies.assign("clinic", "USD", 5_000) == AGENCY


def test_the_agency_contract_carries_no_clinical_data() -> None:
    for event_class in AGENCY_EVENTS:
        text = json.dumps(contract_schema(event_class)).lower()
        assert "diagnos" not in text and "procedure" not in text and "icd" not in text
    d, policy = debt(), DunningPolicy(guards=Guards(validation_notice=False))
    final = _through_final_notice(d, policy)
    [placed] = review(d, facts(), policy, final + timedelta(days=30))
    message = for_agency(placed)
    assert message is not None and message.event_type == "billing.collections.agency.v1.AccountEscalated"
    assert message.account_reference == "INV-1" and message.debtor.name == "Ada Lovelace"
