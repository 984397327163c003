"""The program table file: the shipped default, and mistakes an operator could make in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.eligibility.adapters.program_table import ProgramTableInvalid, load_program_table
from services.eligibility.domain.programs import ProgramTier, RegionGuideline, determine
from services.eligibility.settings import DEFAULT_PROGRAM_TABLE

MINIMAL_TABLE = """
[[guidelines]]
year = 2025
currency = "USD"
[guidelines.regions.contiguous]
first_person = 1565000
each_additional_person = 550000
[guidelines.regions.alaska]
first_person = 1955000
each_additional_person = 688000
[guidelines.regions.hawaii]
first_person = 1799000
each_additional_person = 633000

[[programs]]
program_id = "sliding-fee-standard"
name = "Standard sliding fee"
currency = "USD"
guideline_year = 2025
[[programs.tiers]]
max_percent_of_poverty_bp = 10000
discount_bp = 10000
nominal_fee = 2000
[[programs.tiers]]
max_percent_of_poverty_bp = 20000
discount_bp = 4000
"""


def write_table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "programs.toml"
    path.write_text(text)
    return path


def test_default_table_has_the_2025_hhs_poverty_guidelines() -> None:
    guidelines = load_program_table(DEFAULT_PROGRAM_TABLE).latest_guidelines()

    assert guidelines is not None
    assert (guidelines.year, guidelines.currency) == (2025, "USD")
    assert guidelines.regions == {
        "contiguous": RegionGuideline(
            first_person=1565000, each_additional_person=550000
        ),  # $15,650 + $5,500
        "alaska": RegionGuideline(
            first_person=1955000, each_additional_person=688000
        ),  # $19,550 + $6,880
        "hawaii": RegionGuideline(
            first_person=1799000, each_additional_person=633000
        ),  # $17,990 + $6,330
    }


def test_default_table_offers_the_standard_sliding_fee() -> None:
    table = load_program_table(DEFAULT_PROGRAM_TABLE)
    program = table.program("sliding-fee-standard")

    assert program is not None
    assert (program.currency, program.guideline_year) == ("USD", 2025)
    assert program.tiers == [
        ProgramTier(
            max_percent_of_poverty_bp=10000, discount_bp=10000, nominal_fee=2000
        ),  # <=100%: $20.00 a visit
        ProgramTier(max_percent_of_poverty_bp=13300, discount_bp=8000),  # <=133%: 80% off
        ProgramTier(max_percent_of_poverty_bp=16600, discount_bp=6000),  # <=166%: 60% off
        ProgramTier(max_percent_of_poverty_bp=20000, discount_bp=4000),  # <=200%: 40% off
    ]


def test_default_table_determines_a_family_of_four_at_the_guideline() -> None:
    table = load_program_table(DEFAULT_PROGRAM_TABLE)
    program = table.program("sliding-fee-standard")
    assert program is not None

    # $15,650 + 3 x $5,500 = $32,150: exactly 100%
    determination = determine(
        program,
        table.guidelines_for(program),
        household_size=4,
        annual_income=3215000,
        region="contiguous",
    )
    assert (determination.percent_of_poverty_bp, determination.nominal_fee) == (10000, 2000)


def test_a_valid_file_loads(tmp_path: Path) -> None:
    table = load_program_table(write_table(tmp_path, MINIMAL_TABLE))

    assert [p.program_id for p in table.programs] == ["sliding-fee-standard"]


@pytest.mark.parametrize(
    ("mistake", "named"),
    [
        (
            ("discount_bp = 4000", "discount_bp = 40000"),
            "programs[0].tiers[1].discount_bp: Input should be less than",
        ),
        (
            ("discount_bp = 4000", "discount_pb = 4000"),
            "programs[0].tiers[1].discount_pb: Extra inputs",
        ),
        (
            ("[guidelines.regions.hawaii]", "[guidelines.regions.hawai]"),
            "guidelines[0].regions: hawai: not a region",
        ),
        (
            ("first_person = 1955000\n", ""),
            "guidelines[0].regions.alaska.first_person: Field required",
        ),
        (
            ("guideline_year = 2025", "guideline_year = 2024"),
            "programs[0].guideline_year: no guidelines for 2024",
        ),
        (
            ("max_percent_of_poverty_bp = 20000", "max_percent_of_poverty_bp = 9000"),
            "programs[0].tiers: tier limits must strictly ascend",
        ),
    ],
)
def test_a_mistake_names_the_file_and_the_key(
    tmp_path: Path, mistake: tuple[str, str], named: str
) -> None:
    path = write_table(tmp_path, MINIMAL_TABLE.replace(*mistake))

    with pytest.raises(ProgramTableInvalid) as invalid:
        load_program_table(path)
    assert str(invalid.value).startswith(f"{path}: ")
    assert named in str(invalid.value)


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProgramTableInvalid, match="not valid TOML"):
        load_program_table(write_table(tmp_path, "[[programs]\nname ="))
