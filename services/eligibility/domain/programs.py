"""Payment programs that lower what a household owes because of its income: sliding-fee discounts.

A program measures a household's yearly income against the federal poverty guidelines (HHS
publishes them each January, per household size and for three regions) and puts the household in
the first tier whose limit, a percentage of the guideline, it does not exceed. The tier takes a
share off the customer's portion of a bill, or replaces it with a flat nominal fee per visit.

Amounts are integer minor units of the program's currency; percentages are basis points
(100% = 10000), so no float ever touches money or an eligibility boundary.
"""

from __future__ import annotations

from enum import StrEnum
from itertools import pairwise

from pydantic import Field, field_validator, model_validator

from services.eligibility.domain.coverage import Value
from shared.money import CurrencyCode
from shared.rules import RuleViolated

# The regions HHS publishes guidelines for: the 48 contiguous states and DC, Alaska, Hawaii.
REGIONS = ("contiguous", "alaska", "hawaii")

MAX_HOUSEHOLD_SIZE = 50
FULL_BP = 10000  # 100% in basis points


class DeterminationRefused(RuleViolated, ValueError):
    """Facts a determination cannot be made from; ``field`` names the one to correct.

    A ValueError as well as a RuleViolated so that callers validating input (pydantic, the
    application layer) treat it as the bad value it is."""


class RegionGuideline(Value):
    """One region's guideline: the amount for a household of one and for each further person."""

    first_person: int = Field(gt=0, description="Yearly amount for a household of 1, minor units")
    each_additional_person: int = Field(
        ge=0, description="Added for each further person, minor units"
    )


class PovertyGuidelines(Value):
    """One year's poverty guidelines for every region."""

    year: int = Field(ge=1900, le=2999)
    currency: CurrencyCode
    regions: dict[str, RegionGuideline] = Field(description="By region: contiguous, alaska, hawaii")

    @field_validator("regions")
    @classmethod
    def _every_region(cls, regions: dict[str, RegionGuideline]) -> dict[str, RegionGuideline]:
        # HHS always publishes all three; a table missing one would refuse every household there
        # long after the file was loaded.
        unknown = sorted(set(regions) - set(REGIONS))
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a region, expected {', '.join(REGIONS)}")
        missing = [region for region in REGIONS if region not in regions]
        if missing:
            raise ValueError(f"guidelines for {', '.join(missing)} are missing")
        return regions

    def threshold(self, household_size: int, region: str) -> int:
        """The guideline amount for a household of ``household_size`` people in ``region``."""
        if not 1 <= household_size <= MAX_HOUSEHOLD_SIZE:
            raise DeterminationRefused(
                "household_size",
                f"a household has 1 to {MAX_HOUSEHOLD_SIZE} people, not {household_size}",
            )
        guideline = self.regions.get(region)
        if guideline is None:
            raise DeterminationRefused("region", f"{region!r} is not one of {', '.join(REGIONS)}")
        return guideline.first_person + (household_size - 1) * guideline.each_additional_person


class ProgramKind(StrEnum):
    SLIDING_FEE = "sliding_fee"


class ProgramTier(Value):
    """Households with income up to ``max_percent_of_poverty_bp`` of the guideline (inclusive)
    get ``discount_bp`` off their portion, or pay ``nominal_fee`` per visit instead when it is
    set."""

    max_percent_of_poverty_bp: int = Field(gt=0, description="Upper limit, inclusive: 13300 = 133%")
    discount_bp: int = Field(
        ge=0, le=FULL_BP, description="Share of the customer's portion taken off"
    )
    nominal_fee: int | None = Field(
        None,
        ge=0,
        description="Flat charge per visit in minor units, instead of the discounted portion",
    )


class Program(Value):
    """A payment program: its tiers, lowest income limit first, and the guidelines they refer to."""

    program_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    kind: ProgramKind = ProgramKind.SLIDING_FEE
    currency: CurrencyCode
    guideline_year: int = Field(
        description="The year of the poverty guidelines the tiers are measured against"
    )
    tiers: list[ProgramTier] = Field(min_length=1)

    @field_validator("tiers")
    @classmethod
    def _ascending(cls, tiers: list[ProgramTier]) -> list[ProgramTier]:
        limits = [tier.max_percent_of_poverty_bp for tier in tiers]
        if any(lower >= higher for lower, higher in pairwise(limits)):
            raise ValueError(f"tier limits must strictly ascend, got {limits}")
        return tiers


class ProgramTable(Value):
    """Every year of guidelines the programs use, and the programs on offer."""

    guidelines: list[PovertyGuidelines]
    programs: list[Program]

    @model_validator(mode="after")
    def _consistent(self) -> ProgramTable:
        years = [g.year for g in self.guidelines]
        if len(set(years)) != len(years):
            raise ValueError(f"guidelines are given twice for a year: {sorted(years)}")
        ids = [p.program_id for p in self.programs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"program ids must be unique: {sorted(ids)}")
        by_year = {g.year: g for g in self.guidelines}
        for index, program in enumerate(self.programs):
            guidelines = by_year.get(program.guideline_year)
            if guidelines is None:
                raise ValueError(
                    f"programs[{index}].guideline_year: no guidelines for {program.guideline_year}"
                )
            if guidelines.currency != program.currency:
                raise ValueError(
                    f"programs[{index}].currency: {program.currency}, but the "
                    f"{guidelines.year} guidelines are in {guidelines.currency}"
                )
        return self

    def program(self, program_id: str) -> Program | None:
        return next((p for p in self.programs if p.program_id == program_id), None)

    def programs_in(self, currency: str) -> list[Program]:
        return [p for p in self.programs if p.currency == currency]

    def guidelines_for(self, program: Program) -> PovertyGuidelines:
        """The guidelines ``program`` measures against (the table guarantees they exist)."""
        return next(g for g in self.guidelines if g.year == program.guideline_year)

    def latest_guidelines(self) -> PovertyGuidelines | None:
        return max(self.guidelines, key=lambda g: g.year, default=None)


class ProgramDetermination(Value):
    """Where a household stands in a program, with the facts it was measured from."""

    program_id: str
    household_size: int
    annual_income: int = Field(description="Yearly household income, minor units of currency")
    currency: CurrencyCode
    guideline_amount: int = Field(description="The poverty guideline for this household")
    percent_of_poverty_bp: int = Field(
        description="Income as a share of the guideline, rounded down"
    )
    eligible: bool
    tier_index: int | None = Field(
        None, description="Index into the program's tiers, when eligible"
    )
    discount_bp: int = Field(
        0, description="Share taken off the customer's portion; 0 when not eligible"
    )
    nominal_fee: int | None = Field(
        None, description="Flat charge per visit instead, when the tier has one"
    )


def percent_of_poverty_bp(annual_income: int, guideline_amount: int) -> int:
    """Income as basis points of the guideline, rounded down to a whole basis point.

    Rounding down means a household exactly at a tier's limit (133% of the guideline, to the
    cent) is in that tier, and so is one less than a hundredth of a percent above it: the
    reading that favours the household, as sliding-fee charts are published in whole percents."""
    return annual_income * FULL_BP // guideline_amount


def income_limit(tier: ProgramTier, guideline_amount: int) -> int:
    """The yearly income up to which a household with this guideline is sure to be in ``tier``:
    the tier's percentage of the guideline, rounded down to the cent, as a chart would print it."""
    return tier.max_percent_of_poverty_bp * guideline_amount // FULL_BP


def determine(
    program: Program,
    guidelines: PovertyGuidelines,
    *,
    household_size: int,
    annual_income: int,
    region: str,
) -> ProgramDetermination:
    """Measure a household against ``program``'s tiers: the first tier whose limit the household's
    percent of poverty does not exceed decides; above the last tier it is not eligible."""
    if guidelines.currency != program.currency:
        raise DeterminationRefused(
            "currency",
            f"{program.program_id} is in {program.currency}, "
            f"the guidelines in {guidelines.currency}",
        )
    if guidelines.year != program.guideline_year:
        raise DeterminationRefused(
            "guideline_year",
            f"{program.program_id} is measured against the {program.guideline_year} "
            f"guidelines, not {guidelines.year}",
        )
    if annual_income < 0:
        raise DeterminationRefused("annual_income", "income cannot be negative")
    guideline_amount = guidelines.threshold(household_size, region)
    percent = percent_of_poverty_bp(annual_income, guideline_amount)
    tier_index = next(
        (i for i, tier in enumerate(program.tiers) if percent <= tier.max_percent_of_poverty_bp),
        None,
    )
    tier = program.tiers[tier_index] if tier_index is not None else None
    return ProgramDetermination(
        program_id=program.program_id,
        household_size=household_size,
        annual_income=annual_income,
        currency=program.currency,
        guideline_amount=guideline_amount,
        percent_of_poverty_bp=percent,
        eligible=tier is not None,
        tier_index=tier_index,
        discount_bp=tier.discount_bp if tier else 0,
        nominal_fee=tier.nominal_fee if tier else None,
    )
