"""Payers' X12 271 answers read into EligibilityResponse; anything else refused as Malformed271.

The documents in x12/ are written the way payers send them: with and without line breaks, with
segments this reader skips (PER, N3, N4, INS, LS/LE loops), a payer's own TRN next to our echoed
one, and component separator '>' as well as ':'."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.eligibility.adapters.x12_271 import Malformed271, parse_271
from services.eligibility.domain.coverage import (
    Benefit,
    BenefitKind,
    Member,
    Rejection,
    RejectionSource,
    ResponseStatus,
    TimePeriod,
)

DOCUMENTS = Path(__file__).parent / "x12"
ADA = Member(
    member_id="W123456789",
    family_name="LOVELACE",
    given_name="ADA",
    date_of_birth=date(1985, 12, 10),
    group_number="GRP-77",
)


def read(name: str) -> str:
    return (DOCUMENTS / name).read_text()


def answer(*body: str, transaction_set: str = "271", version: str = "005010X279A1") -> str:
    """A 271 interchange around ``body`` (the segments after BHT), with correct counts."""
    segments = ["BHT*0022*11*REF1*20261127*0930", *body]
    return (
        "ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*BILLINGPLATFORM*261127*0930*^*00501*000000001*0*T*:~"
        f"GS*HB*CLEARINGHOUSE*BILLINGPLATFORM*20261127*0930*1*X*{version}~"
        f"ST*{transaction_set}*0001*{version}~"
        + "".join(f"{s}~" for s in segments)
        + f"SE*{len(segments) + 2}*0001~GE*1*1~IEA*1*000000001~"
    )


PAYER = (
    "HL*1**20*1",
    "NM1*PR*2*ACME HEALTH*****PI*60054",
    "HL*2*1*21*1",
    "NM1*1P*2*EXAMPLE COMMUNITY CLINIC*****XX*1234567893",
)
SUBSCRIBER = (
    *PAYER,
    "HL*3*2*22*0",
    "TRN*2*REF1*9123456789",
    "NM1*IL*1*LOVELACE*ADA****MI*W123456789",
)


def test_an_active_ppo_answer_reads_into_coverage_benefits_and_accumulators() -> None:
    response = parse_271(read("active_ppo.x12"))

    assert response.status is ResponseStatus.ACTIVE
    assert (response.trace_number, response.payer_name, response.payer_identifier) == (
        "7f3c2a9e",
        "ACME HEALTH",
        "60054",
    )
    assert response.subscriber == ADA
    assert (response.plan_name, response.coverage_from, response.coverage_to) == (
        "GOLD PPO",
        date(2026, 1, 1),
        date(2026, 12, 31),
    )
    assert response.rejections == [] and response.currency == "USD"
    assert len(response.benefits) == 22
    active, deductible, deductible_remaining = response.benefits[:3]
    assert active == Benefit(
        kind=BenefitKind.ACTIVE,
        info_code="1",
        coverage_level="FAM",
        service_types=["30", "1", "33", "35", "47", "48", "50", "86", "88", "98", "AL", "MH", "UC"],
        insurance_type="PR",
        plan_description="GOLD PPO",
        messages=["COVERAGE IS SUBJECT TO THE TERMS OF THE PLAN"],
    )
    assert deductible == Benefit(
        kind=BenefitKind.DEDUCTIBLE,
        info_code="C",
        coverage_level="IND",
        service_types=["30"],
        time_period=TimePeriod.CALENDAR_YEAR,
        amount=150000,
        in_network=True,
    )
    assert (deductible_remaining.time_period, deductible_remaining.amount) == (
        TimePeriod.REMAINING,
        65000,
    )
    out_of_network = [
        (b.info_code, b.coverage_level, b.time_period, b.amount, b.percent_bp)
        for b in response.benefits
        if b.in_network is False
    ]
    assert out_of_network == [
        ("C", "IND", TimePeriod.CALENDAR_YEAR, 300000, None),
        ("C", "IND", TimePeriod.REMAINING, 300000, None),
        ("G", "IND", TimePeriod.CALENDAR_YEAR, 1000000, None),
        ("A", "IND", None, None, 4000),
    ]
    family = [
        (b.info_code, b.time_period, b.amount)
        for b in response.benefits
        if b.coverage_level == "FAM"
    ][1:]
    assert family == [
        ("C", TimePeriod.CALENDAR_YEAR, 300000),
        ("C", TimePeriod.REMAINING, 215000),
        ("G", TimePeriod.CALENDAR_YEAR, 1000000),
        ("G", TimePeriod.REMAINING, 830000),
    ]


def test_each_eb_loop_keeps_its_own_dates_messages_and_details() -> None:
    benefits = parse_271(read("active_ppo.x12")).benefits
    by_types = {
        (b.info_code, tuple(b.service_types)): b for b in benefits if b.in_network is not False
    }

    assert by_types["B", ("98",)].amount == 2500 and by_types["B", ("98",)].messages == [
        "PRIMARY CARE OFFICE VISIT"
    ]
    assert by_types["A", ("98",)].percent_bp == 0
    assert by_types["B", ("86",)].in_network is None  # W: the same in and out of network
    assert by_types["B", ("86",)].messages == ["COPAY WAIVED IF ADMITTED"]
    pharmacy = by_types["B", ("88",)]
    assert (pharmacy.amount, pharmacy.dates, pharmacy.messages) == (
        1000,
        {"348": date(2026, 3, 1)},
        ["GENERIC DRUGS"],
    )
    chiropractic = by_types["F", ("33",)]
    assert (chiropractic.kind, chiropractic.quantity, chiropractic.authorization_required) == (
        BenefitKind.LIMITATIONS,
        "VS:20",
        False,
    )
    primary_care = by_types["L", ("98",)]
    assert primary_care.kind is BenefitKind.OTHER and primary_care.messages == []  # LS..LE skipped
    procedure = by_types["B", ()]
    assert (procedure.procedure_code, procedure.amount) == ("HC:99213", 2500)


def test_line_breaks_between_segments_change_nothing() -> None:
    with_line_breaks = read("active_ppo.x12")
    assert "\n" in with_line_breaks

    assert parse_271(with_line_breaks.replace("\n", "")) == parse_271(with_line_breaks)


def test_an_inactive_answer_is_a_rejection_with_the_dates_coverage_ended() -> None:
    document = read("inactive.x12")
    assert "\n" not in document

    response = parse_271(document)

    assert response.status is ResponseStatus.INACTIVE
    assert response.rejections == [
        Rejection(
            source=RejectionSource.INACTIVE,
            code="inactive",
            description="Coverage inactive",
            loop="2110C",
        )
    ]
    assert (response.coverage_from, response.coverage_to) == (date(2024, 1, 1), date(2025, 12, 31))
    assert response.plan_name is None
    assert response.subscriber == Member(
        member_id="X987654321",
        family_name="BABBAGE",
        given_name="CHARLES",
        date_of_birth=date(1971, 12, 26),
        group_number="GRP-12",
    )
    [inactive] = response.benefits
    assert (inactive.kind, inactive.messages) == (
        BenefitKind.INACTIVE,
        ["COVERAGE TERMINATED 12/31/2025"],
    )


def test_a_subscriber_the_payer_cannot_find_is_rejected_with_aaa_75() -> None:
    response = parse_271(read("subscriber_not_found.x12"))

    assert response.status is ResponseStatus.REJECTED
    assert response.rejections == [
        Rejection(
            source=RejectionSource.AAA,
            code="75",
            description="Subscriber/Insured Not Found",
            follow_up_action="C",
            loop="2100C",
        )
    ]
    assert response.trace_number == "0b9e77aa"
    assert response.subscriber is not None and response.subscriber.member_id == "W000000000"
    assert response.benefits == []


def test_a_payer_unable_to_respond_rejects_in_2100a_without_a_subscriber_loop() -> None:
    response = parse_271(read("payer_unable_to_respond.x12"))

    assert response.status is ResponseStatus.REJECTED
    assert response.rejections == [
        Rejection(
            source=RejectionSource.AAA,
            code="42",
            description="Unable to Respond at Current Time",
            follow_up_action="R",
            loop="2100A",
        )
    ]
    assert (response.payer_name, response.subscriber, response.trace_number) == (
        "ACME HEALTH",
        None,
        None,
    )


def test_a_dependent_answer_reads_benefits_and_dates_from_the_dependent_loop() -> None:
    response = parse_271(read("dependent.x12"))

    assert response.status is ResponseStatus.ACTIVE
    assert response.subscriber == ADA
    assert (response.trace_number, response.plan_name) == ("9a8b7c6d", "GOLD PPO")
    assert (response.coverage_from, response.coverage_to) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
    )  # RD8 in 2100D
    assert [(b.info_code, b.service_types) for b in response.benefits] == [
        ("1", ["30", "1", "33", "35", "47", "48", "50", "86", "88", "98", "AL", "MH", "UC"]),
        ("A", ["30", "98", "UC"]),
        ("B", ["98", "UC"]),
        ("C", ["30"]),
        ("C", ["30"]),
        ("C", ["30"]),
        ("I", ["AL"]),
        ("R", ["88"]),
    ]
    assert response.benefits[-2].messages == ["VISION NOT COVERED UNDER THIS PLAN"]
    assert response.benefits[-1].kind is BenefitKind.OTHER_OR_ADDITIONAL_PAYER
    assert (
        response.payer_name == "ACME HEALTH"
    )  # the other payer's NM1 inside LS..LE is not the payer


def test_an_answer_for_a_dependent_in_2000d_reads_the_patients_loops_under_the_subscriber() -> None:
    document = read("dependent_answered_in_2000d.x12")
    assert "TRN*1*270000812" in document  # the payer's own trace, next to our echoed one

    response = parse_271(document)

    assert response.status is ResponseStatus.ACTIVE
    assert response.subscriber == ADA  # 2100C: the subscriber, not the patient
    assert (response.trace_number, response.plan_name) == ("5e6f7a8b", "GOLD PPO")
    # The dependent's own eligibility begin (356) and the plan's end (347), both in 2100D.
    assert (response.coverage_from, response.coverage_to) == (date(2026, 3, 15), date(2026, 12, 31))
    assert response.rejections == []
    assert [
        (b.info_code, b.coverage_level, b.time_period, b.amount, b.percent_bp, b.in_network)
        for b in response.benefits[1:]
    ] == [
        ("C", "IND", TimePeriod.CALENDAR_YEAR, 100000, None, True),
        ("C", "IND", TimePeriod.REMAINING, 40000, None, True),
        ("C", "FAM", TimePeriod.CALENDAR_YEAR, 300000, None, True),
        ("A", "IND", None, None, 2000, True),
        ("A", "IND", None, None, 4000, False),
        ("B", "IND", TimePeriod.VISIT, 0, None, True),
        ("B", "IND", TimePeriod.VISIT, 5000, None, True),
        ("L", "IND", None, None, None, None),
    ]
    assert response.benefits[0].messages == ["DEPENDENT ADDED TO THE PLAN 03/15/2026"]
    assert response.benefits[6].messages == ["WELL CHILD VISITS COVERED IN FULL"]
    assert response.benefits[-1].kind is BenefitKind.OTHER  # its 2120 provider (LS..LE) skipped


def test_a_dependent_the_payer_cannot_find_is_rejected_with_aaa_67_in_2100d() -> None:
    response = parse_271(read("dependent_not_found.x12"))

    assert response.status is ResponseStatus.REJECTED
    assert response.rejections == [
        Rejection(
            source=RejectionSource.AAA,
            code="67",
            description="Patient Not Found",
            follow_up_action="C",
            loop="2100D",
        )
    ]
    assert (response.subscriber, response.trace_number) == (ADA, "3c4d5e6f")
    assert response.benefits == [] and response.plan_name is None


def test_dates_in_the_active_loop_override_the_subscriber_loop_and_plan_dates() -> None:
    response = parse_271(
        answer(
            *SUBSCRIBER,
            "DTP*346*D8*20260101",
            "DTP*347*D8*20261231",
            "EB*1*IND*30**SILVER HMO",
            "DTP*356*D8*20260315",
            "DTP*291*RD8*20260101-20260930",
        )
    )

    assert (response.coverage_from, response.coverage_to) == (date(2026, 3, 15), date(2026, 9, 30))
    assert response.benefits[0].dates == {"356": date(2026, 3, 15), "291": date(2026, 1, 1)}


def test_the_plan_name_is_that_of_the_plan_level_active_loop() -> None:
    response = parse_271(
        answer(*SUBSCRIBER, "EB*1*IND*88**PHARMACY RIDER", "EB*1*IND*30*HM*SILVER HMO")
    )

    assert response.plan_name == "SILVER HMO"


def test_a_rejected_service_type_does_not_reject_active_coverage() -> None:
    response = parse_271(
        answer(*SUBSCRIBER, "EB*1*IND*30**SILVER HMO", "EB*1*IND*AL", "AAA*Y**T4*C", "AAA*N**ZZ")
    )

    assert response.status is ResponseStatus.ACTIVE
    assert response.rejections == [
        Rejection(
            source=RejectionSource.AAA,
            code="T4",
            description="Payer Name or Identifier Missing",
            follow_up_action="C",
            loop="2110C",
        ),
        Rejection(
            source=RejectionSource.AAA, code="ZZ", description="Reject reason ZZ", loop="2110C"
        ),
    ]


def test_a_provider_the_payer_does_not_know_is_rejected_in_2100b() -> None:
    response = parse_271(answer(*PAYER, "AAA*N**51*N"))

    assert response.status is ResponseStatus.REJECTED
    assert [(r.code, r.description, r.loop) for r in response.rejections] == [
        ("51", "Provider Not on File", "2100B")
    ]


def test_codes_without_a_name_of_their_own_are_kept_as_sent() -> None:
    [active, accumulator] = parse_271(
        answer(*SUBSCRIBER, "EB*3*IND*30", "EB*C*IND*30***24*500")
    ).benefits

    assert (active.kind, active.info_code) == (BenefitKind.ACTIVE_FULL_RISK_CAPITATION, "3")
    assert (accumulator.time_period, accumulator.amount) == (TimePeriod.OTHER, 50000)


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        (
            "<html>Service Unavailable</html>",
            "not a well-formed X12 interchange: .*starts with ISA",
        ),
        (
            answer(*SUBSCRIBER, "EB*1*IND*30").replace("SE*11*", "SE*12*"),
            "not a well-formed X12 interchange: SE at segment 13",
        ),
        (
            answer(*SUBSCRIBER, transaction_set="270"),
            "ST at segment 3: a '270' transaction set, not a 271",
        ),
        (
            answer(*SUBSCRIBER, version="004010X092A1"),
            "GS at segment 2: announces 'HB' '004010X092A1'",
        ),
        (
            answer("HL*1**20*1", "AAA*Y**42*R"),
            "HL at segment 5: the payer loop has no NM1 naming the payer",
        ),
        (answer("EB*1*IND*30"), "EB at segment 5: expected the payer's HL after BHT"),
        (answer(*PAYER), "no subscriber loop .* and no AAA saying why"),
        (answer(*SUBSCRIBER), "states neither the coverage .* nor why it cannot"),
        (
            answer(*SUBSCRIBER, "EB*B*IND*98***27*25.5.0"),
            "EB at segment 12: EB07 '25.5.0' is not an amount",
        ),
        (answer(*SUBSCRIBER, "EB*B*IND*98***27*25.505"), "EB07 '25.505' has fractions of a cent"),
        (
            answer(*SUBSCRIBER, "EB*A*IND*30*****20"),
            r"EB08 '20' is not a fraction from 0 to 1 \(0.2 is 20%\)",
        ),
        (
            answer(*SUBSCRIBER, "EB*A*IND*30*****0.12345"),
            "EB08 '0.12345' is finer than a basis point",
        ),
        (
            answer(*SUBSCRIBER, "EB*1*IND*30", "DTP*346*D8*20261331"),
            "DTP at segment 13: '20261331' is not a CCYYMMDD date \\(month must be in 1..12\\)",
        ),
        (
            answer(*SUBSCRIBER, "EB*1*IND*30", "DTP*346*DT*202601010000"),
            "DTP02 'DT' is not D8 or RD8",
        ),
        (
            answer(*SUBSCRIBER[:-1], "NM1*IL*1*LOVELACE*ADA", "EB*1*IND*30"),
            "NM1 at segment 11: the subscriber has no member id",
        ),
        (
            answer(*SUBSCRIBER[:-1], "NM1*03*1*LOVELACE*BYRON", "EB*1*IND*30"),
            "HL at segment 9: .* no NM1\\*IL",
        ),
        (
            answer(*PAYER, "HL*3*1*22*0", "NM1*IL*1*A****MI*1", "EB*1"),
            r"HL at segment 9: HL02 '1' must be an earlier HL of level 21",
        ),
        (answer(*PAYER, "HL*2*2*22*0"), r"HL at segment 9: HL01 '2' is missing or used twice"),
        (answer(*PAYER, "HL*3*2*24*0"), r"HL03 '24' is not a 271 level"),
        (
            answer(*SUBSCRIBER, "EB*1*IND*30", "HL*4*2*22*0"),
            r"one subscriber \(2000C\) loop; HL 22 at segments 9, 13",
        ),
        (answer(*SUBSCRIBER, "EB**IND*30"), "EB01 .* is missing"),
        (answer(*SUBSCRIBER, "AAA*N"), "AAA03 .* is missing"),
    ],
)
def test_anything_but_a_well_formed_271_is_refused_saying_what_and_where(
    document: str, complaint: str
) -> None:
    with pytest.raises(Malformed271, match=complaint):
        parse_271(document)


def test_an_interchange_acknowledgment_instead_of_a_271_is_refused_with_its_note() -> None:
    ta1 = (
        "ISA*00*          *00*          *ZZ*CLEARINGHOUSE  *ZZ*BILLINGPLATFORM*261127*0930*^*00501*000000001*0*T*:~"
        "TA1*000004711*261127*0930*R*006~IEA*0*000000001~"
    )

    with pytest.raises(
        Malformed271, match="no 271 but a TA1 acknowledgment \\(TA104 'R', note '006'\\)"
    ):
        parse_271(ta1)
