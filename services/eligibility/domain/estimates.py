"""Good Faith Estimates: what a customer will owe for planned services, and how they could owe less.

``estimate_costs`` splits each planned service between the payer and the customer from the
coverage's cost shares (deductible, copay or coinsurance, out-of-pocket maximum), then applies the
customer's payment program. ``advise`` then looks for ways to pay less or to spread the cost:
a program the household would qualify for, a prompt-pay discount, a payment plan.

Amounts are integer minor units of the estimate's currency; percentages are basis points.
Every percentage of an amount is rounded half-up to the minor unit (``share_half_up``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import Field, model_validator

from services.eligibility.domain.coverage import PLAN_LEVEL_SERVICE_TYPE, CostShare, Value
from services.eligibility.domain.programs import (
    FULL_BP,
    PovertyGuidelines,
    Program,
    ProgramDetermination,
    ProgramTier,
    determine,
    income_limit,
)
from shared.money import CurrencyCode, CurrencyMismatch, Money

CostShareLookup = Callable[[str, bool], CostShare | None]


class PlannedService(Value):
    """A service the customer plans to receive, at the provider's price."""

    code: str = Field(min_length=1, description="Procedure or tariff code, e.g. CPT 99213")
    description: str | None = None
    quantity: int = Field(1, ge=1)
    unit_price: int = Field(ge=0, description="Price of one unit, minor units")
    service_type: str = Field(
        PLAN_LEVEL_SERVICE_TYPE, description="X12 service type code, e.g. 30, 98, UC"
    )
    in_network: bool = True


class LineEstimate(Value):
    """One planned service split between the payer and the customer.

    For a line priced with insurance, ``customer_portion_before_program`` is ``deductible_applied
    + copay_applied + coinsurance_applied - out_of_pocket_capped``; a self-pay or not-covered line
    owes its whole ``total``. Always ``payer_portion + customer_portion_before_program == total``
    and ``customer_portion == customer_portion_before_program - program_discount``."""

    code: str
    quantity: int
    unit_price: int
    total: int
    deductible_applied: int
    copay_applied: int
    coinsurance_applied: int
    out_of_pocket_capped: int = Field(
        description="Moved to the payer because the out-of-pocket maximum was reached"
    )
    payer_portion: int
    customer_portion_before_program: int
    program_discount: int
    customer_portion: int


class CostEstimate(Value):
    """The lines of an estimate and their exact sums."""

    lines: list[LineEstimate]
    currency: CurrencyCode
    total: int
    payer_portion: int
    customer_portion_before_program: int
    program_discount: int
    customer_portion: int
    self_pay: bool = Field(description="No line was priced with insurance")


class ImplausibleCostShare(ValueError):
    """A cost share no estimate can be made from: a negative amount, or coinsurance above 100%."""


def share_half_up(amount: int, bp: int) -> int:
    """``bp`` basis points of a non-negative ``amount``, rounded half-up to the minor unit:
    20% of 0.03 is 0.006, so 0.01; 50% of 0.01 is 0.005, so 0.01 as well."""
    return (amount * bp + FULL_BP // 2) // FULL_BP


@dataclass
class _Accumulators:
    """What is left of each deductible and out-of-pocket maximum as the lines of an estimate use
    them up. Each is keyed by the service type its figures were stated for and the network, so a
    type that falls back to the plan's deductible uses up the plan's, and in- and out-of-network
    are apart, as plans keep them."""

    deductibles: dict[tuple[str, bool], int] = field(default_factory=dict)
    # None: no maximum known, the customer's share is unbounded
    out_of_pocket: dict[tuple[str, bool], int | None] = field(default_factory=dict)

    def deductible_left(self, share: CostShare) -> int:
        key = (share.deductible_scope, share.in_network)
        if key not in self.deductibles:
            starting = share.deductible_remaining if share.deductible_remaining is not None else share.deductible
            self.deductibles[key] = starting or 0
        return self.deductibles[key]

    def out_of_pocket_left(self, share: CostShare) -> int | None:
        key = (share.out_of_pocket_scope, share.in_network)
        if key not in self.out_of_pocket:
            self.out_of_pocket[key] = (
                share.out_of_pocket_remaining if share.out_of_pocket_remaining is not None
                else share.out_of_pocket_max
            )
        return self.out_of_pocket[key]

    def use(self, share: CostShare, deductible: int, customer: int) -> None:
        self.deductibles[(share.deductible_scope, share.in_network)] -= deductible
        key = (share.out_of_pocket_scope, share.in_network)
        left = self.out_of_pocket[key]
        if left is not None:
            self.out_of_pocket[key] = left - customer


@dataclass(frozen=True)
class _PayerSplit:
    total: int
    deductible_applied: int = 0
    copay_applied: int = 0
    coinsurance_applied: int = 0
    out_of_pocket_capped: int = 0
    customer_portion: int = 0


def estimate_costs(
    services: Sequence[PlannedService],
    *,
    currency: str,
    cost_share_for: CostShareLookup | None,
    program: ProgramDetermination | None,
) -> CostEstimate:
    """Split planned services between the payer and the customer, then apply the customer's program.

    The rules the billing office agreed:

    - Lines are processed in the order given; earlier lines use up the deductible and the
      out-of-pocket maximum first.
    - ``cost_share_for(service_type, in_network)`` gives a line's cost share. When it answers
      None, or there is no lookup at all (no insurance), the line is self-pay: the customer owes
      it all.
    - A line the cost share marks not covered is owed in full by the customer and counts neither
      towards the deductible nor towards the out-of-pocket maximum.
    - A covered line's total is quantity x unit price. The deductible comes first: the customer
      pays ``min(deductible remaining, total)``. The remaining deductible starts at the cost
      share's ``deductible_remaining`` (its ``deductible`` when the payer did not say how much is
      left, 0 when neither is known) and is shared by every line whose deductible has the same
      scope (``deductible_scope``: the service type the payer stated it for, or the plan's "30"
      for types without their own) and network.
    - On the rest: the copay, once per line and never more than the rest, when the cost share has
      one; otherwise the coinsurance, rest x coinsurance rounded half-up; otherwise nothing.
    - The customer's share so far is then capped at the out-of-pocket remaining (starting at
      ``out_of_pocket_remaining``, else ``out_of_pocket_max``, unbounded when neither is known);
      the excess goes to the payer and the remaining decreases by what the customer pays.
      In-network and out-of-network cost shares keep separate accumulators, as plans do.
    - The program then lowers each line's customer portion (see ``program_discounts``).

    Raises ``CurrencyMismatch`` when the program is in another currency, ``ImplausibleCostShare``
    when a cost share has a negative amount or coinsurance above 100%.
    """
    if program is not None and program.currency != currency:
        raise CurrencyMismatch(
            f"the estimate is in {currency}, the program determination in {program.currency}"
        )
    accumulators = _Accumulators()
    shares = [
        cost_share_for(s.service_type, s.in_network) if cost_share_for else None for s in services
    ]
    splits = [
        _split(service.quantity * service.unit_price, share, accumulators)
        for service, share in zip(services, shares)
    ]
    discounts = program_discounts([split.customer_portion for split in splits], program)
    lines = [
        LineEstimate(
            code=service.code,
            quantity=service.quantity,
            unit_price=service.unit_price,
            total=split.total,
            deductible_applied=split.deductible_applied,
            copay_applied=split.copay_applied,
            coinsurance_applied=split.coinsurance_applied,
            out_of_pocket_capped=split.out_of_pocket_capped,
            payer_portion=split.total - split.customer_portion,
            customer_portion_before_program=split.customer_portion,
            program_discount=discount,
            customer_portion=split.customer_portion - discount,
        )
        for service, split, discount in zip(services, splits, discounts)
    ]
    return CostEstimate(
        lines=lines,
        currency=currency,
        total=sum(line.total for line in lines),
        payer_portion=sum(line.payer_portion for line in lines),
        customer_portion_before_program=sum(line.customer_portion_before_program for line in lines),
        program_discount=sum(line.program_discount for line in lines),
        customer_portion=sum(line.customer_portion for line in lines),
        self_pay=all(share is None for share in shares),
    )


def _split(total: int, share: CostShare | None, accumulators: _Accumulators) -> _PayerSplit:
    if share is None or not share.covered:
        return _PayerSplit(total=total, customer_portion=total)
    _refuse_implausible(share)
    deductible = min(accumulators.deductible_left(share), total)
    rest = total - deductible
    copay = coinsurance = 0
    if share.copay is not None:
        copay = min(share.copay, rest)
    elif share.coinsurance_bp is not None:
        coinsurance = share_half_up(rest, share.coinsurance_bp)
    owed = deductible + copay + coinsurance
    out_of_pocket_left = accumulators.out_of_pocket_left(share)
    customer = owed if out_of_pocket_left is None else min(owed, out_of_pocket_left)
    accumulators.use(share, deductible, customer)
    return _PayerSplit(
        total=total,
        deductible_applied=deductible,
        copay_applied=copay,
        coinsurance_applied=coinsurance,
        out_of_pocket_capped=owed - customer,
        customer_portion=customer,
    )


def _refuse_implausible(share: CostShare) -> None:
    amounts = {
        "copay": share.copay,
        "deductible": share.deductible,
        "deductible_remaining": share.deductible_remaining,
        "out_of_pocket_max": share.out_of_pocket_max,
        "out_of_pocket_remaining": share.out_of_pocket_remaining,
    }
    negative = [name for name, amount in amounts.items() if amount is not None and amount < 0]
    if negative:
        raise ImplausibleCostShare(
            f"service type {share.service_type}: negative {', '.join(negative)}"
        )
    if share.coinsurance_bp is not None and not 0 <= share.coinsurance_bp <= FULL_BP:
        raise ImplausibleCostShare(
            f"service type {share.service_type}: coinsurance of {share.coinsurance_bp} basis points"
        )


def program_discounts(portions: Sequence[int], program: ProgramDetermination | None) -> list[int]:
    """What ``program`` takes off each line's customer portion, in the order of the lines.

    With a nominal fee the estimate is one visit: the customer pays ``min(portion, fee)`` on the
    first line that has a portion and nothing on later lines. Otherwise each line loses
    ``discount_bp`` of its portion, rounded half-up. A determination that is not eligible has
    neither, so it takes nothing off."""
    if program is None:
        return [0] * len(portions)
    if program.nominal_fee is None:
        return [share_half_up(portion, program.discount_bp) for portion in portions]
    discounts: list[int] = []
    fee_charged = False
    for portion in portions:
        pays = 0 if fee_charged else min(portion, program.nominal_fee)
        fee_charged = fee_charged or portion > 0
        discounts.append(portion - pays)
    return discounts


# -- advice --------------------------------------------------------------------------------------


class EstimatePolicy(Value):
    """The office's offers to customers who owe something: prompt pay and payment plans."""

    prompt_pay_discount_bp: int = Field(
        0, ge=0, le=FULL_BP, description="0 offers no prompt-pay discount"
    )
    prompt_pay_days: int = Field(
        0, ge=0, description="Days after the bill within which prompt pay applies"
    )
    payment_plan_threshold: int = Field(
        ge=0, description="Customer portion from which a plan is suggested"
    )
    payment_plan_min_instalment: int = Field(ge=1, description="Smallest instalment, minor units")
    payment_plan_max_instalments: int = Field(ge=2)

    @model_validator(mode="after")
    def _prompt_pay_has_a_period(self) -> EstimatePolicy:
        if self.prompt_pay_discount_bp and not self.prompt_pay_days:
            raise ValueError("a prompt-pay discount needs prompt_pay_days of at least 1")
        return self


class ProgramAdvice(Value):
    """A payment program the customer could apply for."""

    kind: Literal["program"] = "program"
    program_id: str
    name: str
    why: str = Field(
        description="Who qualifies: 'a household of 3 with income up to ... qualifies for 40% off'"
    )
    saving: int | None = Field(
        description="What it would save on this estimate; None when income is not known"
    )
    message: str


class PaymentPlanAdvice(Value):
    """The customer's portion could be paid in instalments."""

    kind: Literal["payment_plan"] = "payment_plan"
    amount_spread: int
    instalments: list[int] = Field(
        description="Instalment amounts, largest first; they sum to amount_spread"
    )
    message: str


class PromptPayAdvice(Value):
    """Paying the bill soon after it is issued earns a discount."""

    kind: Literal["prompt_pay"] = "prompt_pay"
    discount_bp: int
    saving: int
    pay_within_days: int
    message: str


Advice = Annotated[ProgramAdvice | PaymentPlanAdvice | PromptPayAdvice, Field(discriminator="kind")]


def advise(
    estimate: CostEstimate,
    *,
    policy: EstimatePolicy,
    current_program: ProgramDetermination | None,
    programs: Sequence[Program],
    guidelines: PovertyGuidelines | None,
    household_size: int | None,
    annual_income: int | None,
    region: str,
) -> list[Advice]:
    """Ways the customer could pay less or spread the cost of ``estimate``: programs first, then
    prompt pay, then a payment plan. Nothing is advised when the customer owes nothing.

    Programs: never one the customer already has a current determination for, nor one in another
    currency than the estimate. When household size and income are known and ``guidelines`` are
    the ones the program measures against, only a program the household would qualify for and
    that would lower this estimate is advised, with the saving. When only the household size is
    known, the advice gives the highest income that qualifies; otherwise it says they may apply.

    Prompt pay: ``prompt_pay_discount_bp`` of the customer portion, rounded half-up, when that is
    more than nothing. Payment plan: when the customer portion reaches ``payment_plan_threshold``
    and splits into at least 2 instalments of at least ``payment_plan_min_instalment``; as many as
    the minimum allows, at most ``payment_plan_max_instalments``, summing exactly to the portion.

    Raises ``DeterminationRefused`` when household facts are given for an unknown region or
    are nonsense (see ``programs.determine``).
    """
    if estimate.customer_portion == 0:
        return []
    advice: list[Advice] = []
    for program in programs:
        already_determined = (
            current_program is not None and current_program.program_id == program.program_id
        )
        if program.currency != estimate.currency or already_determined:
            continue
        program_advice = _program_advice(
            estimate, program, guidelines, household_size, annual_income, region
        )
        if program_advice is not None:
            advice.append(program_advice)
    return [*advice, *_prompt_pay_advice(estimate, policy), *_payment_plan_advice(estimate, policy)]


def _program_advice(
    estimate: CostEstimate,
    program: Program,
    guidelines: PovertyGuidelines | None,
    household_size: int | None,
    annual_income: int | None,
    region: str,
) -> ProgramAdvice | None:
    currency = estimate.currency
    if guidelines is None or guidelines.year != program.guideline_year or household_size is None:
        return _advise_program(
            program, "households with a low income may qualify", None, "ask us how to apply"
        )
    guideline_amount = guidelines.threshold(household_size, region)
    if annual_income is None:
        limit = income_limit(program.tiers[-1], guideline_amount)
        why = (
            f"a household of {household_size} with income up to {_money(limit, currency)} a year "
            "qualifies"
        )
        return _advise_program(program, why, None, "ask us to check your household income")
    determination = determine(
        program,
        guidelines,
        household_size=household_size,
        annual_income=annual_income,
        region=region,
    )
    if determination.tier_index is None:
        return None
    before = [line.customer_portion_before_program for line in estimate.lines]
    # The customer would owe the portion before any program less this program's discounts,
    # instead of less the discounts of the program they have now (if any).
    saving = sum(program_discounts(before, determination)) - estimate.program_discount
    if saving <= 0:
        return None
    tier = program.tiers[determination.tier_index]
    why = (
        f"a household of {household_size} with income up to "
        f"{_money(income_limit(tier, guideline_amount), currency)} a year "
        f"qualifies for {_benefit(tier, currency)}"
    )
    next_step = f"it would save {_money(saving, currency)} on this estimate; ask us to enrol you"
    return _advise_program(program, why, saving, next_step)


def _advise_program(
    program: Program, why: str, saving: int | None, next_step: str
) -> ProgramAdvice:
    return ProgramAdvice(
        program_id=program.program_id,
        name=program.name,
        why=why,
        saving=saving,
        message=f"{program.name}: {why}; {next_step}.",
    )


def _benefit(tier: ProgramTier, currency: str) -> str:
    if tier.nominal_fee is not None:
        return f"a fee of {_money(tier.nominal_fee, currency)} a visit"
    return f"{_percent(tier.discount_bp)} off"


def _prompt_pay_advice(estimate: CostEstimate, policy: EstimatePolicy) -> list[PromptPayAdvice]:
    saving = share_half_up(estimate.customer_portion, policy.prompt_pay_discount_bp)
    if saving == 0:
        return []
    currency = estimate.currency
    return [
        PromptPayAdvice(
            discount_bp=policy.prompt_pay_discount_bp,
            saving=saving,
            pay_within_days=policy.prompt_pay_days,
            message=(
                f"Pay within {policy.prompt_pay_days} days of the bill and owe "
                f"{_money(estimate.customer_portion - saving, currency)} instead of "
                f"{_money(estimate.customer_portion, currency)}: "
                f"{_percent(policy.prompt_pay_discount_bp)} off."
            ),
        )
    ]


def _payment_plan_advice(estimate: CostEstimate, policy: EstimatePolicy) -> list[PaymentPlanAdvice]:
    portion = estimate.customer_portion
    # As many instalments as keep each at least the minimum: equal parts of portion // minimum
    # instalments are each at least the minimum, one more would not be.
    count = min(policy.payment_plan_max_instalments, portion // policy.payment_plan_min_instalment)
    if portion < policy.payment_plan_threshold or count < 2:
        return []
    parts = Money(amount=portion, currency=estimate.currency).allocate([1] * count)
    largest, smallest = parts[0], parts[-1]  # allocate gives the leftover cents to the earliest
    amounts = (
        smallest.format() if smallest == largest else f"{smallest.format()} to {largest.format()}"
    )
    return [
        PaymentPlanAdvice(
            amount_spread=portion,
            instalments=[part.amount for part in parts],
            message=f"Spread {_money(portion, estimate.currency)} over {count} instalments of "
            f"{amounts}.",
        )
    ]


def _money(amount: int, currency: str) -> str:
    return Money(amount=amount, currency=currency).format()


def _percent(bp: int) -> str:
    whole, hundredths = divmod(bp, 100)
    return f"{whole}%" if not hundredths else f"{whole}.{hundredths:02d}".rstrip("0") + "%"
