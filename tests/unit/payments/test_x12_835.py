"""Payers' 835 remittance advice: a hand-written one read into what it says and checked with pyx12,
broken ones refused naming where, and every 835 the clearinghouse simulator writes read back to
the same amounts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.payments.adapters.x12_835 import Invalid835, read_835, validate_835
from services.payments.domain.events import Adjustment, AdjustmentGroup, RemittedLine
from services.payments.domain.remittance import (
    ProviderAdjustment,
    RemittanceAdvice,
    balancing_problems,
)
from simulators.clearinghouse.remittance import (
    CasAdjustment,
    ClaimAdjudication,
    LineAdjudication,
    ProviderLevelAdjustment,
    Remittance,
    RemittancePayee,
    RemittancePayer,
    write_835,
)

FIXTURES = Path(__file__).parent / "fixtures"
TWO_CLAIMS = (FIXTURES / "835-two-claims.x12").read_text()
CO, PR = AdjustmentGroup.CONTRACTUAL_OBLIGATION, AdjustmentGroup.PATIENT_RESPONSIBILITY
FEE_SCHEDULE = (
    "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement."
)


def adjustment(group: AdjustmentGroup, reason: str, amount: int, description: str) -> Adjustment:
    return Adjustment(group=group, reason_code=reason, amount=amount, description=description)


def without(document: str, segment: str) -> str:
    """``document`` without ``segment`` (one line of the fixture), SE01 counting one fewer."""
    assert f"{segment}~\n" in document
    count = int(document.split("\nSE*")[1].split("*")[0])
    return document.replace(f"{segment}~\n", "").replace(f"\nSE*{count}*", f"\nSE*{count - 1}*")


# -- the hand-written 835 --------------------------------------------------------------------------


def test_the_hand_written_835_is_valid() -> None:
    assert validate_835(TWO_CLAIMS) == []


def test_the_payment_its_payer_and_payee_are_read_from_the_header() -> None:
    (advice,) = read_835(TWO_CLAIMS)

    assert advice.control_number == "0001"
    assert (advice.handling, advice.payment_amount, advice.credit_debit) == ("I", 22125, "C")
    assert (advice.payment_method, advice.payment_date) == ("ACH", date(2026, 12, 15))
    assert (advice.trace_number, advice.originator_id) == ("0012345678", "1512345678")
    assert (advice.payer_name, advice.payer_identifier) == ("ACME HEALTH PLAN", "60054")
    assert (advice.payee_name, advice.payee_npi) == ("EXAMPLE COMMUNITY CLINIC", "1234567893")
    assert advice.currency == "USD"
    # interest paid with the claims: a negative PLB adds to the payment
    assert advice.provider_adjustments == [
        ProviderAdjustment(reason_code="L6", reference="PAY-2026-000001", amount=-125)
    ]


def test_a_paid_claim_has_its_contractual_and_coinsurance_adjustments_on_its_lines() -> None:
    first = read_835(TWO_CLAIMS)[0].claims[0]

    assert (first.claim_reference, first.claim_status, first.payer_claim_number) == (
        "PAY-2026-000001",
        "1",
        "ACME2026110001",
    )
    assert (first.charge, first.paid, first.patient_responsibility) == (18150, 10000, 2500)
    assert (first.patient_name, first.member_id) == ("LOVELACE, ADA", "W123456789")
    assert first.claim_adjustments == [] and first.remark_codes == []
    assert not first.denied and first.denied_lines() == []
    assert first.lines == [
        RemittedLine(
            line_reference="INV-1-L1",
            procedure_code="HC:99213:25",
            charge=15000,
            paid=8000,
            allowed=10000,
            units="1",
            service_date=date(2026, 11, 20),
            adjustments=[
                adjustment(CO, "45", 5000, FEE_SCHEDULE),
                adjustment(PR, "2", 2000, "Coinsurance Amount"),
            ],
        ),
        RemittedLine(
            line_reference="INV-1-L2",
            procedure_code="HC:90686",
            charge=3150,
            paid=2000,
            allowed=2500,
            units="1",
            service_date=date(2026, 11, 20),
            adjustments=[
                adjustment(CO, "45", 650, FEE_SCHEDULE),
                adjustment(PR, "2", 500, "Coinsurance Amount"),
            ],
        ),
    ]


def test_a_partly_denied_claim_names_the_denied_line_and_its_remark() -> None:
    second = read_835(TWO_CLAIMS)[0].claims[1]

    assert (second.charge, second.paid, second.patient_responsibility) == (26000, 12000, 9000)
    # the patient is the subscriber's son: NM1*QC has no id, NM1*IL carries the member id
    assert (second.patient_name, second.member_id) == ("LOVELACE, BYRON", "W123456789")
    assert second.remark_codes == ["MA01"]
    visit, ecg = second.lines
    # one CAS with two reasons: deductible and copay
    assert [(a.group, a.reason_code, a.amount) for a in visit.adjustments] == [
        (CO, "45", 5000),
        (PR, "1", 1000),
        (PR, "3", 2000),
    ]
    assert second.denied_lines() == [ecg]
    assert (ecg.line_reference, ecg.procedure_code, ecg.paid, ecg.allowed) == (
        "INV-2-L2",
        "HC:93000",
        0,
        None,
    )
    assert ecg.adjustments == [
        adjustment(
            PR,
            "204",
            6000,
            "This service/equipment/drug is not covered under the patient's current benefit plan",
        )
    ]
    assert ecg.remark_codes == ["N130"]


def test_the_hand_written_835_balances() -> None:
    (advice,) = read_835(TWO_CLAIMS)

    assert balancing_problems(advice) == []


# -- broken 835s -----------------------------------------------------------------------------------


def test_a_missing_clp_is_found_where_the_claims_segments_stand_out_of_place() -> None:
    document = without(TWO_CLAIMS, "CLP*PAY-2026-000002*1*260*120*90*12*ACME2026110002*11*1")

    problems = validate_835(document)

    assert problems
    assert (problems[0].segment, problems[0].position, problems[0].loop) == ("NM1", 34, "2110")
    assert "NM1*QC not found" in problems[0].message
    with pytest.raises(Invalid835, match="NM1 at segment 34: not a segment of a service line"):
        read_835(document)


def test_a_wrong_guide_version_in_gs08_is_refused_as_not_an_835() -> None:
    document = TWO_CLAIMS.replace("*X*005010X221A1~", "*X*005010X222A1~")

    assert [(p.segment, p.element, p.value, p.code) for p in validate_835(document)] == [
        ("GS", "GS08", "005010X222A1", "not-835")
    ]
    with pytest.raises(Invalid835, match="GS at segment 2: GS08 is '005010X222A1'"):
        read_835(document)


def test_an_amount_that_is_not_a_number_is_named_by_element() -> None:
    document = TWO_CLAIMS.replace(
        "CLP*PAY-2026-000001*1*181.5*100*", "CLP*PAY-2026-000001*1*181.5*1OO*"
    )

    (problem,) = validate_835(document)

    assert (problem.segment, problem.position, problem.loop, problem.element, problem.value) == (
        "CLP",
        18,
        "2100",
        "CLP04",
        "1OO",
    )
    with pytest.raises(Invalid835, match="CLP at segment 18: CLP04: '1OO' is not an X12 decimal"):
        read_835(document)


def test_an_amount_in_fractions_of_a_cent_is_refused_not_rounded() -> None:
    document = TWO_CLAIMS.replace("SVC*HC:90686*31.5*20**1", "SVC*HC:90686*31.5*20.005**1")

    with pytest.raises(Invalid835, match="SVC at segment 28: SVC03 '20.005' is not a whole"):
        read_835(document)
    # trailing zeros are still whole cents
    (advice,) = read_835(TWO_CLAIMS.replace("*181.5*100*25*", "*181.500*100.00*25*"))
    assert advice.claims[0].charge == 18150


def test_a_missing_mandatory_segment_is_named_with_its_loop() -> None:
    document = without(TWO_CLAIMS, "PER*BL*EDI SUPPORT*TE*8005550199*EM*edi@acmehealth.example")

    (problem,) = validate_835(document)

    assert (problem.segment, problem.loop, problem.code) == ("PER", "1000A", "3")
    assert 'Mandatory segment "Payer Technical Contact Information"' in problem.message


def test_what_is_not_an_835_is_refused_by_the_reader() -> None:
    claim = (FIXTURES / "837p-ada.x12").read_text()
    with pytest.raises(Invalid835, match="GS at segment 2: GS01 is 'HC'"):
        read_835(claim)
    with pytest.raises(Invalid835, match="an interchange starts with ISA") as raised:
        read_835("Dear clinic, we paid 221.25.")
    assert raised.value.position == 1
    (problem,) = validate_835("Dear clinic, we paid 221.25.")
    assert (problem.segment, problem.code) == ("ISA", "not-x12")


def test_an_advice_without_claims_or_payer_is_refused_naming_its_st() -> None:
    document = TWO_CLAIMS.replace("N1*PR*ACME HEALTH PLAN", "N1*XX*ACME HEALTH PLAN")
    with pytest.raises(Invalid835, match=r"ST at segment 3: the advice names no payer \(N1\*PR"):
        read_835(document)


def test_an_advice_that_does_not_add_up_is_caught_by_balancing() -> None:
    # the payer says it paid 85.00 for the office visit, its adjustments say 80.00
    document = TWO_CLAIMS.replace("SVC*HC:99213:25*150*80**1", "SVC*HC:99213:25*150*85**1")

    (advice,) = read_835(document)

    assert validate_835(document) == []  # pyx12 does not add up amounts
    assert balancing_problems(advice) == [
        "claim PAY-2026-000001 line 1: charge 15000 is not paid 8500 + adjustments 7000"
    ]


# -- the simulator's 835s, read back ---------------------------------------------------------------

PAYER = RemittancePayer(name="ACME HEALTH", identifier="60054")
PAYEE = RemittancePayee(name="EXAMPLE COMMUNITY CLINIC", npi="1234567893")
CREATED_AT = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)


def written(remittance: Remittance) -> str:
    return write_835(
        remittance,
        sender_id="CLEARINGHOUSE",
        receiver_id="BILLINGPLATFORM",
        control_number=42,
        created_at=CREATED_AT,
    )


def remittance(*claims: ClaimAdjudication, **changes: object) -> Remittance:
    fields: dict[str, object] = {
        "payer": PAYER,
        "payee": PAYEE,
        "trace_number": "EFT-0001",
        "payment_date": date(2026, 12, 15),
        "method": "ACH",
        "claims": claims,
    }
    return Remittance(**{**fields, **changes})  # type: ignore[arg-type]


def line(
    reference: str, charge: int, paid: int, *adjustments: CasAdjustment, **more: object
) -> LineAdjudication:
    return LineAdjudication(
        procedure_code="HC:99213:25",
        charge=charge,
        paid=paid,
        line_reference=reference,
        service_date=date(2026, 11, 20),
        adjustments=adjustments,
        **more,  # type: ignore[arg-type]
    )


def adjudication(reference: str, *lines: LineAdjudication, **more: object) -> ClaimAdjudication:
    fields: dict[str, object] = {
        "claim_reference": reference,
        "payer_claim_number": f"ACME-{reference}",
        "patient_name": ("LOVELACE", "ADA"),
        "member_id": "W123456789",
        "lines": lines,
    }
    return ClaimAdjudication(**{**fields, **more})  # type: ignore[arg-type]


def reasons(adjustments: Sequence[Adjustment | CasAdjustment]) -> list[tuple[str, str, int]]:
    """The adjustments in any order: CAS segments group them by group code."""
    return sorted((str(a.group), a.reason_code, a.amount) for a in adjustments)


def assert_reads_back(remittance: Remittance) -> RemittanceAdvice:
    """The 835 is valid, balances, and states what was written."""
    document = written(remittance)
    assert validate_835(document) == []
    (advice,) = read_835(document)
    assert balancing_problems(advice) == []
    assert advice.payment_amount == remittance.payment_amount
    assert advice.payment_method == (remittance.method if remittance.payment_amount else "NON")
    assert advice.trace_number == remittance.trace_number
    for claim, written_claim in zip(advice.claims, remittance.claims, strict=True):
        assert (claim.claim_reference, claim.claim_status) == (
            written_claim.claim_reference,
            written_claim.status,
        )
        assert (claim.charge, claim.paid, claim.patient_responsibility) == (
            written_claim.charge,
            written_claim.paid,
            written_claim.patient_responsibility,
        )
        assert reasons(claim.claim_adjustments) == reasons(written_claim.claim_adjustments)
        for read, wrote in zip(claim.lines, written_claim.lines, strict=True):
            assert (read.line_reference, read.procedure_code, read.charge, read.paid) == (
                wrote.line_reference,
                wrote.procedure_code,
                wrote.charge,
                wrote.paid,
            )
            assert (read.allowed, read.units, read.service_date) == (
                wrote.allowed,
                wrote.units,
                wrote.service_date,
            )
            assert reasons(read.adjustments) == reasons(wrote.adjustments)
            assert read.remark_codes == list(wrote.remark_codes)
    assert [(p.reason_code, p.reference, p.amount) for p in advice.provider_adjustments] == [
        (p.reason_code, p.reference, p.amount) for p in remittance.provider_adjustments
    ]
    return advice


def test_the_simulators_835_pays_a_claim_and_denies_another() -> None:
    paid = adjudication(
        "PAY-2026-000001",
        line(
            "L1",
            15000,
            8000,
            CasAdjustment("CO", "45", 5000),
            CasAdjustment("PR", "2", 2000),
            allowed=10000,
        ),
        line("L2", 3150, 3150),
        claim_adjustments=(CasAdjustment("OA", "23", 500),),
        remark_codes=("MA01",),
    )
    denied = adjudication(
        "PAY-2026-000002",
        line("L1", 6000, 0, CasAdjustment("CO", "50", 6000), remark_codes=("N130", "M25")),
        status="4",
        patient_name=("LOVELACE", "BYRON"),
        subscriber_name=("LOVELACE", "ADA"),
    )
    interest = ProviderLevelAdjustment("L6", -125, "PAY-2026-000001")

    advice = assert_reads_back(remittance(paid, denied, provider_adjustments=(interest,)))

    assert advice.payment_amount == 8000 + 3150 - 500 + 125
    first, second = advice.claims
    assert first.remark_codes == ["MA01"] and first.patient_responsibility == 2000
    assert second.denied and second.patient_name == "LOVELACE, BYRON"
    assert second.member_id == "W123456789"


def test_nothing_to_pay_is_a_notification_without_payment() -> None:
    denied = adjudication(
        "PAY-2026-000003", line("L1", 6000, 0, CasAdjustment("CO", "29", 6000)), status="4"
    )

    advice = assert_reads_back(remittance(denied, method="CHK"))

    assert (advice.handling, advice.payment_method, advice.payment_amount) == ("H", "NON", 0)


def test_more_than_six_reasons_of_a_group_take_two_cas_segments() -> None:
    reasons = [CasAdjustment("PR", str(reason), 100) for reason in range(1, 9)]
    document = written(remittance(adjudication("PAY-1", line("L1", 1000, 200, *reasons))))

    assert document.count("CAS*PR*") == 2
    assert validate_835(document) == []
    assert len(read_835(document)[0].claims[0].lines[0].adjustments) == 8


def test_the_writer_refuses_a_line_that_does_not_balance() -> None:
    with pytest.raises(ValueError, match="charge 1000 is not paid 900 \\+ adjustments 50"):
        line("L1", 1000, 900, CasAdjustment("CO", "45", 50))


GROUPS = st.sampled_from(["CO", "PR", "OA", "PI"])
REASONS = st.sampled_from(["1", "2", "3", "45", "50", "96", "97", "204", "253"])


@st.composite
def adjudicated_lines(draw: st.DrawFn, reference: str) -> LineAdjudication:
    charge = draw(st.integers(min_value=0, max_value=10_000_000))
    shares = draw(st.lists(st.integers(min_value=0, max_value=charge), max_size=7))
    adjustments, left = [], charge
    for share in shares:
        amount = min(share, left)
        left -= amount
        adjustments.append(CasAdjustment(draw(GROUPS), draw(REASONS), amount))
    modifiers = draw(st.lists(st.sampled_from(["25", "59", "GT", "SL"]), max_size=4))
    return LineAdjudication(
        procedure_code=":".join(
            ["HC", draw(st.sampled_from(["99213", "90686", "G0008"])), *modifiers]
        ),
        charge=charge,
        paid=left,
        line_reference=reference,
        allowed=draw(st.none() | st.just(left)),
        units=draw(st.sampled_from(["1", "2", "0.5"])),
        service_date=draw(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31))),
        adjustments=tuple(adjustments),
        remark_codes=tuple(draw(st.lists(st.sampled_from(["N130", "M15", "N4"]), max_size=2))),
    )


@st.composite
def remittances(draw: st.DrawFn) -> Remittance:
    claims = []
    for number in range(1, draw(st.integers(min_value=1, max_value=3)) + 1):
        count = draw(st.integers(min_value=1, max_value=4))
        lines = [draw(adjudicated_lines(f"C{number}-L{n}")) for n in range(1, count + 1)]
        claims.append(adjudication(f"PAY-2026-{number:06d}", *lines))
    paid = sum(claim.paid for claim in claims)
    recouped = draw(st.integers(min_value=-5000, max_value=paid))
    provider = (ProviderLevelAdjustment("WO", recouped, "OVERPAID-1"),) if recouped else ()
    return remittance(
        *claims,
        method=draw(st.sampled_from(["ACH", "CHK"])),
        provider_adjustments=provider,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(remittances())
def test_any_remittance_the_simulator_writes_is_valid_and_reads_back_the_same(
    remittance: Remittance,
) -> None:
    assert_reads_back(remittance)
