"""What a member pays for a service type, from the EB loops a payer sent. Expectations by hand."""

from __future__ import annotations

from services.eligibility.domain.cost_share import cost_share
from services.eligibility.domain.coverage import Benefit, BenefitKind, CostShare, TimePeriod

ACTIVE = Benefit(kind=BenefitKind.ACTIVE, info_code="1", coverage_level="FAM", service_types=["30"])


def deductible(
    amount: int,
    period: TimePeriod,
    *,
    level: str = "IND",
    types: tuple[str, ...] = ("30",),
    in_network: bool | None = True,
) -> Benefit:
    return Benefit(
        kind=BenefitKind.DEDUCTIBLE,
        info_code="C",
        coverage_level=level,
        service_types=list(types),
        time_period=period,
        amount=amount,
        in_network=in_network,
    )


def out_of_pocket(
    amount: int, period: TimePeriod, *, level: str = "IND", in_network: bool | None = True
) -> Benefit:
    return Benefit(
        kind=BenefitKind.OUT_OF_POCKET,
        info_code="G",
        coverage_level=level,
        service_types=["30"],
        time_period=period,
        amount=amount,
        in_network=in_network,
    )


def coinsurance(
    percent_bp: int, *, types: tuple[str, ...] = ("30",), in_network: bool | None = True
) -> Benefit:
    return Benefit(
        kind=BenefitKind.COINSURANCE,
        info_code="A",
        coverage_level="IND",
        service_types=list(types),
        percent_bp=percent_bp,
        in_network=in_network,
    )


def copay(
    amount: int,
    *,
    types: tuple[str, ...] = ("98",),
    period: TimePeriod | None = TimePeriod.VISIT,
    in_network: bool | None = True,
    procedure_code: str | None = None,
) -> Benefit:
    return Benefit(
        kind=BenefitKind.COPAY,
        info_code="B",
        coverage_level="IND",
        service_types=list(types),
        time_period=period,
        amount=amount,
        in_network=in_network,
        procedure_code=procedure_code,
    )


# A PPO: $1,500 individual deductible with $650 left, $3,000 family; 20% in network, 40% out;
# $5,000 out-of-pocket maximum with $4,150 left; office visits $25 and no coinsurance;
# urgent care $50.
PPO = [
    ACTIVE,
    deductible(150000, TimePeriod.CALENDAR_YEAR),
    deductible(65000, TimePeriod.REMAINING),
    deductible(300000, TimePeriod.CALENDAR_YEAR, level="FAM"),
    deductible(215000, TimePeriod.REMAINING, level="FAM"),
    deductible(300000, TimePeriod.CALENDAR_YEAR, in_network=False),
    coinsurance(2000),
    coinsurance(4000, in_network=False),
    out_of_pocket(500000, TimePeriod.CALENDAR_YEAR),
    out_of_pocket(415000, TimePeriod.REMAINING),
    out_of_pocket(1000000, TimePeriod.CALENDAR_YEAR, level="FAM"),
    copay(2500),
    coinsurance(0, types=("98",)),
    copay(5000, types=("UC",)),
]


def test_the_plan_level_figures_answer_for_the_plan() -> None:
    assert cost_share(PPO, "30") == CostShare(
        service_type="30",
        in_network=True,
        copay=None,
        coinsurance_bp=2000,
        deductible=150000,
        deductible_remaining=65000,
        out_of_pocket_max=500000,
        out_of_pocket_remaining=415000,
    )


def test_a_service_types_own_figures_win_and_the_rest_fall_back_to_the_plan() -> None:
    assert cost_share(PPO, "98") == CostShare(
        service_type="98",
        copay=2500,
        coinsurance_bp=0,
        deductible=150000,
        deductible_remaining=65000,
        out_of_pocket_max=500000,
        out_of_pocket_remaining=415000,
    )
    assert cost_share(PPO, "UC") == CostShare(
        service_type="UC",
        copay=5000,
        coinsurance_bp=2000,
        deductible=150000,
        deductible_remaining=65000,
        out_of_pocket_max=500000,
        out_of_pocket_remaining=415000,
    )


def test_a_service_type_nobody_mentioned_costs_what_the_plan_says() -> None:
    assert cost_share(PPO, "MH") == cost_share(PPO, "30").model_copy(update={"service_type": "MH"})


def test_out_of_network_reads_the_out_of_network_figures_and_never_the_in_network_ones() -> None:
    assert cost_share(PPO, "98", in_network=False) == CostShare(
        service_type="98",
        in_network=False,
        copay=None,
        coinsurance_bp=4000,
        deductible=300000,
    )


def test_figures_stated_for_either_network_apply_to_both_but_yield_to_the_networks_own() -> None:
    benefits = [
        ACTIVE,
        copay(25000, types=("86",), in_network=None),
        coinsurance(1000, in_network=None),
        coinsurance(2000, in_network=True),
    ]

    in_network = cost_share(benefits, "86")
    out_of_network = cost_share(benefits, "86", in_network=False)

    assert in_network is not None and (in_network.copay, in_network.coinsurance_bp) == (25000, 2000)
    assert out_of_network is not None and (out_of_network.copay, out_of_network.coinsurance_bp) == (
        25000,
        1000,
    )


def test_the_individual_accumulator_wins_over_the_family_one_and_the_family_one_serves_alone() -> (
    None
):
    family_first = [
        ACTIVE,
        deductible(300000, TimePeriod.CALENDAR_YEAR, level="FAM"),
        deductible(150000, TimePeriod.CALENDAR_YEAR, level="IND"),
        out_of_pocket(600000, TimePeriod.REMAINING, level="FAM"),
    ]

    share = cost_share(family_first, "30")

    assert share is not None
    assert (share.deductible, share.out_of_pocket_remaining) == (150000, 600000)


def test_service_year_and_contract_periods_are_the_deductible_but_lifetime_is_not() -> None:
    for period in (TimePeriod.SERVICE_YEAR, TimePeriod.CONTRACT):
        share = cost_share([ACTIVE, deductible(100000, period)], "30")
        assert share is not None and share.deductible == 100000
    lifetime = cost_share([ACTIVE, deductible(100000, TimePeriod.LIFETIME)], "30")
    assert lifetime is not None and lifetime.deductible is None


def test_a_per_visit_copay_wins_over_a_per_day_one() -> None:
    benefits = [
        ACTIVE,
        copay(50000, types=("48",), period=TimePeriod.DAY),
        copay(20000, types=("48",), period=None),
    ]

    share = cost_share(benefits, "48")

    assert share is not None and share.copay == 20000


def test_a_copay_for_one_procedure_is_not_the_plans_copay() -> None:
    share = cost_share([ACTIVE, copay(2500, types=(), procedure_code="HC:99213")], "30")

    assert share is not None and share.copay is None


def test_a_service_type_the_plan_does_not_cover_costs_the_member_everything() -> None:
    benefits = [*PPO, Benefit(kind=BenefitKind.NON_COVERED, info_code="I", service_types=["AL"])]

    assert cost_share(benefits, "AL") == CostShare(service_type="AL", covered=False)
    assert cost_share(benefits, "AL", in_network=False) == CostShare(
        service_type="AL", in_network=False, covered=False
    )


def test_not_covered_out_of_network_says_nothing_about_in_network() -> None:
    benefits = [
        *PPO,
        Benefit(
            kind=BenefitKind.NON_COVERED, info_code="I", service_types=["98"], in_network=False
        ),
    ]

    assert cost_share(benefits, "98", in_network=False) == CostShare(
        service_type="98", in_network=False, covered=False
    )
    share = cost_share(benefits, "98")
    assert share is not None and share.covered and share.copay == 2500


def test_without_active_coverage_there_is_no_cost_share() -> None:
    inactive = Benefit(kind=BenefitKind.INACTIVE, info_code="6", service_types=["30"])

    assert cost_share([], "30") is None
    assert cost_share([inactive, deductible(150000, TimePeriod.CALENDAR_YEAR)], "30") is None
    assert (
        cost_share([Benefit(kind=BenefitKind.ACTIVE, info_code="1", service_types=["88"])], "98")
        is None
    )


def test_capitated_active_coverage_counts_as_active() -> None:
    capitated = Benefit(
        kind=BenefitKind.ACTIVE_FULL_RISK_CAPITATION, info_code="2", service_types=["30"]
    )

    assert cost_share([capitated, copay(1000)], "98") == CostShare(service_type="98", copay=1000)


def test_the_scope_says_whose_deductible_and_out_of_pocket_a_type_uses() -> None:
    benefits = [
        ACTIVE,
        deductible(150000, TimePeriod.CALENDAR_YEAR),
        deductible(20000, TimePeriod.CALENDAR_YEAR, types=("UC",)),
        out_of_pocket(600000, TimePeriod.CALENDAR_YEAR),
        copay(2500),
    ]

    office = cost_share(benefits, "98")
    urgent = cost_share(benefits, "UC")

    assert office is not None and urgent is not None
    # the office visit has its own copay but the plan's deductible and maximum
    assert (office.deductible, office.deductible_scope, office.out_of_pocket_scope) == (150000, "30", "30")
    # urgent care has a deductible of its own
    assert (urgent.deductible, urgent.deductible_scope, urgent.out_of_pocket_scope) == (20000, "UC", "30")
