"""Sliding-fee programs: poverty guideline thresholds, tier boundaries, and refused facts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.eligibility.domain.programs import (
    DeterminationRefused,
    PovertyGuidelines,
    Program,
    ProgramDetermination,
    ProgramTable,
    ProgramTier,
    RegionGuideline,
    determine,
    income_limit,
)
from shared.rules import RuleViolated

# HHS 2025, in cents.
GUIDELINES_2025 = PovertyGuidelines(
    year=2025,
    currency="USD",
    regions={
        "contiguous": RegionGuideline(first_person=1565000, each_additional_person=550000),
        "alaska": RegionGuideline(first_person=1955000, each_additional_person=688000),
        "hawaii": RegionGuideline(first_person=1799000, each_additional_person=633000),
    },
)
SLIDING_FEE = Program(
    program_id="sliding-fee-standard",
    name="Standard sliding fee",
    currency="USD",
    guideline_year=2025,
    tiers=[
        ProgramTier(max_percent_of_poverty_bp=10000, discount_bp=10000, nominal_fee=2000),
        ProgramTier(max_percent_of_poverty_bp=13300, discount_bp=8000),
        ProgramTier(max_percent_of_poverty_bp=16600, discount_bp=6000),
        ProgramTier(max_percent_of_poverty_bp=20000, discount_bp=4000),
    ],
)


def determine_contiguous(household_size: int, annual_income: int) -> ProgramDetermination:
    return determine(
        SLIDING_FEE,
        GUIDELINES_2025,
        household_size=household_size,
        annual_income=annual_income,
        region="contiguous",
    )


# -- thresholds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("household_size", "region", "expected"),
    [
        (1, "contiguous", 1565000),  # 15,650.00
        (4, "contiguous", 3215000),  # 15,650.00 + 3 x 5,500.00 = 32,150.00
        (8, "contiguous", 5415000),  # 15,650.00 + 7 x 5,500.00 = 54,150.00
        (1, "alaska", 1955000),  # 19,550.00
        (2, "alaska", 2643000),  # 19,550.00 + 6,880.00 = 26,430.00
        (3, "hawaii", 3065000),  # 17,990.00 + 2 x 6,330.00 = 30,650.00
    ],
)
def test_threshold_adds_the_increment_for_each_person_after_the_first(
    household_size: int, region: str, expected: int
) -> None:
    assert GUIDELINES_2025.threshold(household_size, region) == expected


def test_threshold_refuses_a_region_hhs_does_not_publish() -> None:
    with pytest.raises(DeterminationRefused) as refused:
        GUIDELINES_2025.threshold(1, "guam")
    assert refused.value.field == "region"


def test_guidelines_must_cover_every_region() -> None:
    with pytest.raises(ValidationError, match="hawaii"):
        PovertyGuidelines(
            year=2025,
            currency="USD",
            regions={
                "contiguous": RegionGuideline(first_person=1565000, each_additional_person=550000),
                "alaska": RegionGuideline(first_person=1955000, each_additional_person=688000),
            },
        )


def test_guidelines_refuse_a_region_they_do_not_know() -> None:
    regions = {
        **GUIDELINES_2025.regions,
        "puerto_rico": RegionGuideline(first_person=1, each_additional_person=1),
    }

    with pytest.raises(ValidationError, match="puerto_rico: not a region"):
        PovertyGuidelines(year=2025, currency="USD", regions=regions)


# -- tiers ---------------------------------------------------------------------------------------


def test_household_exactly_at_100_percent_pays_the_nominal_fee() -> None:
    determination = determine_contiguous(1, 1565000)  # 15,650.00 / 15,650.00 = 100.00%

    assert determination == ProgramDetermination(
        program_id="sliding-fee-standard",
        household_size=1,
        annual_income=1565000,
        currency="USD",
        guideline_amount=1565000,
        percent_of_poverty_bp=10000,
        eligible=True,
        tier_index=0,
        discount_bp=10000,
        nominal_fee=2000,
    )


def test_less_than_a_basis_point_above_a_boundary_stays_in_the_tier() -> None:
    # 15,650.01 / 15,650.00 = 100.00006%: rounded down to 100.00%
    determination = determine_contiguous(1, 1565001)

    assert (determination.percent_of_poverty_bp, determination.tier_index) == (10000, 0)


def test_a_basis_point_above_100_percent_moves_to_the_80_percent_tier() -> None:
    # 15,650.00 x 100.01% = 15,651.565, so 15,651.57 is 100.01%
    determination = determine_contiguous(1, 1565157)

    assert determination.percent_of_poverty_bp == 10001
    assert (determination.tier_index, determination.discount_bp, determination.nominal_fee) == (
        1,
        8000,
        None,
    )


def test_household_exactly_at_133_percent_gets_80_percent_off() -> None:
    # household of 3: 26,650.00; x 133% = 35,444.50
    determination = determine_contiguous(3, 3544450)

    assert (determination.guideline_amount, determination.percent_of_poverty_bp) == (2665000, 13300)
    assert (determination.tier_index, determination.discount_bp) == (1, 8000)


def test_just_above_133_percent_gets_60_percent_off() -> None:
    # 26,650.00 x 133.01% = 35,447.165, so 35,447.17 is 133.01%
    determination = determine_contiguous(3, 3544717)

    assert (
        determination.percent_of_poverty_bp,
        determination.tier_index,
        determination.discount_bp,
    ) == (13301, 2, 6000)


def test_household_exactly_at_200_percent_gets_40_percent_off() -> None:
    determination = determine_contiguous(3, 5330000)  # 26,650.00 x 200% = 53,300.00

    assert (determination.eligible, determination.tier_index, determination.discount_bp) == (
        True,
        3,
        4000,
    )


def test_above_the_last_tier_is_not_eligible() -> None:
    determination = determine_contiguous(3, 5330267)  # 53,302.67 / 26,650.00 = 200.01%

    assert determination.percent_of_poverty_bp == 20001
    assert (
        determination.eligible,
        determination.tier_index,
        determination.discount_bp,
        determination.nominal_fee,
    ) == (False, None, 0, None)


def test_no_income_is_in_the_first_tier() -> None:
    assert determine_contiguous(2, 0).tier_index == 0


def test_larger_households_qualify_with_larger_incomes() -> None:
    # 40,000.00 a year: 1 person 255.6% (not eligible), 4 people 124.4% (80% off),
    # 8 people 73.9% (nominal fee)
    assert determine_contiguous(1, 4000000).eligible is False
    assert (
        determine_contiguous(4, 4000000).percent_of_poverty_bp == 12441
    )  # 40,000 / 32,150 = 124.416%
    assert determine_contiguous(8, 4000000).nominal_fee == 2000


@pytest.mark.parametrize(
    ("region", "guideline", "percent_bp", "discount_bp"),
    [
        ("contiguous", 2115000, 16548, 6000),  # 35,000 / 21,150 = 165.48%
        ("hawaii", 2432000, 14391, 6000),  # 35,000 / 24,320 = 143.91%
        ("alaska", 2643000, 13242, 8000),  # 35,000 / 26,430 = 132.42%
    ],
)
def test_the_region_decides_the_guideline(
    region: str, guideline: int, percent_bp: int, discount_bp: int
) -> None:
    determination = determine(
        SLIDING_FEE, GUIDELINES_2025, household_size=2, annual_income=3500000, region=region
    )

    assert (
        determination.guideline_amount,
        determination.percent_of_poverty_bp,
        determination.discount_bp,
    ) == (guideline, percent_bp, discount_bp)


def test_income_limit_is_the_tier_percentage_of_the_guideline() -> None:
    assert income_limit(SLIDING_FEE.tiers[3], 2665000) == 5330000  # 26,650.00 x 200% = 53,300.00
    assert income_limit(SLIDING_FEE.tiers[1], 1565000) == 2081450  # 15,650.00 x 133% = 20,814.50


# -- refused facts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        ({"household_size": 0, "annual_income": 100, "region": "contiguous"}, "household_size"),
        ({"household_size": 51, "annual_income": 100, "region": "contiguous"}, "household_size"),
        ({"household_size": 2, "annual_income": -1, "region": "contiguous"}, "annual_income"),
        ({"household_size": 2, "annual_income": 100, "region": "mainland"}, "region"),
    ],
)
def test_nonsense_facts_are_refused_naming_the_field(facts: dict[str, object], field: str) -> None:
    with pytest.raises(DeterminationRefused) as refused:
        determine(SLIDING_FEE, GUIDELINES_2025, **facts)  # type: ignore[arg-type]

    assert refused.value.field == field
    assert isinstance(refused.value, ValueError) and isinstance(refused.value, RuleViolated)


def test_fifty_people_is_the_largest_household() -> None:
    assert determine_contiguous(50, 0).guideline_amount == 28515000  # 15,650.00 + 49 x 5,500.00


def test_guidelines_in_another_currency_are_refused() -> None:
    program_in_euros = SLIDING_FEE.model_copy(update={"currency": "EUR"})

    with pytest.raises(DeterminationRefused) as refused:
        determine(
            program_in_euros,
            GUIDELINES_2025,
            household_size=1,
            annual_income=0,
            region="contiguous",
        )
    assert refused.value.field == "currency"


def test_guidelines_of_another_year_are_refused() -> None:
    guidelines_2024 = GUIDELINES_2025.model_copy(update={"year": 2024})

    with pytest.raises(DeterminationRefused) as refused:
        determine(
            SLIDING_FEE, guidelines_2024, household_size=1, annual_income=0, region="contiguous"
        )
    assert refused.value.field == "guideline_year"


# -- programs and the table ----------------------------------------------------------------------


def test_tiers_must_ascend() -> None:
    with pytest.raises(ValidationError, match="strictly ascend"):
        Program(
            program_id="p",
            name="P",
            currency="USD",
            guideline_year=2025,
            tiers=[
                ProgramTier(max_percent_of_poverty_bp=20000, discount_bp=4000),
                ProgramTier(max_percent_of_poverty_bp=10000, discount_bp=8000),
            ],
        )


def test_a_discount_cannot_exceed_100_percent() -> None:
    with pytest.raises(ValidationError, match="discount_bp"):
        ProgramTier(max_percent_of_poverty_bp=10000, discount_bp=10001)


def test_table_looks_up_programs_and_their_guidelines() -> None:
    guidelines_2024 = GUIDELINES_2025.model_copy(update={"year": 2024})
    table = ProgramTable(guidelines=[guidelines_2024, GUIDELINES_2025], programs=[SLIDING_FEE])

    assert table.program("sliding-fee-standard") == SLIDING_FEE
    assert table.program("unknown") is None
    assert table.programs_in("USD") == [SLIDING_FEE]
    assert table.programs_in("EUR") == []
    assert table.guidelines_for(SLIDING_FEE) == GUIDELINES_2025
    assert table.latest_guidelines() == GUIDELINES_2025


def test_an_empty_table_has_no_latest_guidelines() -> None:
    assert ProgramTable(guidelines=[], programs=[]).latest_guidelines() is None


@pytest.mark.parametrize(
    ("guidelines", "programs", "message"),
    [
        ([GUIDELINES_2025, GUIDELINES_2025], [], "twice"),
        ([GUIDELINES_2025], [SLIDING_FEE, SLIDING_FEE], "unique"),
        ([], [SLIDING_FEE], r"programs\[0\].guideline_year: no guidelines for 2025"),
        (
            [GUIDELINES_2025],
            [SLIDING_FEE.model_copy(update={"currency": "EUR"})],
            r"programs\[0\].currency",
        ),
    ],
)
def test_table_refuses_inconsistent_contents(
    guidelines: list[PovertyGuidelines], programs: list[Program], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ProgramTable(guidelines=guidelines, programs=programs)


def test_determination_survives_a_json_round_trip() -> None:
    determination = determine_contiguous(3, 4500000)

    assert (
        ProgramDetermination.model_validate_json(determination.model_dump_json()) == determination
    )
    with pytest.raises(ValidationError):
        determination.discount_bp = 0  # type: ignore[misc]  # frozen
