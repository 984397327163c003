"""Payment plans: a balance paid in instalments, folded from the plan's events.

Payments count toward a plan in the order they come and pay the earliest instalment not yet paid,
so instalment ``k`` is paid exactly when what was paid to the plan reaches the sum of the
instalments up to ``k``. An instalment still unpaid ``grace_days`` after its due date is missed,
once; ``default_after_missed`` missed instalments default the plan. A plan is completed when
everything was paid."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum

from services.payments.domain.events import (
    DueItem,
    Frequency,
    Instalment,
    PaymentMissed,
    PaymentPlanAgreed,
    PaymentPlanCompleted,
    PaymentPlanDefaulted,
    PlanPaymentApplied,
    PlanPaymentReversed,
)
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.rules import RuleViolated


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it is shorter."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(first_due: date, count: int, frequency: Frequency) -> list[date]:
    match frequency:
        case Frequency.MONTHLY:
            return [add_months(first_due, i) for i in range(count)]
        case Frequency.BIWEEKLY:
            return [first_due + timedelta(weeks=2 * i) for i in range(count)]
        case Frequency.WEEKLY:
            return [first_due + timedelta(weeks=i) for i in range(count)]


def schedule(
    *, total: int, down_payment: int, count: int, frequency: Frequency, first_due: date, agreed_on: date,
    minimum_instalment: int,
) -> list[Instalment]:
    """The instalments of a plan: the down payment (sequence 0, due on the day it is agreed), then
    ``count`` instalments as equal as the minor unit allows, the first ones taking the cents left
    over. Refuses instalments below the minimum, naming how many the balance allows."""
    if total <= 0:
        raise RuleViolated("invoice_ids", "there is nothing owed on these invoices to plan")
    if not 0 <= down_payment < total:
        raise RuleViolated("down_payment", f"a down payment is at least 0 and less than the balance {total}")
    if count < 1:
        raise RuleViolated("instalments", "a plan has at least one instalment")
    if first_due < agreed_on:
        raise RuleViolated("first_due_date", "the first instalment cannot fall due before the plan is agreed")
    rest = total - down_payment
    base, extra = divmod(rest, count)
    if base < minimum_instalment:
        allowed = max(rest // minimum_instalment, 0) if minimum_instalment else count
        raise RuleViolated(
            "instalments",
            f"{count} instalments of {rest} would be below the minimum instalment of {minimum_instalment}"
            + (f"; at most {allowed} are possible" if allowed else "; pay it at once"),
        )
    plan = [Instalment(sequence=0, due_date=agreed_on, amount=down_payment)] if down_payment else []
    plan += [
        Instalment(sequence=i + 1, due_date=due, amount=base + (1 if i < extra else 0))
        for i, due in enumerate(due_dates(first_due, count, frequency))
    ]
    return plan


class PlanStatus(StrEnum):
    NEW = "new"
    ACTIVE = "active"
    COMPLETED = "completed"
    DEFAULTED = "defaulted"


class PaymentPlan(FoldedFromEvents):
    def __init__(self, plan_id: str) -> None:
        self.plan_id = plan_id
        self.version = 0
        self.status = PlanStatus.NEW
        self.agreed: PaymentPlanAgreed | None = None
        self.paid_to_date = 0
        self.contributions: dict[str, int] = {}  # payment id -> what it counts toward the plan
        self.missed: list[int] = []

    # -- reading ---------------------------------------------------------------------------------

    @property
    def terms(self) -> PaymentPlanAgreed:
        if self.agreed is None:
            raise RuleViolated("plan_id", f"no payment plan {self.plan_id}")
        return self.agreed

    @property
    def instalments(self) -> list[Instalment]:
        return list(self.agreed.instalments) if self.agreed else []

    @property
    def outstanding(self) -> int:
        return max(self.terms.total - self.paid_to_date, 0)

    def due_through(self, sequence: int) -> int:
        """What the plan asks up to and including instalment ``sequence``."""
        return sum(i.amount for i in self.instalments if i.sequence <= sequence)

    def unpaid_of(self, instalment: Instalment) -> int:
        return min(instalment.amount, max(self.due_through(instalment.sequence) - self.paid_to_date, 0))

    def paid_instalments(self, paid_to_date: int) -> set[int]:
        return {i.sequence for i in self.instalments if self.due_through(i.sequence) <= paid_to_date}

    def current_instalment(self) -> Instalment | None:
        """The earliest instalment not yet paid."""
        return next((i for i in self.instalments if self.unpaid_of(i) > 0), None)

    # -- deciding --------------------------------------------------------------------------------

    def agree(
        self, *, customer_id: str, invoice_ids: Sequence[str], currency: str, total: int, down_payment: int,
        count: int, frequency: Frequency, first_due: date, minimum_instalment: int, default_after_missed: int,
        grace_days: int, agreed_by: str, at: datetime, today: date,
    ) -> list[DomainEvent]:
        if self.agreed is not None:
            raise RuleViolated("plan_id", f"payment plan {self.plan_id} was already agreed")
        instalments = schedule(
            total=total, down_payment=down_payment, count=count, frequency=frequency, first_due=first_due,
            agreed_on=today, minimum_instalment=minimum_instalment,
        )
        return [PaymentPlanAgreed(
            plan_id=self.plan_id, customer_id=customer_id, invoice_ids=list(invoice_ids), currency=currency,
            total=total, down_payment=down_payment, frequency=frequency, instalments=instalments,
            minimum_instalment=minimum_instalment, default_after_missed=default_after_missed,
            grace_days=grace_days, agreed_by=agreed_by, agreed_at=at,
        )]

    def count_payment(self, payment_id: str, amount: int, at: datetime) -> list[DomainEvent]:
        """A payment to the plan's invoices; what it pays beyond the plan's total does not count."""
        if self.status != PlanStatus.ACTIVE:
            return []
        amount = min(amount, self.outstanding)
        if amount <= 0:
            return []
        terms = self.terms
        paid_to_date = self.paid_to_date + amount
        newly_paid = sorted(self.paid_instalments(paid_to_date) - self.paid_instalments(self.paid_to_date))
        events: list[DomainEvent] = [PlanPaymentApplied(
            plan_id=self.plan_id, customer_id=terms.customer_id, payment_id=payment_id, amount=amount,
            paid_to_date=paid_to_date, instalments_paid=newly_paid, applied_at=at,
        )]
        if paid_to_date >= terms.total:
            events.append(self._completed(paid_to_date, at))
        return events

    def complete_if_cleared(self, open_balance: int, at: datetime) -> list[DomainEvent]:
        """Its invoices ask nothing more (paid, credited or voided, whatever the plan said): it
        is completed."""
        if self.status != PlanStatus.ACTIVE or open_balance > 0:
            return []
        return [self._completed(self.paid_to_date, at)]

    def _completed(self, paid: int, at: datetime) -> PaymentPlanCompleted:
        terms = self.terms
        return PaymentPlanCompleted(
            plan_id=self.plan_id, customer_id=terms.customer_id, total=terms.total, paid=paid,
            currency=terms.currency, completed_at=at,
        )

    def uncount_payment(self, payment_id: str, amount: int, at: datetime) -> list[DomainEvent]:
        """A payment that counted was reversed, or given back from the plan's invoices."""
        amount = min(amount, self.contributions.get(payment_id, 0))
        if amount <= 0 or self.status == PlanStatus.NEW:
            return []
        return [PlanPaymentReversed(
            plan_id=self.plan_id, customer_id=self.terms.customer_id, payment_id=payment_id, amount=amount,
            paid_to_date=self.paid_to_date - amount, reversed_at=at,
        )]

    def look_for_missed(self, as_of: date, at: datetime) -> list[DomainEvent]:
        """PaymentMissed for every instalment newly found unpaid past its due date and grace days,
        then PaymentPlanDefaulted when that makes too many. Looking again finds nothing new."""
        if self.status != PlanStatus.ACTIVE:
            return []
        terms = self.terms
        events: list[DomainEvent] = []
        missed = list(self.missed)
        for instalment in self.instalments:
            unpaid = self.unpaid_of(instalment)
            overdue = (as_of - instalment.due_date).days
            if instalment.sequence in missed or unpaid <= 0 or overdue <= terms.grace_days:
                continue
            missed.append(instalment.sequence)
            events.append(PaymentMissed(
                customer_id=terms.customer_id, item=DueItem.INSTALMENT, billed_party="customer",
                plan_id=self.plan_id, instalment=instalment.sequence, due_date=instalment.due_date,
                amount=unpaid, currency=terms.currency, days_overdue=overdue, as_of=as_of, detected_at=at,
            ))
        if events and len(missed) >= terms.default_after_missed:
            events.append(PaymentPlanDefaulted(
                plan_id=self.plan_id, customer_id=terms.customer_id, missed_instalments=missed,
                outstanding=self.outstanding, currency=terms.currency, defaulted_at=at,
            ))
        return events

    # -- folding ---------------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case PaymentPlanAgreed():
                self.agreed = event
                self.status = PlanStatus.ACTIVE
            case PlanPaymentApplied():
                self.paid_to_date = event.paid_to_date
                self.contributions[event.payment_id] = self.contributions.get(event.payment_id, 0) + event.amount
            case PlanPaymentReversed():
                self.paid_to_date = event.paid_to_date
                self.contributions[event.payment_id] -= event.amount
                if self.status == PlanStatus.COMPLETED and self.paid_to_date < self.terms.total:
                    self.status = PlanStatus.ACTIVE
            case PaymentPlanCompleted():
                self.status = PlanStatus.COMPLETED
            case PaymentMissed():
                if event.instalment is not None:
                    self.missed.append(event.instalment)
            case PaymentPlanDefaulted():
                self.status = PlanStatus.DEFAULTED
        self.version += 1
