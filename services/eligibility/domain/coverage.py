"""What a payer told us about a member's coverage, as values the rest of the service reasons with.

The X12 271 parser (adapters/x12_271.py) produces an ``EligibilityResponse``; the verification
records its facts in EligibilityVerified or EligibilityRejected; estimates read the
``CostShare`` of a service type. Amounts are integer minor units of ``currency`` (X12 5010 is
US-only, so USD); percentages are basis points (20% = 2000) so that no float ever touches money.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

# X12 EB03 / EQ01 service type code for "Health Benefit Plan Coverage": the plan as a whole.
PLAN_LEVEL_SERVICE_TYPE = "30"


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BenefitKind(StrEnum):
    """EB01 (Eligibility or Benefit Information Code), the ones estimates care about named."""

    ACTIVE = "active"  # 1
    ACTIVE_FULL_RISK_CAPITATION = "active_capitated"  # 2..5 collapse here
    INACTIVE = "inactive"  # 6, 7, 8
    COINSURANCE = "coinsurance"  # A
    COPAY = "copay"  # B
    DEDUCTIBLE = "deductible"  # C
    BENEFIT_DESCRIPTION = "benefit_description"  # D
    EXCLUSIONS = "exclusions"  # E
    LIMITATIONS = "limitations"  # F
    OUT_OF_POCKET = "out_of_pocket"  # G (stop loss)
    NON_COVERED = "non_covered"  # I
    COST_CONTAINMENT = "cost_containment"  # J
    OTHER_OR_ADDITIONAL_PAYER = "other_payer"  # R
    OTHER = "other"  # anything else; info_code keeps the original


class TimePeriod(StrEnum):
    """EB06 (Time Period Qualifier), the ones that matter for accumulators."""

    CALENDAR_YEAR = "calendar_year"  # 23
    SERVICE_YEAR = "service_year"  # 22
    CONTRACT = "contract"  # 25
    VISIT = "visit"  # 27
    EPISODE = "episode"  # 26
    REMAINING = "remaining"  # 29
    LIFETIME = "lifetime"  # 32
    DAY = "day"  # 7
    OTHER = "other"


class Benefit(Value):
    """One EB loop (2110C/2110D) of a 271, with its dates and messages."""

    kind: BenefitKind
    info_code: str = Field(description="EB01 as sent, e.g. '1', 'A', 'C'")
    coverage_level: str | None = Field(None, description="EB02, e.g. IND, FAM, EMP")
    service_types: list[str] = Field(default=[], description="EB03 service type codes, e.g. ['30'], ['98', 'UC']")
    insurance_type: str | None = Field(None, description="EB04, e.g. HM, PR, MB")
    plan_description: str | None = Field(None, description="EB05")
    time_period: TimePeriod | None = Field(None, description="EB06")
    amount: int | None = Field(None, description="EB07 in minor units")
    percent_bp: int | None = Field(None, description="EB08 in basis points: 0.2 -> 2000")
    quantity: str | None = Field(None, description="EB09:EB10 as sent, e.g. 'VS:20'")
    authorization_required: bool | None = Field(None, description="EB11")
    in_network: bool | None = Field(None, description="EB12: Y true, N false, W/absent None")
    procedure_code: str | None = Field(None, description="EB13 composite as sent, e.g. 'HC:99213'")
    dates: dict[str, date] = Field(default={}, description="DTP qualifiers of the loop -> date, e.g. {'346': ...}")
    messages: list[str] = Field(default=[], description="MSG segments of the loop")


class RejectionSource(StrEnum):
    AAA = "aaa"  # the payer or clearinghouse refused the request (AAA segment)
    INACTIVE = "inactive"  # the payer answered: coverage not active on the date asked
    STAFF = "staff"  # staff asked the payer (phone, portal) and were told no


class Rejection(Value):
    """Why a payer did not confirm coverage."""

    source: RejectionSource
    code: str = Field(description="AAA03 reject reason code, e.g. '75'; 'inactive' for EB*6")
    description: str
    follow_up_action: str | None = Field(None, description="AAA04, e.g. 'C' please correct and resubmit")
    loop: str | None = Field(None, description="Where the payer put it: 2100A payer, 2100B receiver, 2100C subscriber...")


class ResponseStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    REJECTED = "rejected"


class Member(Value):
    member_id: str
    family_name: str | None = None
    given_name: str | None = None
    date_of_birth: date | None = None
    group_number: str | None = None


class EligibilityResponse(Value):
    """A parsed 271: the answer to one inquiry."""

    trace_number: str | None = Field(None, description="Our TRN02 echoed back by the payer")
    payer_name: str | None = None
    payer_identifier: str | None = Field(None, description="NM109 of the 2100A payer loop")
    subscriber: Member | None = None
    status: ResponseStatus
    plan_name: str | None = None
    coverage_from: date | None = None
    coverage_to: date | None = None
    benefits: list[Benefit] = []
    rejections: list[Rejection] = []
    currency: str = "USD"


class CostShare(Value):
    """What the member pays for one service type in one network, from the EB loops."""

    service_type: str
    in_network: bool = True
    copay: int | None = None
    coinsurance_bp: int | None = None
    deductible: int | None = None
    deductible_remaining: int | None = None
    out_of_pocket_max: int | None = None
    out_of_pocket_remaining: int | None = None
    covered: bool = True
    deductible_scope: str = Field(
        PLAN_LEVEL_SERVICE_TYPE,
        description="The service type the deductible figures were stated for: the type's own, or "
        "the plan's ('30') that every type without its own shares",
    )
    out_of_pocket_scope: str = Field(
        PLAN_LEVEL_SERVICE_TYPE, description="Likewise for the out-of-pocket maximum"
    )


class Party(Value):
    """An X12 party: who asks (the provider, 2100B), or who answers (the payer, 2100A)."""

    name: str
    identifier: str = Field(description="NM109: the provider's NPI or the payer's id")
    identifier_qualifier: str = Field("XX", description="NM108: XX NPI, PI payer id, FI tax id")


class EligibilityInquiry(Value):
    """What we ask a payer: is this member covered on this date, and for which service types."""

    trace_number: str = Field(
        description="TRN02 of the patient's loop (2000C, or 2000D for a dependent); the payer echoes it back"
    )
    control_number: int = Field(ge=1, le=999_999_999, description="ISA13/GS06 interchange control number")
    sender_id: str = Field(description="ISA06, our submitter id at the clearinghouse")
    receiver_id: str = Field(description="ISA08, the clearinghouse's id")
    payer: Party
    provider: Party
    subscriber: Member
    dependent: Member | None = Field(
        None,
        description="The patient, when not the subscriber (a child or spouse on the subscriber's plan): "
        "asked about in a 2000D dependent loop; its member_id is the subscriber's",
    )
    service_date: date
    service_types: list[str] = Field(default=[PLAN_LEVEL_SERVICE_TYPE], min_length=1, max_length=99)
    production: bool = Field(False, description="ISA15: P when true, T (test) otherwise")
