"""Inquiries written as X12 270 (005010X279A1)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.eligibility.adapters.x12_270 import build_270
from services.eligibility.domain.coverage import EligibilityInquiry, Member, Party
from shared.x12 import parse_interchange

CREATED_AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
INQUIRY = EligibilityInquiry(
    trace_number="7f3c2a9e",
    control_number=4711,
    sender_id="BILLINGPLATFORM",
    receiver_id="CLEARINGHOUSE",
    payer=Party(name="ACME HEALTH", identifier="60054", identifier_qualifier="PI"),
    provider=Party(name="EXAMPLE COMMUNITY CLINIC", identifier="1234567893"),
    subscriber=Member(
        member_id="W123456789",
        family_name="LOVELACE",
        given_name="ADA",
        date_of_birth=date(1985, 12, 10),
        group_number="GRP-77",
    ),
    service_date=date(2026, 11, 30),
    service_types=["30", "98", "UC"],
)
# Ada's son, on her plan: asked about under her member id.
BYRON = Member(
    member_id="W123456789",
    family_name="LOVELACE",
    given_name="BYRON",
    date_of_birth=date(2015, 3, 1),
)


def test_an_inquiry_is_a_complete_270_interchange() -> None:
    document = build_270(INQUIRY, created_at=CREATED_AT)

    assert document.split("~")[:-1] == [
        "ISA*00*          *00*          *ZZ*BILLINGPLATFORM*ZZ*CLEARINGHOUSE  *261127*0930*^*00501*000004711*0*T*:",
        "GS*HS*BILLINGPLATFORM*CLEARINGHOUSE*20261127*0930*4711*X*005010X279A1",
        "ST*270*0001*005010X279A1",
        "BHT*0022*13*7f3c2a9e*20261127*0930",
        "HL*1**20*1",
        "NM1*PR*2*ACME HEALTH*****PI*60054",
        "HL*2*1*21*1",
        "NM1*1P*2*EXAMPLE COMMUNITY CLINIC*****XX*1234567893",
        "HL*3*2*22*0",
        "TRN*1*7f3c2a9e*9123456789",
        "NM1*IL*1*LOVELACE*ADA****MI*W123456789",
        "REF*6P*GRP-77",
        "DMG*D8*19851210",
        "DTP*291*D8*20261130",
        "EQ*30",
        "EQ*98",
        "EQ*UC",
        "SE*16*0001",
        "GE*1*4711",
        "IEA*1*000004711",
    ]
    assert document.endswith("IEA*1*000004711~")


def test_a_dependent_is_asked_about_in_a_2000d_loop_under_the_subscriber() -> None:
    document = build_270(INQUIRY.model_copy(update={"dependent": BYRON}), created_at=CREATED_AT)

    assert document.split("~")[3:-3] == [
        "BHT*0022*13*7f3c2a9e*20261127*0930",
        "HL*1**20*1",
        "NM1*PR*2*ACME HEALTH*****PI*60054",
        "HL*2*1*21*1",
        "NM1*1P*2*EXAMPLE COMMUNITY CLINIC*****XX*1234567893",
        # 2000C: the subscriber, parent of the dependent level (HL04 1), asks nothing itself.
        "HL*3*2*22*1",
        "NM1*IL*1*LOVELACE*ADA****MI*W123456789",
        "REF*6P*GRP-77",
        "DMG*D8*19851210",
        # 2000D: the patient, child of HL 3, with the trace, the date of service and the EQs.
        "HL*4*3*23*0",
        "TRN*1*7f3c2a9e*9123456789",
        "NM1*03*1*LOVELACE*BYRON",
        "DMG*D8*20150301",
        "DTP*291*D8*20261130",
        "EQ*30",
        "EQ*98",
        "EQ*UC",
        "SE*19*0001",
    ]
    [transaction_set] = parse_interchange(document).transaction_sets
    assert len(transaction_set.segments) == 19


def test_what_we_do_not_know_about_a_dependent_is_left_out() -> None:
    dependent = Member(member_id="W123456789", family_name="LOVELACE")
    inquiry = INQUIRY.model_copy(
        update={
            "subscriber": Member(member_id="W123456789"),
            "dependent": dependent,
            "service_types": ["30"],
        }
    )

    segments = build_270(inquiry, created_at=CREATED_AT).split("~")

    assert segments[8:-3] == [
        "HL*3*2*22*1",
        "NM1*IL*1******MI*W123456789",
        "HL*4*3*23*0",
        "TRN*1*7f3c2a9e*9123456789",
        "NM1*03*1*LOVELACE",
        "DTP*291*D8*20261130",
        "EQ*30",
        "SE*14*0001",
    ]


def test_a_dependent_without_a_family_name_cannot_be_asked_about() -> None:
    dependent = Member(member_id="W123456789", given_name="BYRON")

    with pytest.raises(ValueError, match=r"dependent's family name \(NM103 of loop 2100D\)"):
        build_270(INQUIRY.model_copy(update={"dependent": dependent}), created_at=CREATED_AT)


def test_the_270_passes_the_envelope_checks_a_clearinghouse_makes() -> None:
    interchange = parse_interchange(build_270(INQUIRY, created_at=CREATED_AT))

    [transaction_set] = interchange.transaction_sets
    assert (
        transaction_set.id == "270" and transaction_set.implementation_reference == "005010X279A1"
    )
    assert (interchange.sender_id, interchange.receiver_id, interchange.control_number) == (
        "BILLINGPLATFORM",
        "CLEARINGHOUSE",
        "000004711",
    )


def test_what_we_do_not_know_about_the_subscriber_is_left_out() -> None:
    inquiry = INQUIRY.model_copy(
        update={"subscriber": Member(member_id="W123456789"), "service_types": ["30"]}
    )

    segments = build_270(inquiry, created_at=CREATED_AT).split("~")

    assert "NM1*IL*1******MI*W123456789" in segments
    assert not [s for s in segments if s.startswith(("REF", "DMG"))]
    assert [s for s in segments if s.startswith("EQ")] == ["EQ*30"]


def test_a_production_inquiry_is_marked_p_in_isa15() -> None:
    document = build_270(INQUIRY.model_copy(update={"production": True}), created_at=CREATED_AT)

    assert document.split("~")[0].endswith("*0*P*:")


def test_a_provider_identified_by_tax_id_originates_the_trace_with_its_ein() -> None:
    provider = Party(
        name="EXAMPLE COMMUNITY CLINIC", identifier="12-3456789", identifier_qualifier="FI"
    )

    document = build_270(INQUIRY.model_copy(update={"provider": provider}), created_at=CREATED_AT)

    assert "NM1*1P*2*EXAMPLE COMMUNITY CLINIC*****FI*12-3456789~" in document
    assert "TRN*1*7f3c2a9e*1123456789~" in document


def test_a_provider_without_npi_or_ein_cannot_originate_a_trace() -> None:
    provider = Party(
        name="EXAMPLE COMMUNITY CLINIC", identifier="PROV-9", identifier_qualifier="SV"
    )

    with pytest.raises(ValueError, match="TRN03 needs the provider's NPI"):
        build_270(INQUIRY.model_copy(update={"provider": provider}), created_at=CREATED_AT)


def test_a_value_containing_an_x12_separator_is_refused_not_sent_corrupted() -> None:
    subscriber = Member(member_id="W123*456", family_name="LOVELACE")

    with pytest.raises(ValueError, match=r"NM109 'W123\*456' contains '\*'"):
        build_270(INQUIRY.model_copy(update={"subscriber": subscriber}), created_at=CREATED_AT)
