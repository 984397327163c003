"""Payment plans, without I/O: the schedule (a down payment as instalment 0, then instalments as
equal as the minor unit allows, month ends kept), payments counted toward the plan in order,
missed instalments found once after the grace days, and the plan defaulting after too many; and
an invoice past its due date missed once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.domain.dues import InvoiceDue
from services.payments.domain.events import (
    DueItem,
    Frequency,
    PaymentMissed,
    PaymentPlanAgreed,
    PaymentPlanCompleted,
    PaymentPlanDefaulted,
    PlanPaymentApplied,
    PlanPaymentReversed,
)
from services.payments.domain.payment import OpenInvoice
from services.payments.domain.plan import PaymentPlan, PlanStatus, add_months, due_dates, schedule
from shared.events import DomainEvent
from shared.rules import RuleViolated

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


def refused(field: str):  # type: ignore[no-untyped-def]
    return pytest.raises(RuleViolated, check=lambda error: error.field == field)


def plan_of(total: int, down_payment: int, count: int, *, first_due: date = date(2026, 4, 1),
            frequency: Frequency = Frequency.MONTHLY, minimum_instalment: int = 1000,
            default_after_missed: int = 2, grace_days: int = 0) -> PaymentPlan:
    plan = PaymentPlan("plan_1")
    decided(plan, plan.agree(
        customer_id="cus_1", invoice_ids=["inv_a", "inv_b"], currency="USD", total=total,
        down_payment=down_payment, count=count, frequency=frequency, first_due=first_due,
        minimum_instalment=minimum_instalment, default_after_missed=default_after_missed,
        grace_days=grace_days, agreed_by="front-desk", at=NOW, today=TODAY,
    ))
    return plan


def decided(plan: PaymentPlan, events: list[DomainEvent]) -> list[DomainEvent]:
    for event in events:
        plan.apply(event)
    return events


def amounts(plan: PaymentPlan) -> list[tuple[int, int]]:
    return [(i.sequence, i.amount) for i in plan.instalments]


# -- the schedule --------------------------------------------------------------------------------


def test_the_down_payment_is_instalment_zero_due_the_day_the_plan_is_agreed() -> None:
    instalments = schedule(total=10000, down_payment=2500, count=3, frequency=Frequency.MONTHLY,
                           first_due=date(2026, 4, 1), agreed_on=TODAY, minimum_instalment=1000)
    assert [(i.sequence, i.due_date, i.amount) for i in instalments] == [
        (0, TODAY, 2500), (1, date(2026, 4, 1), 2500), (2, date(2026, 5, 1), 2500), (3, date(2026, 6, 1), 2500)]


def test_without_a_down_payment_the_instalments_start_at_one() -> None:
    instalments = schedule(total=9000, down_payment=0, count=3, frequency=Frequency.MONTHLY,
                           first_due=TODAY, agreed_on=TODAY, minimum_instalment=1000)
    assert [(i.sequence, i.amount) for i in instalments] == [(1, 3000), (2, 3000), (3, 3000)]
    assert instalments[0].due_date == TODAY  # the first may fall due the day it is agreed


def test_the_cents_left_over_go_to_the_first_instalments() -> None:
    instalments = schedule(total=10002, down_payment=0, count=4, frequency=Frequency.MONTHLY,
                           first_due=date(2026, 4, 1), agreed_on=TODAY, minimum_instalment=1)
    assert [i.amount for i in instalments] == [2501, 2501, 2500, 2500]
    one_cent = schedule(total=10001, down_payment=1, count=3, frequency=Frequency.MONTHLY,
                        first_due=date(2026, 4, 1), agreed_on=TODAY, minimum_instalment=1)
    assert [i.amount for i in one_cent] == [1, 3334, 3333, 3333]


def test_instalments_below_the_minimum_are_refused_naming_how_many_are_possible() -> None:
    with refused("instalments") as error:
        schedule(total=10000, down_payment=1000, count=4, frequency=Frequency.MONTHLY,
                 first_due=date(2026, 4, 1), agreed_on=TODAY, minimum_instalment=2500)
    assert "at most 3" in error.value.message
    with refused("instalments") as error:
        schedule(total=2000, down_payment=0, count=2, frequency=Frequency.MONTHLY,
                 first_due=date(2026, 4, 1), agreed_on=TODAY, minimum_instalment=2500)
    assert "pay it at once" in error.value.message
    # exactly the minimum is fine
    assert len(schedule(total=10000, down_payment=0, count=4, frequency=Frequency.MONTHLY,
                        first_due=date(2026, 4, 1), agreed_on=TODAY, minimum_instalment=2500)) == 4


@pytest.mark.parametrize(("total", "down_payment", "count", "first_due", "field"), [
    (0, 0, 1, date(2026, 4, 1), "invoice_ids"),
    (-100, 0, 1, date(2026, 4, 1), "invoice_ids"),
    (5000, 5000, 1, date(2026, 4, 1), "down_payment"),
    (5000, -1, 1, date(2026, 4, 1), "down_payment"),
    (5000, 0, 0, date(2026, 4, 1), "instalments"),
    (5000, 0, 1, date(2026, 3, 1), "first_due_date"),
])
def test_a_schedule_that_cannot_be_is_refused_naming_the_field(
    total: int, down_payment: int, count: int, first_due: date, field: str,
) -> None:
    with refused(field):
        schedule(total=total, down_payment=down_payment, count=count, frequency=Frequency.MONTHLY,
                 first_due=first_due, agreed_on=TODAY, minimum_instalment=1)


def test_monthly_instalments_keep_the_day_or_the_months_last_day() -> None:
    instalments = schedule(total=40000, down_payment=0, count=4, frequency=Frequency.MONTHLY,
                           first_due=date(2026, 1, 31), agreed_on=date(2026, 1, 15), minimum_instalment=1)
    assert [i.due_date for i in instalments] == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2026, 3, 31), 1, date(2026, 4, 30)),
    (date(2026, 12, 31), 2, date(2027, 2, 28)),
    (date(2026, 11, 15), 1, date(2026, 12, 15)),
    (date(2026, 12, 15), 1, date(2027, 1, 15)),
    (date(2026, 5, 30), 0, date(2026, 5, 30)),
    (date(2026, 1, 31), 25, date(2028, 2, 29)),
])
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


def test_weekly_and_biweekly_instalments() -> None:
    first = date(2026, 3, 9)
    assert due_dates(first, 3, Frequency.WEEKLY) == [first, date(2026, 3, 16), date(2026, 3, 23)]
    assert due_dates(first, 3, Frequency.BIWEEKLY) == [first, date(2026, 3, 23), date(2026, 4, 6)]


@given(
    total=st.integers(min_value=1, max_value=10_000_000),
    down_share=st.floats(min_value=0, max_value=0.99),
    count=st.integers(min_value=1, max_value=60),
    minimum=st.integers(min_value=1, max_value=50_000),
    frequency=st.sampled_from(Frequency),
    first_due=st.dates(min_value=TODAY, max_value=date(2030, 12, 31)),
)
def test_a_schedule_sums_to_the_total_in_instalments_a_cent_apart_at_most(
    total: int, down_share: float, count: int, minimum: int, frequency: Frequency, first_due: date,
) -> None:
    down_payment = int(total * down_share)
    try:
        instalments = schedule(total=total, down_payment=down_payment, count=count, frequency=frequency,
                               first_due=first_due, agreed_on=TODAY, minimum_instalment=minimum)
    except RuleViolated as error:
        assert error.field == "instalments"
        assert (total - down_payment) // count < minimum
        return
    assert sum(i.amount for i in instalments) == total
    regular = [i for i in instalments if i.sequence > 0]
    assert [i.sequence for i in regular] == list(range(1, count + 1))
    assert max(i.amount for i in regular) - min(i.amount for i in regular) <= 1
    assert all(a.amount >= b.amount for a, b in pairwise(regular))  # the extra cents first
    assert all(i.amount >= minimum for i in regular)
    assert [i.due_date for i in regular] == sorted(i.due_date for i in regular)
    assert regular[0].due_date == first_due
    assert [i.sequence for i in instalments if i.sequence == 0] == ([0] if down_payment else [])


# -- counting payments ---------------------------------------------------------------------------


def test_an_agreed_plan_is_active_with_its_terms() -> None:
    plan = plan_of(10000, 1000, 3)
    assert plan.status == PlanStatus.ACTIVE and plan.version == 1
    assert isinstance(plan.agreed, PaymentPlanAgreed)
    assert amounts(plan) == [(0, 1000), (1, 3000), (2, 3000), (3, 3000)]
    assert (plan.outstanding, plan.paid_to_date) == (10000, 0)
    with refused("plan_id"):
        plan.agree(customer_id="cus_1", invoice_ids=["inv_a"], currency="USD", total=1, down_payment=0, count=1,
                   frequency=Frequency.MONTHLY, first_due=TODAY, minimum_instalment=1, default_after_missed=1,
                   grace_days=0, agreed_by="desk", at=NOW, today=TODAY)


def test_payments_pay_the_earliest_instalments_and_name_those_they_completed() -> None:
    plan = plan_of(10000, 1000, 3)
    [first] = decided(plan, plan.count_payment("pay_1", 2500, NOW))
    assert isinstance(first, PlanPaymentApplied)
    assert (first.amount, first.paid_to_date, first.instalments_paid) == (2500, 2500, [0])
    assert plan.unpaid_of(plan.instalments[1]) == 1500
    assert plan.current_instalment() == plan.instalments[1]
    [second] = decided(plan, plan.count_payment("pay_2", 4500, NOW))
    assert isinstance(second, PlanPaymentApplied) and second.instalments_paid == [1, 2]
    assert plan.paid_instalments(plan.paid_to_date) == {0, 1, 2}
    assert plan.contributions == {"pay_1": 2500, "pay_2": 4500}


def test_a_plan_is_completed_when_everything_is_paid_and_the_surplus_does_not_count() -> None:
    plan = plan_of(10000, 0, 2)
    applied, completed = decided(plan, plan.count_payment("pay_1", 12000, NOW))
    assert isinstance(applied, PlanPaymentApplied) and isinstance(completed, PaymentPlanCompleted)
    assert (applied.amount, applied.paid_to_date, applied.instalments_paid) == (10000, 10000, [1, 2])
    assert (completed.total, completed.paid) == (10000, 10000)
    assert plan.status == PlanStatus.COMPLETED and plan.outstanding == 0
    assert plan.current_instalment() is None
    assert plan.count_payment("pay_2", 100, NOW) == []


def test_an_uncounted_payment_takes_back_what_it_counted_and_reopens_a_completed_plan() -> None:
    plan = plan_of(10000, 0, 2)
    decided(plan, plan.count_payment("pay_1", 6000, NOW))
    decided(plan, plan.count_payment("pay_2", 4000, NOW))
    assert plan.status == PlanStatus.COMPLETED
    [event] = decided(plan, plan.uncount_payment("pay_2", 9000, NOW))  # capped by what pay_2 counted
    assert isinstance(event, PlanPaymentReversed)
    assert (event.amount, event.paid_to_date) == (4000, 6000)
    assert plan.status == PlanStatus.ACTIVE and plan.outstanding == 4000
    assert plan.paid_instalments(plan.paid_to_date) == {1}
    assert plan.uncount_payment("pay_2", 1, NOW) == []
    assert plan.uncount_payment("pay_never", 1, NOW) == []


def test_a_plan_never_agreed_counts_nothing() -> None:
    plan = PaymentPlan("plan_ghost")
    assert plan.count_payment("pay_1", 100, NOW) == []
    assert plan.uncount_payment("pay_1", 100, NOW) == []
    assert plan.look_for_missed(TODAY, NOW) == []
    with refused("plan_id"):
        _ = plan.terms


# -- missed instalments --------------------------------------------------------------------------


def test_an_instalment_is_missed_only_after_its_grace_days() -> None:
    plan = plan_of(9000, 0, 3, first_due=date(2026, 4, 1), grace_days=3, default_after_missed=3)
    assert plan.look_for_missed(date(2026, 4, 4), NOW) == []  # 3 days late: within grace
    [missed] = plan.look_for_missed(date(2026, 4, 5), NOW)
    assert isinstance(missed, PaymentMissed)
    assert (missed.item, missed.instalment, missed.due_date, missed.amount, missed.days_overdue) == (
        DueItem.INSTALMENT, 1, date(2026, 4, 1), 3000, 4)
    assert (missed.plan_id, missed.billed_party, missed.as_of) == ("plan_1", "customer", date(2026, 4, 5))


def test_an_instalment_is_missed_once_for_what_is_left_of_it() -> None:
    plan = plan_of(9000, 0, 3, first_due=date(2026, 4, 1), default_after_missed=3)
    decided(plan, plan.count_payment("pay_1", 1000, NOW))
    [missed] = decided(plan, plan.look_for_missed(date(2026, 4, 10), NOW))
    assert isinstance(missed, PaymentMissed) and missed.amount == 2000
    assert plan.missed == [1]
    assert plan.look_for_missed(date(2026, 4, 20), NOW) == []
    # a month on, the next one; the first is not published again
    [later] = decided(plan, plan.look_for_missed(date(2026, 5, 2), NOW))
    assert isinstance(later, PaymentMissed) and later.instalment == 2
    assert plan.missed == [1, 2]


def test_a_paid_instalment_is_not_missed() -> None:
    plan = plan_of(9000, 1000, 2, first_due=date(2026, 4, 1), default_after_missed=1)
    decided(plan, plan.count_payment("pay_1", 5000, NOW))  # the down payment and the first instalment
    assert plan.look_for_missed(date(2026, 4, 30), NOW) == []


def test_too_many_missed_instalments_default_the_plan() -> None:
    plan = plan_of(9000, 1000, 2, first_due=date(2026, 4, 1), default_after_missed=2)
    [down] = decided(plan, plan.look_for_missed(date(2026, 3, 3), NOW))
    assert isinstance(down, PaymentMissed) and down.instalment == 0
    assert plan.status == PlanStatus.ACTIVE
    missed, defaulted = decided(plan, plan.look_for_missed(date(2026, 4, 2), NOW))
    assert isinstance(missed, PaymentMissed) and missed.instalment == 1
    assert isinstance(defaulted, PaymentPlanDefaulted)
    assert (defaulted.missed_instalments, defaulted.outstanding) == ([0, 1], 9000)
    assert plan.status == PlanStatus.DEFAULTED
    # a defaulted plan is looked at no more and counts no payments
    assert plan.look_for_missed(date(2026, 9, 1), NOW) == []
    assert plan.count_payment("pay_1", 1000, NOW) == []


def test_several_instalments_missed_at_once_can_default_in_one_look() -> None:
    plan = plan_of(9000, 0, 3, first_due=date(2026, 4, 1), frequency=Frequency.WEEKLY, default_after_missed=2)
    events = plan.look_for_missed(date(2026, 4, 20), NOW)
    assert [type(e) for e in events] == [PaymentMissed, PaymentMissed, PaymentMissed, PaymentPlanDefaulted]
    assert [e.instalment for e in events if isinstance(e, PaymentMissed)] == [1, 2, 3]


# -- missed invoices -----------------------------------------------------------------------------


def due_invoice(*, balance: int = 5000, due_date: date = date(2026, 3, 1), in_plan: bool = False) -> OpenInvoice:
    return OpenInvoice(invoice_id="inv_1", number="INV-2026-000001", customer_id="cus_1", billed_party="customer",
                       currency="USD", balance=balance, due_date=due_date, issue_date=date(2026, 2, 1),
                       plan_id="plan_1" if in_plan else None)


def test_an_invoice_past_due_and_its_grace_days_is_missed_once() -> None:
    due = InvoiceDue("inv_1")
    assert due.look_for_missed(due_invoice(), date(2026, 3, 3), grace_days=2, at=NOW) == []
    [missed] = due.look_for_missed(due_invoice(), date(2026, 3, 4), grace_days=2, at=NOW)
    assert isinstance(missed, PaymentMissed)
    assert (missed.item, missed.invoice_id, missed.invoice_number, missed.amount, missed.days_overdue) == (
        DueItem.INVOICE, "inv_1", "INV-2026-000001", 5000, 3)
    assert missed.plan_id is None and missed.instalment is None
    due.apply(missed)
    assert due.version == 1
    assert due.look_for_missed(due_invoice(), date(2026, 4, 1), grace_days=2, at=NOW) == []


@pytest.mark.parametrize("invoice", [due_invoice(balance=0), due_invoice(balance=-100), due_invoice(in_plan=True),
                                     due_invoice(due_date=date(2026, 3, 2))])
def test_a_paid_planned_or_not_yet_due_invoice_is_not_missed(invoice: OpenInvoice) -> None:
    assert InvoiceDue("inv_1").look_for_missed(invoice, TODAY, grace_days=0, at=NOW) == []


def test_an_invoice_one_day_late_without_grace_is_missed() -> None:
    [missed] = InvoiceDue("inv_1").look_for_missed(
        due_invoice(due_date=TODAY - timedelta(days=1)), TODAY, grace_days=0, at=NOW)
    assert isinstance(missed, PaymentMissed) and missed.days_overdue == 1
