"""Good Faith Estimates and the advice that comes with them.

Expected amounts are worked out by hand (in cents) in the comment next to each."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from services.eligibility.domain.coverage import CostShare
from services.eligibility.domain.estimates import (
    Advice,
    CostEstimate,
    EstimatePolicy,
    ImplausibleCostShare,
    LineEstimate,
    PaymentPlanAdvice,
    PlannedService,
    ProgramAdvice,
    PromptPayAdvice,
    advise,
    estimate_costs,
    share_half_up,
)
from services.eligibility.domain.programs import PovertyGuidelines, ProgramDetermination
from shared.money import CurrencyMismatch
from tests.unit.eligibility.test_programs import GUIDELINES_2025, SLIDING_FEE

CostShareFor = Callable[[str, bool], CostShare | None]
AdviceKind = TypeVar("AdviceKind", ProgramAdvice, PaymentPlanAdvice, PromptPayAdvice)


def plan(**terms: object) -> CostShareFor:
    """A coverage whose every service type falls back to one plan-level cost share."""
    share = CostShare(service_type="30", **terms)  # type: ignore[arg-type]
    return lambda service_type, in_network: share


def service(
    unit_price: int,
    *,
    code: str = "99213",
    quantity: int = 1,
    service_type: str = "30",
    in_network: bool = True,
) -> PlannedService:
    return PlannedService(
        code=code,
        quantity=quantity,
        unit_price=unit_price,
        service_type=service_type,
        in_network=in_network,
    )


def program(
    *,
    discount_bp: int = 0,
    nominal_fee: int | None = None,
    program_id: str = "sliding-fee-standard",
    currency: str = "USD",
) -> ProgramDetermination:
    return ProgramDetermination(
        program_id=program_id,
        household_size=3,
        annual_income=4500000,
        currency=currency,
        guideline_amount=2665000,
        percent_of_poverty_bp=16885,
        eligible=True,
        tier_index=3,
        discount_bp=discount_bp,
        nominal_fee=nominal_fee,
    )


def estimate(
    services: list[PlannedService],
    cost_share_for: CostShareFor | None,
    determination: ProgramDetermination | None = None,
) -> CostEstimate:
    return estimate_costs(
        services, currency="USD", cost_share_for=cost_share_for, program=determination
    )


def split(line: LineEstimate) -> tuple[int, int, int, int, int, int]:
    """deductible, copay, coinsurance, capped, payer, customer before the program."""
    return (
        line.deductible_applied,
        line.copay_applied,
        line.coinsurance_applied,
        line.out_of_pocket_capped,
        line.payer_portion,
        line.customer_portion_before_program,
    )


def after_program(portions: LineEstimate | CostEstimate) -> tuple[int, int, int]:
    """customer before the program, program discount, customer."""
    return (
        portions.customer_portion_before_program,
        portions.program_discount,
        portions.customer_portion,
    )


# -- insurance -----------------------------------------------------------------------------------


def test_deductible_partly_met_then_coinsurance() -> None:
    # 2,000.00 service, 1,500.00 deductible with 500.00 left, 20% coinsurance:
    # deductible 50000; coinsurance 20% of (200000 - 50000) = 30000; customer 80000; payer 120000
    result = estimate(
        [service(200000)], plan(deductible=150000, deductible_remaining=50000, coinsurance_bp=2000)
    )

    assert split(result.lines[0]) == (50000, 0, 30000, 0, 120000, 80000)
    assert (result.total, result.payer_portion, result.customer_portion) == (200000, 120000, 80000)
    assert result.self_pay is False


def test_deductible_met_leaves_coinsurance_only() -> None:
    # 2 x 500.00 = 1,000.00; deductible met; 20% of 100000 = 20000; payer 80000
    result = estimate(
        [service(50000, quantity=2)],
        plan(deductible=150000, deductible_remaining=0, coinsurance_bp=2000),
    )

    assert result.lines[0].total == 100000
    assert split(result.lines[0]) == (0, 0, 20000, 0, 80000, 20000)


def test_copay_line() -> None:
    # 150.00 visit, 30.00 copay, deductible met: customer 3000, payer 15000 - 3000 = 12000
    result = estimate([service(15000)], plan(copay=3000, deductible_remaining=0))

    assert split(result.lines[0]) == (0, 3000, 0, 0, 12000, 3000)


def test_copay_comes_after_the_deductible_and_wins_over_coinsurance() -> None:
    # 150.00 visit, 50.00 deductible left: deductible 5000, then the 3000 copay on the 10000 rest;
    # no coinsurance as there is a copay
    result = estimate(
        [service(15000)], plan(copay=3000, coinsurance_bp=2000, deductible_remaining=5000)
    )

    assert split(result.lines[0]) == (5000, 3000, 0, 0, 7000, 8000)


def test_copay_is_charged_once_per_line_and_never_above_the_line() -> None:
    # 3 x 150.00 = 45000 pays one 3000 copay; a 20.00 line pays 2000, not the 3000 copay
    result = estimate([service(15000, quantity=3), service(2000, code="36415")], plan(copay=3000))

    assert [line.copay_applied for line in result.lines] == [3000, 2000]
    assert [line.payer_portion for line in result.lines] == [42000, 0]


def test_out_of_pocket_maximum_reached_mid_estimate() -> None:
    # 1,000.00 out-of-pocket left, deductible met, 20% coinsurance
    # line 1: 4,000.00 -> coinsurance 80000; left 100000 - 80000 = 20000
    # line 2: 3,000.00 -> coinsurance 60000, capped at 20000: 40000 moves to the payer,
    #         who pays 300000 - 20000 = 280000
    # line 3: 500.00 -> coinsurance 10000, all capped: customer 0
    result = estimate(
        [
            service(400000, code="27447"),
            service(300000, code="27448"),
            service(50000, code="97110"),
        ],
        plan(
            deductible_remaining=0,
            coinsurance_bp=2000,
            out_of_pocket_max=300000,
            out_of_pocket_remaining=100000,
        ),
    )

    assert [split(line) for line in result.lines] == [
        (0, 0, 80000, 0, 320000, 80000),
        (0, 0, 60000, 40000, 280000, 20000),
        (0, 0, 10000, 10000, 50000, 0),
    ]
    assert (result.customer_portion, result.payer_portion) == (100000, 650000)


def test_out_of_pocket_already_met_costs_the_customer_nothing() -> None:
    # 1,000.00, 20% coinsurance = 20000, but nothing is left of the out-of-pocket maximum:
    # all 20000 capped, the payer pays 100000
    result = estimate([service(100000)], plan(coinsurance_bp=2000, out_of_pocket_remaining=0))

    assert split(result.lines[0]) == (0, 0, 20000, 20000, 100000, 0)
    assert result.customer_portion == 0


def test_out_of_pocket_maximum_counts_when_the_remaining_is_unknown() -> None:
    # deductible 1,000.00 (nothing said about what is left), out-of-pocket max 600.00:
    # 2,000.00 service -> deductible 100000 + 20% of 100000 = 120000, capped at 60000
    result = estimate(
        [service(200000)], plan(deductible=100000, coinsurance_bp=2000, out_of_pocket_max=60000)
    )

    assert split(result.lines[0]) == (100000, 0, 20000, 60000, 140000, 60000)


def test_lines_falling_back_to_the_plan_share_one_deductible() -> None:
    # 500.00 deductible left for the plan; line 1 (service type 98) uses 30000 of it,
    # line 2 (service type 30) the remaining 20000, then 20% of 20000 = 4000
    result = estimate(
        [service(30000, service_type="98"), service(40000, service_type="30")],
        plan(deductible_remaining=50000, coinsurance_bp=2000),
    )

    assert [split(line) for line in result.lines] == [
        (30000, 0, 0, 0, 0, 30000),
        (20000, 0, 4000, 0, 16000, 24000),
    ]


def test_service_types_with_their_own_cost_share_keep_their_own_deductible() -> None:
    shares = {
        "30": CostShare(service_type="30", deductible_remaining=50000, coinsurance_bp=2000),
        "98": CostShare(
            service_type="98", deductible_remaining=10000, coinsurance_bp=1000, deductible_scope="98"
        ),
    }
    # type 98: 10000 deductible + 10% of 20000 = 12000;
    # type 30: its own 50000 deductible is untouched, so 40000 is all deductible
    result = estimate(
        [service(30000, service_type="98"), service(40000, service_type="30")],
        lambda service_type, in_network: shares[service_type],
    )

    assert [line.customer_portion for line in result.lines] == [12000, 40000]


def test_service_types_without_their_own_deductible_share_the_plans() -> None:
    shares = {
        "30": CostShare(service_type="30", deductible_remaining=50000, coinsurance_bp=2000),
        "98": CostShare(service_type="98", deductible_remaining=50000, copay=2500),  # the plan's figures
    }
    # type 98: 30000 all deductible (20000 left); type 30: 20000 deductible + 20% of 20000 = 24000
    result = estimate(
        [service(30000, service_type="98"), service(40000, service_type="30")],
        lambda service_type, in_network: shares[service_type],
    )

    assert [line.customer_portion for line in result.lines] == [30000, 24000]


def test_out_of_network_has_its_own_deductible() -> None:
    shares = {
        True: CostShare(service_type="30", deductible_remaining=20000, coinsurance_bp=2000),
        False: CostShare(
            service_type="30", in_network=False, deductible_remaining=100000, coinsurance_bp=4000
        ),
    }
    # in network: 20000 deductible + 20% of 30000 = 26000; out of network: 50000 all deductible
    result = estimate(
        [service(50000), service(50000, in_network=False)],
        lambda service_type, in_network: shares[in_network],
    )

    assert [line.customer_portion for line in result.lines] == [26000, 50000]


def test_deductible_used_when_the_remaining_is_unknown_and_zero_when_neither_is() -> None:
    # deductible 300.00, remaining unknown: 1,000.00 -> 30000 + 10% of 70000 = 37000
    with_deductible = estimate([service(100000)], plan(deductible=30000, coinsurance_bp=1000))
    assert with_deductible.customer_portion == 37000
    # no deductible at all: 10% of 100000 = 10000
    assert estimate([service(100000)], plan(coinsurance_bp=1000)).customer_portion == 10000


def test_covered_line_without_copay_or_coinsurance_is_the_payers() -> None:
    result = estimate([service(100000)], plan(deductible_remaining=0))

    assert split(result.lines[0]) == (0, 0, 0, 0, 100000, 0)


def test_non_covered_line_is_the_customers_and_counts_towards_nothing() -> None:
    shares = {
        "AL": CostShare(service_type="AL", covered=False),
        "30": CostShare(
            service_type="30",
            deductible_remaining=50000,
            coinsurance_bp=2000,
            out_of_pocket_remaining=40000,
        ),
    }
    # line 1, not covered: customer 30000, the 500.00 deductible and 400.00 out-of-pocket untouched
    # line 2: deductible 50000 + 20% of 50000 = 60000, capped at 40000 (20000 to the payer)
    result = estimate(
        [service(30000, service_type="AL"), service(100000)],
        lambda service_type, in_network: shares[service_type],
    )

    assert [split(line) for line in result.lines] == [
        (0, 0, 0, 0, 0, 30000),
        (50000, 0, 10000, 20000, 60000, 40000),
    ]


def test_coinsurance_rounds_half_up_to_the_cent() -> None:
    # 10% of 123.45 = 12.345 -> 12.35; 20% of 123.47 = 24.694 -> 24.69
    result = estimate(
        [service(12345, service_type="98"), service(12347, service_type="UC")],
        lambda service_type, in_network: CostShare(
            service_type=service_type, coinsurance_bp=1000 if service_type == "98" else 2000
        ),
    )

    assert [split(line) for line in result.lines] == [
        (0, 0, 1235, 0, 11110, 1235),
        (0, 0, 2469, 0, 9878, 2469),
    ]


def test_share_half_up() -> None:
    assert share_half_up(1, 5000) == 1  # 0.5 cent -> 1
    assert share_half_up(3, 1000) == 0  # 0.3 cent -> 0
    assert share_half_up(0, 10000) == 0


@pytest.mark.parametrize(
    "terms",
    [
        {"copay": -1},
        {"deductible_remaining": -100},
        {"out_of_pocket_remaining": -1},
        {"coinsurance_bp": 10001},
    ],
)
def test_implausible_cost_shares_are_refused(terms: dict[str, int]) -> None:
    with pytest.raises(ImplausibleCostShare):
        estimate([service(10000)], plan(**terms))


# -- self-pay and programs -----------------------------------------------------------------------


def test_no_insurance_is_self_pay() -> None:
    result = estimate([service(15000), service(8000, code="80053")], None)

    assert [split(line) for line in result.lines] == [(0, 0, 0, 0, 0, 15000), (0, 0, 0, 0, 0, 8000)]
    assert (result.self_pay, result.customer_portion) == (True, 23000)


def test_a_coverage_without_a_cost_share_for_any_line_is_self_pay() -> None:
    assert estimate([service(15000)], lambda service_type, in_network: None).self_pay is True


def test_program_takes_40_percent_off_the_customer_portion() -> None:
    # the deductible example: customer 80000; 40% of it = 32000 off; customer 48000;
    # the payer still pays 120000
    result = estimate(
        [service(200000)],
        plan(deductible_remaining=50000, coinsurance_bp=2000),
        program(discount_bp=4000),
    )

    assert after_program(result.lines[0]) == (80000, 32000, 48000)
    assert after_program(result) == (80000, 32000, 48000)
    assert result.payer_portion == 120000


def test_program_discount_rounds_half_up() -> None:
    # 40% of 0.05 = 0.02 off; 40% of 123.45 = 49.38 off; 80% of 0.01 = 0.008 -> 0.01 off
    assert estimate([service(5)], None, program(discount_bp=4000)).program_discount == 2
    assert estimate([service(12345)], None, program(discount_bp=4000)).program_discount == 4938
    assert estimate([service(1)], None, program(discount_bp=8000)).customer_portion == 0


def test_self_pay_with_the_80_percent_tier() -> None:
    # 150.00 - 80% (120.00) = 30.00; 80.00 - 80% (64.00) = 16.00; customer 46.00
    result = estimate(
        [service(15000), service(8000, code="80053")], None, program(discount_bp=8000)
    )

    assert [(line.program_discount, line.customer_portion) for line in result.lines] == [
        (12000, 3000),
        (6400, 1600),
    ]
    assert after_program(result) == (23000, 18400, 4600)


def test_nominal_fee_is_charged_once_per_estimate() -> None:
    # self-pay 150.00 + 80.00 with a 20.00 nominal fee: 20.00 on the first line, nothing more
    result = estimate(
        [service(15000), service(8000, code="80053")],
        None,
        program(discount_bp=10000, nominal_fee=2000),
    )

    assert [(line.program_discount, line.customer_portion) for line in result.lines] == [
        (13000, 2000),
        (8000, 0),
    ]
    assert result.customer_portion == 2000


def test_nominal_fee_falls_on_the_first_line_the_customer_owes_something_for() -> None:
    shares = {
        "30": CostShare(service_type="30", coinsurance_bp=2000, out_of_pocket_remaining=0),
        "AL": CostShare(service_type="AL", covered=False),
    }
    # line 1 costs the customer nothing (out-of-pocket met);
    # line 2 (not covered, 15.00) pays min(1500, 2000) = 1500; line 3 (not covered) nothing more
    result = estimate(
        [service(100000), service(1500, service_type="AL"), service(5000, service_type="AL")],
        lambda service_type, in_network: shares[service_type],
        program(nominal_fee=2000),
    )

    assert [line.customer_portion for line in result.lines] == [0, 1500, 0]
    assert [line.program_discount for line in result.lines] == [0, 0, 5000]


def test_a_program_in_another_currency_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        estimate([service(100)], None, program(discount_bp=4000, currency="EUR"))


# -- properties ----------------------------------------------------------------------------------

SERVICE_TYPES = ("30", "98", "UC")
amounts = st.integers(min_value=0, max_value=1_000_000)
optional_amounts = st.none() | amounts


@st.composite
def cost_shares(draw: st.DrawFn, service_type: str, in_network: bool) -> CostShare:
    return CostShare(
        service_type=service_type,
        in_network=in_network,
        copay=draw(st.none() | st.integers(0, 10_000)),
        coinsurance_bp=draw(st.none() | st.integers(0, 10_000)),
        deductible=draw(optional_amounts),
        deductible_remaining=draw(optional_amounts),
        out_of_pocket_max=draw(optional_amounts),
        out_of_pocket_remaining=draw(optional_amounts),
        covered=draw(st.booleans()),
        # each type states its own figures, as cost_share reports when the payer did
        deductible_scope=service_type,
        out_of_pocket_scope=service_type,
    )


@st.composite
def coverages(draw: st.DrawFn) -> dict[tuple[str, bool], CostShare]:
    """Cost shares for some service types and networks; the others fall back to the plan level."""
    keys = draw(st.sets(st.tuples(st.sampled_from(SERVICE_TYPES), st.booleans())))
    return {key: draw(cost_shares(*key)) for key in keys}


planned_services = st.lists(
    st.builds(
        PlannedService,
        code=st.just("99213"),
        quantity=st.integers(1, 5),
        unit_price=amounts,
        service_type=st.sampled_from(SERVICE_TYPES),
        in_network=st.booleans(),
    ),
    min_size=1,
    max_size=8,
)
determinations = st.none() | st.builds(
    program, discount_bp=st.integers(0, 10_000), nominal_fee=st.none() | st.integers(0, 10_000)
)


def lookup(shares: dict[tuple[str, bool], CostShare]) -> CostShareFor:
    return lambda service_type, in_network: shares.get(
        (service_type, in_network), shares.get(("30", in_network))
    )


@given(planned_services, st.none() | coverages(), determinations)
def test_every_line_splits_exactly_and_nothing_is_negative(
    services: list[PlannedService],
    shares: dict[tuple[str, bool], CostShare] | None,
    determination: ProgramDetermination | None,
) -> None:
    result = estimate(services, lookup(shares) if shares is not None else None, determination)

    for line in result.lines:
        assert line.payer_portion + line.customer_portion_before_program == line.total
        assert line.customer_portion_before_program - line.program_discount == line.customer_portion
        assert line.payer_portion >= 0 and line.out_of_pocket_capped >= 0
        assert line.customer_portion_before_program >= line.program_discount >= 0
    assert result.total == sum(line.total for line in result.lines)
    assert result.payer_portion + result.customer_portion_before_program == result.total
    assert after_program(result) == (
        sum(line.customer_portion_before_program for line in result.lines),
        sum(line.program_discount for line in result.lines),
        sum(line.customer_portion for line in result.lines),
    )


@given(planned_services, coverages())
def test_covered_lines_never_cost_more_than_the_out_of_pocket_remaining(
    services: list[PlannedService], shares: dict[tuple[str, bool], CostShare]
) -> None:
    cost_share_for = lookup(shares)
    result = estimate(services, cost_share_for)

    paid: dict[tuple[str, bool], int] = {}
    limits: dict[tuple[str, bool], int | None] = {}
    for planned, line in zip(services, result.lines):
        share = cost_share_for(planned.service_type, planned.in_network)
        if share is None or not share.covered:
            continue
        key = (share.service_type, share.in_network)
        paid[key] = paid.get(key, 0) + line.customer_portion_before_program
        limits[key] = (
            share.out_of_pocket_remaining
            if share.out_of_pocket_remaining is not None
            else share.out_of_pocket_max
        )
    for key, customer_paid in paid.items():
        limit = limits[key]
        assert limit is None or customer_paid <= limit


# -- advice --------------------------------------------------------------------------------------

POLICY = EstimatePolicy(
    payment_plan_threshold=50000, payment_plan_min_instalment=5000, payment_plan_max_instalments=12
)


def advice_for(
    result: CostEstimate,
    *,
    policy: EstimatePolicy = POLICY,
    current_program: ProgramDetermination | None = None,
    guidelines: PovertyGuidelines | None = GUIDELINES_2025,
    household_size: int | None = None,
    annual_income: int | None = None,
) -> list[Advice]:
    return advise(
        result,
        policy=policy,
        current_program=current_program,
        programs=[SLIDING_FEE],
        guidelines=guidelines,
        household_size=household_size,
        annual_income=annual_income,
        region="contiguous",
    )


def only(kind: type[AdviceKind], advice: list[Advice]) -> list[AdviceKind]:
    return [a for a in advice if isinstance(a, kind)]


SELF_PAY_1000 = estimate([service(100000)], None)


def test_program_advice_for_a_household_that_qualifies_says_how_much_it_saves() -> None:
    # household of 3, 45,000.00 a year: 45,000 / 26,650 = 168.85% -> the 40% tier, which goes up
    # to 200% = 53,300.00; saving: 40% of 1,000.00 = 400.00
    advice = only(ProgramAdvice, advice_for(SELF_PAY_1000, household_size=3, annual_income=4500000))

    assert advice == [
        ProgramAdvice(
            program_id="sliding-fee-standard",
            name="Standard sliding fee",
            why="a household of 3 with income up to 53300.00 USD a year qualifies for 40% off",
            saving=40000,
            message="Standard sliding fee: a household of 3 with income up to 53300.00 USD a year "
            "qualifies for 40% off; it would save 400.00 USD on this estimate; "
            "ask us to enrol you.",
        )
    ]


def test_program_advice_for_the_nominal_fee_tier() -> None:
    # household of 3, 20,000.00 a year: 75.05% -> 20.00 a visit instead of 1,000.00: saves 980.00
    advice = advice_for(SELF_PAY_1000, household_size=3, annual_income=2000000)
    [program_advice] = only(ProgramAdvice, advice)

    assert program_advice.why == (
        "a household of 3 with income up to 26650.00 USD a year "
        "qualifies for a fee of 20.00 USD a visit"
    )
    assert program_advice.saving == 98000


def test_no_program_advice_for_a_household_above_the_limit() -> None:
    advice = advice_for(SELF_PAY_1000, household_size=3, annual_income=5330267)  # 200.01%

    assert only(ProgramAdvice, advice) == []


def test_program_advice_without_income_gives_the_highest_qualifying_income() -> None:
    [advice] = only(ProgramAdvice, advice_for(SELF_PAY_1000, household_size=4))

    # 32,150.00 x 200% = 64,300.00
    assert advice.why == "a household of 4 with income up to 64300.00 USD a year qualifies"
    assert advice.saving is None
    assert advice.message.endswith("ask us to check your household income.")


def test_program_advice_without_household_says_they_may_apply() -> None:
    [advice] = only(ProgramAdvice, advice_for(SELF_PAY_1000))

    assert advice.message == (
        "Standard sliding fee: households with a low income may qualify; ask us how to apply."
    )


def test_program_advice_with_guidelines_of_another_year_does_not_quote_a_limit() -> None:
    guidelines_2026 = GUIDELINES_2025.model_copy(update={"year": 2026})
    advice = advice_for(
        SELF_PAY_1000, guidelines=guidelines_2026, household_size=3, annual_income=4500000
    )

    [program_advice] = only(ProgramAdvice, advice)
    assert program_advice.why == "households with a low income may qualify"


def test_no_program_advice_for_a_program_the_customer_already_has() -> None:
    current = program(discount_bp=4000)
    result = estimate([service(100000)], None, current)

    advice = advice_for(result, current_program=current, household_size=3, annual_income=2000000)

    assert only(ProgramAdvice, advice) == []


def test_no_program_advice_when_it_would_not_lower_this_estimate() -> None:
    # another program already takes 80% off; the sliding fee's 40% tier would not save anything
    current = program(discount_bp=8000, program_id="hospital-charity-care")
    result = estimate([service(100000)], None, current)

    advice = advice_for(result, current_program=current, household_size=3, annual_income=4500000)

    assert only(ProgramAdvice, advice) == []


def test_no_program_advice_for_a_program_in_another_currency() -> None:
    result = estimate_costs([service(100000)], currency="EUR", cost_share_for=None, program=None)

    assert only(ProgramAdvice, advice_for(result)) == []


def test_prompt_pay_advice() -> None:
    policy = POLICY.model_copy(update={"prompt_pay_discount_bp": 500, "prompt_pay_days": 30})
    # 5% of 800.00 = 40.00
    result = estimate([service(80000)], None)

    assert only(PromptPayAdvice, advice_for(result, policy=policy)) == [
        PromptPayAdvice(
            discount_bp=500,
            saving=4000,
            pay_within_days=30,
            message="Pay within 30 days of the bill and owe 760.00 USD instead of 800.00 USD: "
            "5% off.",
        )
    ]


def test_prompt_pay_discount_rounds_half_up_and_prints_fractional_percents() -> None:
    policy = POLICY.model_copy(update={"prompt_pay_discount_bp": 250, "prompt_pay_days": 10})
    # 2.5% of 123.45 = 3.08625 -> 3.09
    [advice] = only(PromptPayAdvice, advice_for(estimate([service(12345)], None), policy=policy))

    assert advice.saving == 309
    assert advice.message.endswith("2.5% off.")


def test_no_prompt_pay_advice_without_a_discount_or_when_it_rounds_to_nothing() -> None:
    assert only(PromptPayAdvice, advice_for(SELF_PAY_1000)) == []
    policy = POLICY.model_copy(update={"prompt_pay_discount_bp": 500, "prompt_pay_days": 30})
    # 5% of 0.09 = 0.0045 -> 0.00
    assert only(PromptPayAdvice, advice_for(estimate([service(9)], None), policy=policy)) == []


def test_a_prompt_pay_discount_needs_a_period() -> None:
    with pytest.raises(ValidationError, match="prompt_pay_days"):
        EstimatePolicy(
            prompt_pay_discount_bp=500,
            payment_plan_threshold=0,
            payment_plan_min_instalment=1,
            payment_plan_max_instalments=2,
        )


def test_payment_plan_spreads_the_portion_exactly() -> None:
    # 1,000.00 / 50.00 minimum = 20 instalments possible, at most 12: 100000 / 12 = 8333.33..,
    # so 4 of 83.34 and 8 of 83.33 (4 x 8334 + 8 x 8333 = 100000)
    [advice] = only(PaymentPlanAdvice, advice_for(SELF_PAY_1000))

    assert advice == PaymentPlanAdvice(
        amount_spread=100000,
        instalments=[8334] * 4 + [8333] * 8,
        message="Spread 1000.00 USD over 12 instalments of 83.33 USD to 83.34 USD.",
    )


def test_payment_plan_keeps_every_instalment_at_least_the_minimum() -> None:
    policy = POLICY.model_copy(update={"payment_plan_min_instalment": 25000})
    # 600.00 / 250.00 = 2.4: 2 instalments of 300.00 (3 would be 200.00, below the minimum)
    [advice] = only(PaymentPlanAdvice, advice_for(estimate([service(60000)], None), policy=policy))

    assert advice.instalments == [30000, 30000]
    assert advice.message == "Spread 600.00 USD over 2 instalments of 300.00 USD."


def test_no_payment_plan_below_the_threshold_or_without_two_instalments() -> None:
    assert only(PaymentPlanAdvice, advice_for(estimate([service(49999)], None))) == []
    policy = POLICY.model_copy(update={"payment_plan_min_instalment": 40000})
    # 600.00 / 400.00 = 1.5: not two instalments of 400.00
    assert (
        only(PaymentPlanAdvice, advice_for(estimate([service(60000)], None), policy=policy)) == []
    )


def test_no_advice_when_the_customer_owes_nothing() -> None:
    policy = POLICY.model_copy(update={"prompt_pay_discount_bp": 500, "prompt_pay_days": 30})
    fully_covered = estimate([service(100000)], plan(deductible_remaining=0))

    assert advice_for(fully_covered, policy=policy) == []


def test_advice_comes_programs_first_and_survives_a_json_round_trip() -> None:
    policy = POLICY.model_copy(update={"prompt_pay_discount_bp": 500, "prompt_pay_days": 30})
    advice = advice_for(SELF_PAY_1000, policy=policy)
    adapter = TypeAdapter(list[Advice])

    assert [a.kind for a in advice] == ["program", "prompt_pay", "payment_plan"]
    assert adapter.validate_json(adapter.dump_json(advice)) == advice
