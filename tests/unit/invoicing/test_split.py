"""Splitting an encounter's charges between its coverages, in coverage order, and the customer.

Expected amounts are worked out by hand (in cents) in the comment next to each."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.eligibility.domain.coverage import CostShare
from services.eligibility.domain.estimates import PlannedService, estimate_costs
from services.invoicing.domain.split import (
    CUSTOMER,
    ChargeLine,
    CoverageCostShare,
    EncounterSplit,
    ImplausibleCostShare,
    LineSplit,
    Share,
    VerifiedCoverage,
    split_encounter,
)

PRIMARY = "cov-primary"
SECONDARY = "cov-secondary"


def coverage(coverage_id: str, *shares: CoverageCostShare) -> VerifiedCoverage:
    return VerifiedCoverage(coverage_id=coverage_id, payer_id="payer-1", cost_shares=list(shares))


def plan(**terms: object) -> CoverageCostShare:
    """The plan-level cost share (service type 30), which every type without its own falls to."""
    return CoverageCostShare(service_type="30", **terms)  # type: ignore[arg-type]


def charge(amount: int, service_type: str = "30", line_id: str | None = None) -> ChargeLine:
    return ChargeLine(line_id=line_id or f"line-{amount}", amount=amount, service_type=service_type)


def charges(*amounts: int, service_type: str = "30") -> list[ChargeLine]:
    return [
        ChargeLine(line_id=f"line-{n}", amount=amount, service_type=service_type)
        for n, amount in enumerate(amounts, 1)
    ]


def billed(line: LineSplit) -> list[int]:
    """Each party's amount, in the order of the parties."""
    return [share.amount for share in line.shares]


def why(line: LineSplit) -> tuple[int, int, int, int]:
    """The customer's deductible, copay, coinsurance, not covered."""
    customer = line.shares[-1]
    assert customer.party == CUSTOMER
    return (customer.deductible, customer.copay, customer.coinsurance, customer.not_covered)


# -- one coverage --------------------------------------------------------------------------------


def test_deductible_partly_met_is_used_up_across_two_lines() -> None:
    # 500.00 of the deductible left, then 20% coinsurance:
    # line 1, 300.00: all deductible (200.00 left); the coverage pays 0
    # line 2, 400.00: 20000 deductible, 20% of 20000 = 4000; customer 24000, coverage 16000
    result = split_encounter(
        charges(30000, 40000),
        [coverage(PRIMARY, plan(deductible_remaining=50000, coinsurance_bp=2000))],
    )

    assert [billed(line) for line in result.lines] == [[0, 30000], [16000, 24000]]
    assert [why(line) for line in result.lines] == [(30000, 0, 0, 0), (20000, 0, 4000, 0)]
    assert result.totals() == {PRIMARY: 16000, CUSTOMER: 54000}


def test_a_copay_is_asked_once_per_service_type_in_an_encounter() -> None:
    office = CoverageCostShare(service_type="98", copay=3000, deductible_remaining=0)
    primary = coverage(PRIMARY, office, plan(copay=2500, deductible_remaining=0))
    # two office visit lines: the 3000 copay on the first only, and no coinsurance after it;
    # a plan-level line: the plan's 2500 copay; a lab line (type 5, no cost share of its own)
    # falls back to the plan's cost share, whose copay this visit has already asked
    result = split_encounter(
        [
            charge(15000, "98", "visit"),
            charge(8000, "98", "visit-extended"),
            charge(10000, "30", "supplies"),
            charge(6000, "5", "lab"),
        ],
        [primary],
    )

    assert [billed(line) for line in result.lines] == [
        [12000, 3000],
        [8000, 0],
        [7500, 2500],
        [6000, 0],
    ]
    assert [why(line)[1] for line in result.lines] == [3000, 0, 2500, 0]


def test_a_copay_larger_than_the_first_line_is_finished_by_the_next_of_its_type() -> None:
    # 30.00 copay: a zero-priced line asks none of it, a 20.00 line 2000, the next line the
    # remaining 1000, and a fourth line nothing
    result = split_encounter(charges(0, 2000, 15000, 9000), [coverage(PRIMARY, plan(copay=3000))])

    assert [billed(line) for line in result.lines] == [[0, 0], [0, 2000], [14000, 1000], [9000, 0]]


def test_the_copay_comes_after_the_deductible_and_wins_over_coinsurance() -> None:
    # 150.00, 50.00 of the deductible left: deductible 5000, copay 3000 on the 10000 rest, no
    # coinsurance as there is a copay (as eligibility's estimates do); customer 8000, coverage 7000
    result = split_encounter(
        [charge(15000)],
        [coverage(PRIMARY, plan(copay=3000, coinsurance_bp=2000, deductible_remaining=5000))],
    )

    assert billed(result.lines[0]) == [7000, 8000]
    assert why(result.lines[0]) == (5000, 3000, 0, 0)


def test_a_copay_is_never_more_than_what_the_deductible_leaves_of_the_line() -> None:
    # 40.00 line, 30.00 of the deductible left: deductible 3000, copay only the 1000 rest
    result = split_encounter(
        [charge(4000)], [coverage(PRIMARY, plan(copay=2500, deductible_remaining=3000))]
    )

    assert billed(result.lines[0]) == [0, 4000]
    assert why(result.lines[0]) == (3000, 1000, 0, 0)


@pytest.mark.parametrize(
    ("amount", "coinsurance_bp", "customer"),
    [
        (12345, 2000, 2469),  # 20% of 123.45 = 24.69 exactly
        (12345, 1000, 1235),  # 10% of 123.45 = 12.345 -> 12.35
        (12347, 2000, 2469),  # 20% of 123.47 = 24.694 -> 24.69
        (1, 5000, 1),  # 50% of 0.01 = 0.005 -> 0.01
        (3, 1000, 0),  # 10% of 0.03 = 0.003 -> 0.00
        (12345, 10000, 12345),
        (12345, 0, 0),
    ],
)
def test_coinsurance_rounds_half_up_to_the_cent(
    amount: int, coinsurance_bp: int, customer: int
) -> None:
    result = split_encounter(
        [charge(amount)], [coverage(PRIMARY, plan(coinsurance_bp=coinsurance_bp))]
    )

    assert billed(result.lines[0]) == [amount - customer, customer]
    assert why(result.lines[0]) == (0, 0, customer, 0)


def test_out_of_pocket_maximum_reached_mid_encounter() -> None:
    # 1,000.00 left of the out-of-pocket maximum, deductible met, 20% coinsurance:
    # line 1, 4,000.00: coinsurance 80000; 20000 left
    # line 2, 3,000.00: coinsurance 60000, capped at 20000; the coverage pays 280000
    # line 3, 500.00: coinsurance 10000, all capped; the coverage pays it all
    result = split_encounter(
        charges(400000, 300000, 50000),
        [
            coverage(
                PRIMARY,
                plan(
                    deductible_remaining=0,
                    coinsurance_bp=2000,
                    out_of_pocket_max=300000,
                    out_of_pocket_remaining=100000,
                ),
            )
        ],
    )

    assert [billed(line) for line in result.lines] == [
        [320000, 80000],
        [280000, 20000],
        [50000, 0],
    ]
    assert result.total_for(CUSTOMER) == 100000


def test_the_out_of_pocket_cap_takes_the_coinsurance_before_the_deductible() -> None:
    # 1,000.00, 100.00 of the deductible left, 20% coinsurance, 150.00 of the maximum left:
    # 10000 deductible + 20% of 90000 = 18000 is 28000, capped at 15000: the deductible whole
    # and 5000 of the coinsurance
    result = split_encounter(
        [charge(100000)],
        [
            coverage(
                PRIMARY,
                plan(
                    deductible_remaining=10000, coinsurance_bp=2000, out_of_pocket_remaining=15000
                ),
            )
        ],
    )

    assert billed(result.lines[0]) == [85000, 15000]
    assert why(result.lines[0]) == (10000, 0, 5000, 0)


def test_the_out_of_pocket_cap_can_cut_into_the_copay() -> None:
    # 50.00 deductible + 30.00 copay = 8000, but only 60.00 of the maximum is left:
    # the deductible 5000 and 1000 of the copay
    result = split_encounter(
        [charge(15000)],
        [
            coverage(
                PRIMARY,
                plan(deductible_remaining=5000, copay=3000, out_of_pocket_remaining=6000),
            )
        ],
    )

    assert billed(result.lines[0]) == [9000, 6000]
    assert why(result.lines[0]) == (5000, 1000, 0, 0)


def test_figures_the_payer_did_not_send_fall_back_as_in_estimates() -> None:
    # what is left of the deductible unknown: the whole 300.00 deductible applies,
    # 30000 + 10% of 70000 = 37000
    with_deductible = plan(deductible=30000, coinsurance_bp=1000)
    # what is left of the maximum unknown: the maximum caps, 100000 + 20% of 100000 -> 60000
    with_maximum = plan(deductible=100000, coinsurance_bp=2000, out_of_pocket_max=60000)
    # nothing known but covered: the coverage pays it all
    nothing_known = plan()

    customer = [
        split_encounter([charge(amount)], [coverage(PRIMARY, share)]).total_for(CUSTOMER)
        for amount, share in [
            (100000, with_deductible),
            (200000, with_maximum),
            (100000, nothing_known),
        ]
    ]

    assert customer == [37000, 60000, 0]


def test_service_types_with_their_own_deductible_keep_it_apart_from_the_plans() -> None:
    own = CoverageCostShare(
        service_type="98", deductible_remaining=10000, coinsurance_bp=1000, deductible_scope="98"
    )
    borrowed = CoverageCostShare(service_type="UC", deductible_remaining=50000, coinsurance_bp=2000)
    primary = coverage(
        PRIMARY, own, borrowed, plan(deductible_remaining=50000, coinsurance_bp=2000)
    )
    # type 98: its own 10000 deductible + 10% of 20000 = 12000
    # type UC: the plan's deductible, 30000 of 50000; 20000 left
    # type 30: the remaining 20000 of the plan's deductible + 20% of 20000 = 24000
    result = split_encounter(
        [charge(30000, "98", "a"), charge(30000, "UC", "b"), charge(40000, "30", "c")], [primary]
    )

    assert [line.shares[-1].amount for line in result.lines] == [12000, 30000, 24000]


def test_an_in_network_cost_share_is_used_before_an_out_of_network_one() -> None:
    out_of_network = plan(in_network=False, coinsurance_bp=5000)
    in_network = plan(coinsurance_bp=2000)
    result = split_encounter([charge(10000)], [coverage(PRIMARY, out_of_network, in_network)])

    assert billed(result.lines[0]) == [8000, 2000]


# -- not covered ---------------------------------------------------------------------------------


def test_a_service_type_not_covered_is_wholly_the_customers_and_uses_up_nothing() -> None:
    not_covered = CoverageCostShare(service_type="AL", covered=False)
    primary = coverage(
        PRIMARY,
        not_covered,
        plan(deductible_remaining=50000, coinsurance_bp=2000, out_of_pocket_remaining=40000),
    )
    # line 1, not covered: the customer's 30000, deductible and maximum untouched
    # line 2: deductible 50000 + 20% of 50000 = 60000, capped at 40000
    result = split_encounter([charge(30000, "AL", "a"), charge(100000, "30", "b")], [primary])

    assert [billed(line) for line in result.lines] == [[0, 30000], [60000, 40000]]
    assert [why(line) for line in result.lines] == [(0, 0, 0, 30000), (40000, 0, 0, 0)]


def test_a_service_type_with_no_cost_share_and_no_plan_level_one_is_not_covered() -> None:
    primary = coverage(PRIMARY, CoverageCostShare(service_type="98", copay=2500))
    result = split_encounter([charge(12000, "UC")], [primary])

    assert billed(result.lines[0]) == [0, 12000]
    assert why(result.lines[0]) == (0, 0, 0, 12000)


def test_self_pay_without_coverage() -> None:
    result = split_encounter(charges(15000, 8000), [])

    assert result.parties() == [CUSTOMER]
    assert [billed(line) for line in result.lines] == [[15000], [8000]]
    assert [why(line) for line in result.lines] == [(0, 0, 0, 15000), (0, 0, 0, 8000)]


def test_a_zero_amount_line_bills_every_party_nothing() -> None:
    primary = coverage(PRIMARY, plan(copay=2500, deductible_remaining=10000))
    result = split_encounter([charge(0)], [primary, coverage(SECONDARY, plan(coinsurance_bp=2000))])

    assert billed(result.lines[0]) == [0, 0, 0]
    assert why(result.lines[0]) == (0, 0, 0, 0)


def test_a_coverage_asked_that_pays_nothing_is_still_a_party() -> None:
    primary = coverage(PRIMARY, plan(covered=False))
    result = split_encounter(charges(5000, 7000), [primary])

    assert result.parties() == [PRIMARY, CUSTOMER]
    assert result.totals() == {PRIMARY: 0, CUSTOMER: 12000}


def test_an_encounter_without_lines_has_no_parties() -> None:
    result = split_encounter([], [coverage(PRIMARY, plan())])

    assert (result.lines, result.parties(), result.total_for(PRIMARY)) == ([], [], 0)


# -- more than one coverage ----------------------------------------------------------------------


def test_a_secondary_covers_what_the_primary_leaves_less_its_own_copay() -> None:
    primary = coverage(PRIMARY, plan(deductible_remaining=20000, coinsurance_bp=2000))
    secondary = coverage(SECONDARY, plan(copay=1500, deductible_remaining=0))
    # line 1, 1,000.00: the primary leaves 20000 deductible + 20% of 80000 = 36000 and pays 64000;
    #   the secondary is offered 36000, asks its 1500 copay and pays 34500
    # line 2, 300.00: the primary leaves 20% = 6000 and pays 24000; the secondary's copay was
    #   asked on line 1, so it pays all 6000
    result = split_encounter(charges(100000, 30000), [primary, secondary])

    assert result.parties() == [PRIMARY, SECONDARY, CUSTOMER]
    assert [billed(line) for line in result.lines] == [[64000, 34500, 1500], [24000, 6000, 0]]
    assert [why(line) for line in result.lines] == [(0, 1500, 0, 0), (0, 0, 0, 0)]
    assert result.totals() == {PRIMARY: 88000, SECONDARY: 40500, CUSTOMER: 1500}


def test_a_secondary_applies_its_own_deductible_to_what_it_is_offered() -> None:
    primary = coverage(PRIMARY, plan(deductible_remaining=20000, coinsurance_bp=2000))
    secondary = coverage(SECONDARY, plan(deductible_remaining=10000, coinsurance_bp=5000))
    # the primary leaves 36000 (as above); the secondary: deductible 10000 + 50% of 26000 = 13000,
    # so the customer owes 23000 and the secondary pays 13000
    result = split_encounter([charge(100000)], [primary, secondary])

    assert billed(result.lines[0]) == [64000, 13000, 23000]
    assert why(result.lines[0]) == (10000, 0, 13000, 0)


def test_a_type_the_primary_does_not_cover_is_offered_whole_to_the_secondary() -> None:
    primary = coverage(PRIMARY, CoverageCostShare(service_type="AL", covered=False), plan())
    secondary = coverage(SECONDARY, plan(coinsurance_bp=1000))
    # the secondary pays 90% of 500.00, the customer 10% = 5000 as coinsurance
    result = split_encounter([charge(50000, "AL")], [primary, secondary])

    assert billed(result.lines[0]) == [0, 45000, 5000]
    assert why(result.lines[0]) == (0, 0, 5000, 0)


def test_what_the_secondary_does_not_cover_keeps_the_primarys_reasons() -> None:
    primary = coverage(PRIMARY, plan(deductible_remaining=10000, copay=2000))
    secondary = coverage(SECONDARY, CoverageCostShare(service_type="98", copay=1000))
    # the primary leaves 10000 deductible + 2000 copay; the secondary has nothing for type 30
    result = split_encounter([charge(50000)], [primary, secondary])

    assert billed(result.lines[0]) == [38000, 0, 12000]
    assert why(result.lines[0]) == (10000, 2000, 0, 0)


def test_a_tertiary_is_offered_what_the_secondary_leaves() -> None:
    coverages = [
        coverage("cov-1", plan(coinsurance_bp=5000)),
        coverage("cov-2", plan(coinsurance_bp=5000)),
        coverage("cov-3", plan(coinsurance_bp=5000)),
    ]
    # 100.01: the first leaves 5001 (5000.5 rounded up), the second 2501, the third 1251
    result = split_encounter([charge(10001)], coverages)

    assert billed(result.lines[0]) == [5000, 2500, 1250, 1251]
    assert result.parties() == ["cov-1", "cov-2", "cov-3", CUSTOMER]


# -- refusals and invariants ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "terms",
    [
        {"copay": -1},
        {"deductible_remaining": -100},
        {"out_of_pocket_remaining": -1},
        {"coinsurance_bp": 10001},
        {"coinsurance_bp": -1},
    ],
)
def test_implausible_cost_shares_are_refused_when_a_line_meets_them(terms: dict[str, int]) -> None:
    primary = coverage(PRIMARY, plan(**terms))  # reading it is fine: it is eligibility's fact

    with pytest.raises(ImplausibleCostShare):
        split_encounter([charge(10000)], [primary])


def test_repeated_line_or_coverage_ids_are_refused() -> None:
    with pytest.raises(ValueError, match="line ids"):
        split_encounter([charge(100, line_id="a"), charge(200, line_id="a")], [])
    with pytest.raises(ValueError, match="coverage ids"):
        split_encounter([charge(100)], [coverage(PRIMARY, plan()), coverage(PRIMARY, plan())])


def test_a_coverage_cannot_be_named_customer() -> None:
    with pytest.raises(ValidationError):
        coverage(CUSTOMER, plan())


def test_fields_eligibility_adds_to_a_cost_share_are_ignored() -> None:
    share = CoverageCostShare.model_validate(
        {"service_type": "98", "copay": 2500, "authorization_required": True}
    )

    assert share == CoverageCostShare(service_type="98", copay=2500)


def test_a_split_that_does_not_add_up_cannot_be_made() -> None:
    with pytest.raises(ValidationError, match="add up to 900"):
        LineSplit(
            line_id="a",
            amount=1000,
            shares=[Share(party=PRIMARY, amount=800), Share(party=CUSTOMER, amount=100, copay=100)],
        )
    with pytest.raises(ValidationError, match="components add up to 50"):
        Share(party=CUSTOMER, amount=100, copay=50)
    with pytest.raises(ValidationError, match="only the customer"):
        Share(party=PRIMARY, amount=100, copay=100)
    with pytest.raises(ValidationError):
        Share(party=PRIMARY, amount=-1)
    with pytest.raises(ValidationError, match="customer's share must come last"):
        LineSplit(line_id="a", amount=0, shares=[Share(party=PRIMARY, amount=0)])


def test_every_line_of_a_split_names_the_same_parties() -> None:
    lines = [
        LineSplit(line_id="a", amount=0, shares=[Share(party=CUSTOMER, amount=0)]),
        LineSplit(
            line_id="b",
            amount=0,
            shares=[Share(party=PRIMARY, amount=0), Share(party=CUSTOMER, amount=0)],
        ),
    ]

    with pytest.raises(ValidationError, match="line b is not split between"):
        EncounterSplit(lines=lines)


# -- properties ----------------------------------------------------------------------------------

SERVICE_TYPES = ["30", "98", "UC", "AL", "5"]
# exactness gets the most examples; the others fewer, so the file runs in a few seconds
EXAMPLES = settings(max_examples=300, deadline=None)
FEWER_EXAMPLES = settings(max_examples=150, deadline=None)

line_amounts = st.integers(0, 5_000_000) | st.sampled_from([0, 1, 2, 3, 5, 99, 12345])
figures = st.none() | st.integers(0, 200_000) | st.integers(10**6, 10**12)  # huge deductibles too


@st.composite
def cost_shares(
    draw: st.DrawFn, service_type: str, *, in_network: bool | None = None
) -> CoverageCostShare:
    return CoverageCostShare(
        service_type=service_type,
        in_network=draw(st.booleans()) if in_network is None else in_network,
        copay=draw(figures),
        coinsurance_bp=draw(st.none() | st.integers(0, 10_000)),
        deductible=draw(figures),
        deductible_remaining=draw(figures),
        out_of_pocket_max=draw(figures),
        out_of_pocket_remaining=draw(figures),
        covered=draw(st.sampled_from([True, True, True, False])),
        deductible_scope=draw(st.sampled_from(["30", service_type])),
        out_of_pocket_scope=draw(st.sampled_from(["30", service_type])),
    )


@st.composite
def coverage_list(
    draw: st.DrawFn, min_size: int = 0, max_size: int = 3, in_network: bool | None = None
) -> list[VerifiedCoverage]:
    count = draw(st.integers(min_size, max_size))
    return [
        coverage(
            f"cov-{n}",
            *[
                draw(cost_shares(service_type, in_network=in_network))
                for service_type in draw(st.lists(st.sampled_from(SERVICE_TYPES), max_size=6))
            ],
        )
        for n in range(1, count + 1)
    ]


encounter_lines = st.lists(st.tuples(line_amounts, st.sampled_from(SERVICE_TYPES)), max_size=8).map(
    lambda drawn: [charge(amount, kind, f"line-{n}") for n, (amount, kind) in enumerate(drawn)]
)


@EXAMPLES
@given(encounter_lines, coverage_list())
def test_every_line_is_billed_exactly_and_nothing_is_negative(
    lines: list[ChargeLine], coverages: list[VerifiedCoverage]
) -> None:
    result = split_encounter(lines, coverages)

    parties = [c.coverage_id for c in coverages] + [CUSTOMER]
    assert [line.line_id for line in result.lines] == [line.line_id for line in lines]
    for charged, line in zip(lines, result.lines, strict=True):
        assert [share.party for share in line.shares] == parties
        assert sum(share.amount for share in line.shares) == line.amount == charged.amount
        assert all(share.amount >= 0 for share in line.shares)
        customer = line.shares[-1]
        reasons = [customer.deductible, customer.copay, customer.coinsurance, customer.not_covered]
        assert sum(reasons) == customer.amount and min(reasons) >= 0
    assert result.parties() == (parties if lines else [])
    assert sum(result.totals().values()) == sum(line.amount for line in lines)


@FEWER_EXAMPLES
@given(encounter_lines, coverage_list())
def test_a_further_coverage_never_makes_the_customer_owe_more(
    lines: list[ChargeLine], coverages: list[VerifiedCoverage]
) -> None:
    owed_with = [
        [line.shares[-1].amount for line in split_encounter(lines, coverages[:count]).lines]
        for count in range(len(coverages) + 1)
    ]

    for fewer, more in pairwise(owed_with):
        assert all(after <= before for before, after in zip(fewer, more, strict=True))


def resolved(coverage: VerifiedCoverage, service_type: str) -> CoverageCostShare | None:
    for wanted in (service_type, "30"):
        stated = [share for share in coverage.cost_shares if share.service_type == wanted]
        if stated:
            return min(stated, key=lambda share: not share.in_network)
    return None


@FEWER_EXAMPLES
@given(encounter_lines, coverage_list(min_size=1, max_size=1))
def test_the_customer_never_pays_past_the_out_of_pocket_left(
    lines: list[ChargeLine], coverages: list[VerifiedCoverage]
) -> None:
    result = split_encounter(lines, coverages)

    paid: dict[tuple[str, bool], int] = {}
    limits: dict[tuple[str, bool], int | None] = {}
    for charged, line in zip(lines, result.lines, strict=True):
        share = resolved(coverages[0], charged.service_type)
        if share is None or not share.covered:
            continue
        key = (share.out_of_pocket_scope, share.in_network)
        paid[key] = paid.get(key, 0) + line.shares[-1].amount
        first_seen = (
            share.out_of_pocket_remaining
            if share.out_of_pocket_remaining is not None
            else share.out_of_pocket_max
        )
        limits.setdefault(key, first_seen)
    for key, customer_paid in paid.items():
        limit = limits[key]
        assert limit is None or customer_paid <= limit


@FEWER_EXAMPLES
@given(
    st.lists(
        st.tuples(line_amounts, st.sampled_from(SERVICE_TYPES)),
        max_size=6,
        unique_by=lambda t: t[1],
    ),
    coverage_list(min_size=1, max_size=1, in_network=True),
)
def test_one_coverage_bills_the_customer_what_eligibility_estimated(
    drawn: list[tuple[int, str]], coverages: list[VerifiedCoverage]
) -> None:
    """Where the rules coincide (one coverage, no copay asked of two lines), a bill agrees with
    eligibility's estimate to the cent; the cost shares pass between them field for field."""
    lines = [charge(amount, kind, f"line-{n}") for n, (amount, kind) in enumerate(drawn)]
    used = [resolved(coverages[0], line.service_type) for line in lines]
    with_copay = [share for share in used if share is not None and share.copay is not None]
    assume(len({id(share) for share in with_copay}) == len(with_copay))

    def cost_share_for(service_type: str, in_network: bool) -> CostShare | None:
        share = resolved(coverages[0], service_type)
        return CostShare(**share.model_dump()) if share is not None else None

    estimate = estimate_costs(
        [
            PlannedService(code="99213", unit_price=line.amount, service_type=line.service_type)
            for line in lines
        ],
        currency="USD",
        cost_share_for=cost_share_for,
        program=None,
    )
    result = split_encounter(lines, coverages)

    assert [billed(line) for line in result.lines] == [
        [line.payer_portion, line.customer_portion_before_program] for line in estimate.lines
    ]
