"""What a business decides about its arrears: the dunning steps, the compliance guards, when to
escalate, and which collection agency takes which debt for what fee.

Read from a TOML file (``COLLECTIONS_POLICY_FILE``, deploy/collections.toml by default)::

    [businesses.clinic]
    escalate_after_silence_days = 30
    non_profit = false

    [[businesses.clinic.steps]]
    step = "reminder"
    days_past_due = 1
    channel = "email"
    template = "reminder"
    respond_within_days = 14

    [businesses.clinic.guards]        # every guard is on unless switched off here
    max_contact_attempts = 7

    [[agencies]]
    id = "northwind"
    name = "Northwind Recovery Services"
    fee_rate_bp = 2500                # 25 % of what it collects

    [[assignment]]                    # first match wins
    agency = "northwind"
    min_balance = 0
"""

from __future__ import annotations

import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.collections.domain.events import Channel, Step

AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NoticeStep(_Config):
    step: Step
    days_past_due: int = Field(ge=0, description="Sent once the debt is this many days past due")
    channel: Channel = Channel.LETTER
    template: str = Field(min_length=1)
    respond_within_days: int = Field(14, ge=1, le=120, description="The notice's deadline, in days")


class Guards(_Config):
    """Compliance guards; all on by default. A blocked action is postponed, never dropped."""

    contact_limit: bool = True
    max_contact_attempts: int = Field(7, ge=1, description="Contact attempts allowed per debt in the window")
    contact_window_days: int = Field(7, ge=1)
    contact_hours: bool = True
    earliest_contact: time = time(8, 0)
    latest_contact: time = time(21, 0)
    do_not_contact: bool = True
    deceased: bool = True
    disputes: bool = True
    validation_notice: bool = True
    validation_period_days: int = Field(30, ge=0, description="Days the customer has to dispute before escalation")
    non_profit_wait_days: int = Field(
        120, ge=0, description="For non-profit hospitals: no escalation until this long after the first statement"
    )

    @model_validator(mode="after")
    def _hours_make_sense(self) -> Self:
        if self.earliest_contact >= self.latest_contact:
            raise ValueError("earliest_contact must be before latest_contact")
        return self


def _default_steps() -> tuple[NoticeStep, ...]:
    return (
        NoticeStep(step=Step.REMINDER, days_past_due=1, channel=Channel.EMAIL, template="reminder"),
        NoticeStep(step=Step.FIRST_DEMAND, days_past_due=15, template="first-demand"),
        NoticeStep(step=Step.SECOND_DEMAND, days_past_due=30, template="second-demand"),
        NoticeStep(step=Step.FINAL_NOTICE, days_past_due=45, template="final-notice", respond_within_days=30),
    )


class DunningPolicy(_Config):
    business_id: str = ""
    steps: tuple[NoticeStep, ...] = Field(default_factory=_default_steps)
    escalate_after_silence_days: int = Field(
        30, ge=0, description="Days after the final notice without a payment before the debt is escalated"
    )
    escalate: bool = True
    non_profit: bool = False
    validation_channel: Channel = Channel.LETTER
    validation_template: str = "validation-notice"
    guards: Guards = Guards()

    @model_validator(mode="after")
    def _steps_in_order(self) -> Self:
        if not self.steps:
            raise ValueError("a dunning policy needs at least one step")
        names = [s.step for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError("each step may appear once")
        order = list(Step)
        if names != sorted(names, key=order.index):
            raise ValueError("steps must be in the order reminder, first_demand, second_demand, final_notice")
        days = [s.days_past_due for s in self.steps]
        if days != sorted(days):
            raise ValueError("steps' days_past_due must not decrease")
        return self

    def step(self, step: Step) -> NoticeStep | None:
        return next((s for s in self.steps if s.step is step), None)


class Agency(_Config):
    id: str = Field(pattern=AGENCY_ID.pattern)
    name: str = Field(min_length=1)
    fee_rate_bp: int = Field(ge=0, lt=10_000, description="Fee in basis points of what the agency collects")

    def fee_on(self, amount: int) -> int:
        """The agency's fee on ``amount`` minor units, rounded half up."""
        return (amount * self.fee_rate_bp + 5_000) // 10_000


class AssignmentRule(_Config):
    """Which agency takes a debt: the first rule that matches."""

    agency: str
    business_id: str | None = None
    currency: str | None = None
    min_balance: int = Field(0, ge=0)
    max_balance: int | None = Field(None, ge=0)

    def matches(self, business_id: str, currency: str, balance: int) -> bool:
        return (
            (self.business_id is None or self.business_id == business_id)
            and (self.currency is None or self.currency == currency)
            and balance >= self.min_balance
            and (self.max_balance is None or balance <= self.max_balance)
        )


class Policies(_Config):
    businesses: dict[str, DunningPolicy] = {}
    agencies: tuple[Agency, ...] = ()
    assignment: tuple[AssignmentRule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        known = {a.id for a in self.agencies}
        if len(known) != len(self.agencies):
            raise ValueError("agency ids must be unique")
        for rule in self.assignment:
            if rule.agency not in known:
                raise ValueError(f"assignment names unknown agency {rule.agency!r}")
        return self

    def for_business(self, business_id: str) -> DunningPolicy:
        """The business's policy, or the default one."""
        policy = self.businesses.get(business_id) or DunningPolicy()
        return policy.model_copy(update={"business_id": business_id})

    def agency(self, agency_id: str) -> Agency | None:
        return next((a for a in self.agencies if a.id == agency_id), None)

    def assign(self, business_id: str, currency: str, balance: int) -> Agency | None:
        for rule in self.assignment:
            if rule.matches(business_id, currency, balance):
                return self.agency(rule.agency)
        return None

    @classmethod
    def load(cls, path: Path) -> Policies:
        return cls.model_validate(tomllib.loads(path.read_text()))
