"""A debt in arrears and the dunning decision: what to do next for it, given what the platform
knows today, the business's policy and the compliance guards.

``Debt`` is folded from the debt's own stream (what was sent, attempted, postponed, disputed,
placed). ``Facts`` is what other services say about it now (its balance, the customer's contact
points and flags, a payment plan, how to pay). ``Debt.review`` returns the events of one step of
dunning: a notice, an escalation, a settlement, a postponement by a guard (recorded once per
action and guard), or nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.collections.domain.events import (
    AccountEscalated,
    AccountRecalled,
    AccountReturned,
    Action,
    ActionPostponed,
    AgencyPaymentReported,
    Channel,
    ContactAttemptRecorded,
    ContactVerificationRequested,
    DebtOpened,
    Debtor,
    DebtSettled,
    DemandIssued,
    Destination,
    DisputeOpened,
    DisputeOutcome,
    DisputeResolved,
    Flags,
    Guard,
    Itemization,
    NoticeDeliveryFailed,
    NoticeSent,
    PaymentWay,
    PlacementAcknowledged,
    RecallReason,
    SettledHow,
    Step,
    ValidationNoticeIssued,
)
from services.collections.domain.policy import Agency, DunningPolicy
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.rules import RuleViolated

AgencyChooser = Callable[[str, str, int], Agency | None]  # (business, currency, balance) -> agency


@dataclass(frozen=True)
class Facts:
    """What the platform knows about a debt now, from registration, invoicing and payments."""

    itemization: Itemization
    debtor: Debtor | None
    flags: frozenset[str]
    destinations: dict[Channel, Destination]  # usable contact points per channel
    bounced: dict[Channel, str]  # a channel's contact point that bounced
    plan_in_good_standing: bool
    verification_open: bool
    how_to_pay: list[PaymentWay]
    last_payment_on: date | None
    paid_directly_since_placement: bool
    voided: bool

    @property
    def balance(self) -> int:
        return self.itemization.balance


@dataclass
class Placement:
    placement_id: str
    agency_id: str
    escalated_at: datetime
    status: str = "placed"  # placed, acknowledged, recalled, returned


@dataclass
class Debt(FoldedFromEvents):
    debt_id: str
    opened: DebtOpened | None = None
    notices: dict[str, datetime] = field(default_factory=dict)  # step or "validation" -> issued at
    deadlines: dict[str, date] = field(default_factory=dict)
    contacts: list[datetime] = field(default_factory=list)  # every contact attempt, for the limit
    postponement: ActionPostponed | None = None  # what a guard holds back now
    disputes: dict[str, DisputeOpened] = field(default_factory=dict)  # open ones
    settled: bool = False
    placement: Placement | None = None
    reports: set[str] = field(default_factory=set)
    delivered: set[str] = field(default_factory=set)  # notices whose delivery outcome is recorded
    version: int = 0

    # -- folding -----------------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        match event:
            case DebtOpened():
                self.opened = event
            case DemandIssued():
                self.notices[event.step.value] = event.issued_at
                self.deadlines[event.step.value] = event.deadline
                self.contacts.append(event.issued_at)
                self.postponement = None
            case ValidationNoticeIssued():
                self.notices["validation"] = event.issued_at
                self.deadlines["validation"] = event.dispute_by
                self.contacts.append(event.issued_at)
                self.postponement = None
            case ContactAttemptRecorded():
                self.contacts.append(event.attempted_at)
            case ActionPostponed():
                self.postponement = event
            case DisputeOpened():
                self.disputes[event.dispute_id] = event
            case DisputeResolved():
                self.disputes.pop(event.dispute_id, None)
                self.postponement = None
            case DebtSettled():
                self.settled = True
            case AccountEscalated():
                self.placement = Placement(event.placement_id, event.agency_id, event.escalated_at)
                self.postponement = None
            case PlacementAcknowledged():
                if self.placement:
                    self.placement.status = "acknowledged"
            case AgencyPaymentReported():
                self.reports.add(event.report_id)
            case AccountRecalled():
                if self.placement:
                    self.placement.status = "recalled"
            case AccountReturned():
                if self.placement:
                    self.placement.status = "returned"
            case NoticeSent() | NoticeDeliveryFailed():
                self.delivered.add(event.notice_id)
            case ContactVerificationRequested():
                pass

    # -- state -------------------------------------------------------------------------------------

    @property
    def customer_id(self) -> str:
        assert self.opened is not None
        return self.opened.customer_id

    @property
    def dispute_open(self) -> bool:
        return bool(self.disputes)

    @property
    def placed(self) -> bool:
        return self.placement is not None and self.placement.status in ("placed", "acknowledged")

    @property
    def status(self) -> str:
        if self.settled:
            return "settled"
        if self.placement is not None:
            return {"recalled": "dunning", "returned": "returned"}.get(self.placement.status, "escalated")
        return "dunning"

    @property
    def last_step(self) -> str | None:
        sent = [s for s in Step if s.value in self.notices]
        return sent[-1].value if sent else None

    # -- opening -----------------------------------------------------------------------------------

    @classmethod
    def open(
        cls, debt_id: str, *, customer_id: str, business_id: str, invoice_id: str, invoice_number: str,
        currency: str, original_amount: int, balance: int, issue_date: date, due_date: date,
        service_dates: list[date], at: datetime,
    ) -> list[DomainEvent]:
        return [DebtOpened(
            debt_id=debt_id, customer_id=customer_id, business_id=business_id, invoice_id=invoice_id,
            invoice_number=invoice_number, currency=currency, original_amount=original_amount, balance=balance,
            issue_date=issue_date, due_date=due_date, service_dates=sorted(set(service_dates)), opened_at=at,
        )]

    # -- the dunning decision ----------------------------------------------------------------------

    def review(
        self, facts: Facts, policy: DunningPolicy, now: datetime, assign: AgencyChooser,
    ) -> list[DomainEvent]:
        """One step of dunning for this debt as of ``now``."""
        if self.opened is None or self.settled:
            return []
        if facts.balance <= 0:
            return self._settle(facts, now)
        if self.placement is not None and self.placement.status != "recalled":
            return []  # the agency works it (or returned it: staff decide)
        if facts.plan_in_good_standing:
            return []  # paused while the plan is kept
        action = self._next_action(policy, facts, now.date())
        if action is None:
            return []
        if action is Action.ESCALATE:
            return self._escalate(facts, policy, now, assign)
        return self._contact(action, facts, policy, now)

    def _next_action(self, policy: DunningPolicy, facts: Facts, today: date) -> Action | None:
        assert self.opened is not None
        days_past_due = (today - self.opened.due_date).days
        previous_deadline: date | None = None
        for step in policy.steps:
            if step.step.value in self.notices:
                previous_deadline = self.deadlines[step.step.value]
                continue
            if days_past_due < step.days_past_due:
                return None
            if previous_deadline is not None and today <= previous_deadline:
                return None
            return Action(step.step.value)
        # every step sent: escalation, after the silence that follows the last notice
        if not policy.escalate or (self.placement is not None and self.placement.status == "recalled"):
            return None
        last_notice = max(at for step, at in self.notices.items() if step != "validation").date()
        quiet_since = max(last_notice, facts.last_payment_on or last_notice)
        if today < quiet_since + timedelta(days=policy.escalate_after_silence_days):
            return None
        if policy.guards.validation_notice and "validation" not in self.notices:
            return Action.VALIDATION_NOTICE
        return Action.ESCALATE

    def _postpone(
        self, action: Action, guard: Guard, reason: str, until: datetime | None, now: datetime,
    ) -> list[DomainEvent]:
        if self.postponement is not None and (self.postponement.action, self.postponement.guard) == (action, guard):
            return []  # recorded already; still waiting
        return [ActionPostponed(
            debt_id=self.debt_id, customer_id=self.customer_id, action=action, guard=guard, until=until,
            reason=reason, postponed_at=now,
        )]

    def _blocked_from_contact(
        self, action: Action, facts: Facts, policy: DunningPolicy, now: datetime,
    ) -> list[DomainEvent] | None:
        guards = policy.guards
        if guards.disputes and self.dispute_open:
            return self._postpone(action, Guard.DISPUTE_OPEN, "a dispute is open", None, now)
        if guards.deceased and "deceased" in facts.flags:
            return self._postpone(action, Guard.DECEASED, "the customer is recorded as deceased", None, now)
        if guards.do_not_contact and "do_not_contact" in facts.flags:
            return self._postpone(action, Guard.DO_NOT_CONTACT, "the customer asked not to be contacted", None, now)
        if guards.contact_limit:
            since = now - timedelta(days=guards.contact_window_days)
            recent = sorted(at for at in self.contacts if at > since)
            if len(recent) >= guards.max_contact_attempts:
                until = recent[len(recent) - guards.max_contact_attempts] + timedelta(days=guards.contact_window_days)
                return self._postpone(
                    action, Guard.CONTACT_LIMIT,
                    f"{len(recent)} contact attempts in {guards.contact_window_days} days", until, now,
                )
        if guards.contact_hours and facts.debtor is not None:
            allowed_from = next_contact_time(now, facts.debtor.time_zone, guards.earliest_contact, guards.latest_contact)
            if allowed_from is not None:
                return self._postpone(
                    action, Guard.CONTACT_HOURS,
                    f"outside {guards.earliest_contact:%H:%M}-{guards.latest_contact:%H:%M} in {facts.debtor.time_zone}",
                    allowed_from, now,
                )
        return None

    def _contact(self, action: Action, facts: Facts, policy: DunningPolicy, now: datetime) -> list[DomainEvent]:
        blocked = self._blocked_from_contact(action, facts, policy, now)
        if blocked is not None:
            return blocked
        if action is Action.VALIDATION_NOTICE:
            channel, template = policy.validation_channel, policy.validation_template
        else:
            step = policy.step(Step(action.value))
            assert step is not None
            channel, template = step.channel, step.template
        destination = facts.destinations.get(channel)
        if destination is None:
            bounced = facts.bounced.get(channel)
            reason = f"the {channel.value} contact point bounced" if bounced else f"no {channel.value} contact point"
            events: list[DomainEvent] = []
            if not facts.verification_open:
                events.append(ContactVerificationRequested(
                    debt_id=self.debt_id, customer_id=self.customer_id, channel=channel, contact_point_id=bounced,
                    reason=reason, requested_at=now,
                ))
            return events + self._postpone(action, Guard.CONTACT_UNUSABLE, reason, None, now)
        assert self.opened is not None
        today = now.date()
        notice_id = str(uuid.uuid4())
        if action is Action.VALIDATION_NOTICE:
            return [ValidationNoticeIssued(
                notice_id=notice_id, debt_id=self.debt_id, customer_id=self.customer_id, template=template,
                destination=destination, itemization=facts.itemization, how_to_pay=facts.how_to_pay,
                dispute_by=today + timedelta(days=policy.guards.validation_period_days), issued_at=now,
            )]
        step = policy.step(Step(action.value))
        assert step is not None
        return [DemandIssued(
            notice_id=notice_id, debt_id=self.debt_id, customer_id=self.customer_id, step=step.step,
            template=template, destination=destination, itemization=facts.itemization, how_to_pay=facts.how_to_pay,
            deadline=today + timedelta(days=step.respond_within_days),
            days_past_due=(today - self.opened.due_date).days, issued_at=now,
        )]

    def _escalate(
        self, facts: Facts, policy: DunningPolicy, now: datetime, assign: AgencyChooser,
    ) -> list[DomainEvent]:
        assert self.opened is not None
        guards = policy.guards
        today = now.date()
        if guards.disputes and self.dispute_open:
            return self._postpone(Action.ESCALATE, Guard.DISPUTE_OPEN, "a dispute is open", None, now)
        if guards.validation_notice:
            period_ends = self.deadlines["validation"]
            if today <= period_ends:
                return self._postpone(
                    Action.ESCALATE, Guard.VALIDATION_PERIOD,
                    f"the customer may dispute until {period_ends.isoformat()}",
                    start_of(period_ends + timedelta(days=1)), now,
                )
        if policy.non_profit:
            waits_until = self.opened.issue_date + timedelta(days=guards.non_profit_wait_days)
            if today < waits_until:
                return self._postpone(
                    Action.ESCALATE, Guard.NON_PROFIT_WAIT,
                    f"a non-profit hospital waits {guards.non_profit_wait_days} days after the first statement "
                    f"({self.opened.issue_date.isoformat()})",
                    start_of(waits_until), now,
                )
        agency = assign(self.opened.business_id, facts.itemization.currency, facts.balance)
        if agency is None or facts.debtor is None:
            return []
        return [AccountEscalated(
            placement_id=str(uuid.uuid4()), debt_id=self.debt_id, customer_id=self.customer_id, agency_id=agency.id,
            agency_name=agency.name, fee_rate_bp=agency.fee_rate_bp, account_reference=self.opened.invoice_number,
            debtor=facts.debtor, itemization=facts.itemization, service_dates=self.opened.service_dates,
            flags=Flags(
                deceased="deceased" in facts.flags, attorney_represented="attorney_represented" in facts.flags,
                bankruptcy="bankruptcy" in facts.flags,
            ),
            escalated_at=now,
        )]

    def _settle(self, facts: Facts, now: datetime) -> list[DomainEvent]:
        how = SettledHow.VOIDED if facts.voided else (
            SettledHow.PAID if facts.itemization.payments > 0 else SettledHow.CREDITED
        )
        events: list[DomainEvent] = []
        if self.placed:
            assert self.placement is not None
            reason = RecallReason.PAID_DIRECTLY if facts.paid_directly_since_placement else RecallReason.SETTLED
            events.append(self._recall_event(reason, None, now))
        events.append(DebtSettled(debt_id=self.debt_id, customer_id=self.customer_id, how=how, settled_at=now))
        return events

    # -- staff and agency commands ----------------------------------------------------------------

    def record_contact(
        self, attempt_id: str, *, channel: str, outcome: str, note: str | None, attempted_at: datetime, by: str,
    ) -> list[DomainEvent]:
        self._require_open()
        return [ContactAttemptRecorded(
            attempt_id=attempt_id, debt_id=self.debt_id, customer_id=self.customer_id, channel=channel,
            outcome=outcome, note=note, attempted_at=attempted_at, recorded_by=by,
        )]

    def open_dispute(self, dispute_id: str, *, reason: str, by: str, at: datetime) -> list[DomainEvent]:
        self._require_open()
        if dispute_id in self.disputes:
            return []
        events: list[DomainEvent] = [DisputeOpened(
            dispute_id=dispute_id, debt_id=self.debt_id, customer_id=self.customer_id, reason=reason, opened_by=by,
            opened_at=at,
        )]
        if self.placed:
            events.append(self._recall_event(RecallReason.DISPUTED, reason, at))
        return events

    def resolve_dispute(
        self, dispute_id: str, *, outcome: DisputeOutcome, note: str | None, by: str, at: datetime,
    ) -> list[DomainEvent]:
        if dispute_id not in self.disputes:
            raise RuleViolated("dispute_id", f"dispute {dispute_id} is not open on this debt")
        return [DisputeResolved(
            dispute_id=dispute_id, debt_id=self.debt_id, customer_id=self.customer_id, outcome=outcome, note=note,
            resolved_by=by, resolved_at=at,
        )]

    def recall(self, reason: RecallReason, note: str | None, at: datetime) -> list[DomainEvent]:
        if not self.placed:
            raise RuleViolated("placement", "the debt is not with an agency")
        return [self._recall_event(reason, note, at)]

    def acknowledge(self, agency_id: str, agency_reference: str | None, at: datetime) -> list[DomainEvent]:
        placement = self._placement_of(agency_id)
        if placement.status == "acknowledged":
            return []
        return [PlacementAcknowledged(
            placement_id=placement.placement_id, debt_id=self.debt_id, customer_id=self.customer_id,
            agency_id=agency_id, agency_reference=agency_reference, acknowledged_at=at,
        )]

    def report_payment(
        self, report_id: str, agency: Agency, *, amount: int, currency: str, collected_on: date,
        reference: str | None, at: datetime,
    ) -> list[DomainEvent]:
        placement = self._placement_of(agency.id)
        assert self.opened is not None
        if report_id in self.reports:
            return []
        if currency != self.opened.currency:
            raise RuleViolated("currency", f"the debt is in {self.opened.currency}")
        return [AgencyPaymentReported(
            report_id=report_id, placement_id=placement.placement_id, debt_id=self.debt_id,
            customer_id=self.customer_id, invoice_id=self.opened.invoice_id, agency_id=agency.id, agency_name=agency.name,
            amount=amount, fee=agency.fee_on(amount), currency=currency, collected_on=collected_on,
            reference=reference, reported_at=at,
        )]

    def give_back(self, agency_id: str, reason: str, at: datetime) -> list[DomainEvent]:
        placement = self._placement_of(agency_id)
        return [AccountReturned(
            placement_id=placement.placement_id, debt_id=self.debt_id, customer_id=self.customer_id,
            agency_id=agency_id, reason=reason, returned_at=at,
        )]

    def _placement_of(self, agency_id: str) -> Placement:
        if self.placement is None or self.placement.agency_id != agency_id:
            raise PlacementNotFound(self.debt_id)
        if self.placement.status not in ("placed", "acknowledged"):
            raise RuleViolated("placement", f"the placement was {self.placement.status}")
        return self.placement

    def _recall_event(self, reason: RecallReason, note: str | None, at: datetime) -> AccountRecalled:
        assert self.placement is not None
        return AccountRecalled(
            placement_id=self.placement.placement_id, debt_id=self.debt_id, customer_id=self.customer_id,
            agency_id=self.placement.agency_id, account_reference=self.opened.invoice_number if self.opened else "",
            reason=reason, note=note, recalled_at=at,
        )

    def _require_open(self) -> None:
        if self.opened is None:
            raise DebtNotFound(self.debt_id)


class DebtNotFound(LookupError):
    pass


class PlacementNotFound(LookupError):
    pass


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


def next_contact_time(now: datetime, time_zone: str, earliest: time, latest: time) -> datetime | None:
    """None if ``now`` is within contact hours in ``time_zone``; otherwise the next moment it is."""
    local = now.astimezone(ZoneInfo(time_zone))
    if earliest <= local.time().replace(tzinfo=None) < latest:
        return None
    day = local.date() if local.time().replace(tzinfo=None) < earliest else local.date() + timedelta(days=1)
    return datetime.combine(day, earliest, tzinfo=ZoneInfo(time_zone))
