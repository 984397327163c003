"""Professional claims written as X12 837P (005010X222A1), read back, and checked with pyx12."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from services.invoicing.adapters.claim_validation import (
    InvalidClaim,
    ensure_valid_837p,
    validate_837p,
)
from services.invoicing.adapters.x12_837 import (
    ClaimLineSummary,
    ClaimSummary,
    build_837p,
    read_claim_summary,
)
from services.invoicing.domain.claim import (
    BillingProvider,
    ClaimAddress,
    ClaimAdjustment,
    ClaimPatient,
    ClaimPayer,
    ClaimPerson,
    ClaimSubscriber,
    OtherPayer,
    ProfessionalClaim,
    RenderingProvider,
    ServiceLine,
)

Model = TypeVar("Model", bound=BaseModel)

SERVICE_DATE = date(2026, 11, 20)
CLINIC = BillingProvider(
    name="EXAMPLE COMMUNITY CLINIC",
    npi="1234567893",
    tax_id="12-3456789",
    address=ClaimAddress(
        lines=["123 MAIN ST", "SUITE 4"], city="SPRINGFIELD", state="IL", postal_code="62701-1234"
    ),
    contact_name="BILLING OFFICE",
    contact_phone="(217) 555-0100",
    contact_email="billing@example.org",
)
HOME = ClaimAddress(lines=["9 ELM ST"], city="SPRINGFIELD", state="IL", postal_code="62704")
ADA = ClaimPerson(
    given_name="ADA",
    family_name="LOVELACE",
    date_of_birth=date(1985, 12, 10),
    gender="F",
    address=HOME,
)
BYRON = ClaimPerson(
    given_name="BYRON",
    family_name="LOVELACE",
    date_of_birth=date(2015, 3, 1),
    gender="M",
    address=HOME,
)
ACME = ClaimPayer(name="ACME HEALTH", payer_identifier="60054", responsibility="P")
OFFICE_VISIT = ServiceLine(
    line_reference="INV-1-L1",
    procedure_code="99213",
    modifiers=["25"],
    charge=12500,
    units=1,
    service_date=SERVICE_DATE,
    diagnosis_pointers=[1, 2],
)
FLU_SHOT_ADMINISTRATION = ServiceLine(
    line_reference="INV-1-L2",
    procedure_code="G0008",
    charge=2550,
    units=1,
    service_date=SERVICE_DATE,
    diagnosis_pointers=[2],
)
FLU_VACCINE = ServiceLine(
    line_reference="INV-1-L3",
    procedure_code="90686",
    modifiers=["SL"],
    charge=3100,
    units=1,
    service_date=SERVICE_DATE,
    diagnosis_pointers=[2],
)
# Ada saw Dr Hopper for a cold and had this season's flu shot: billed to her plan at ACME.
PRIMARY = ProfessionalClaim(
    control_number=4711,
    sender_id="BILLINGPLATFORM",
    sender_name="BILLING PLATFORM",
    receiver_id="CLEARINGHOUSE",
    receiver_name="CLEARINGHOUSE INC",
    created_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
    billing_provider=CLINIC,
    subscriber=ClaimSubscriber(person=ADA, member_id="W123456789", group_number="GRP-77"),
    payer=ACME,
    claim_reference="INV-2026-0001",
    diagnoses=["J06.9", "Z23"],
    rendering_provider=RenderingProvider(
        given_name="GRACE", family_name="HOPPER", npi="1245319599"
    ),
    lines=[OFFICE_VISIT, FLU_SHOT_ADMINISTRATION, FLU_VACCINE],
)
BOLT = ClaimPayer(
    name="BOLT MUTUAL", payer_identifier="BM001", responsibility="S", claim_filing_indicator="12"
)
# ACME paid 120.00 of 181.50: 30.00 over its fee schedule, 31.50 coinsurance; Bolt is billed next.
ACME_PAID = OtherPayer(
    payer=ACME,
    member_id="W123456789",
    group_number="GRP-77",
    paid_amount=12000,
    adjustments=[
        ClaimAdjustment(group="CO", reason="45", amount=3000),
        ClaimAdjustment(group="PR", reason="2", amount=3150),
    ],
    adjudication_date=date(2026, 12, 10),
)


def changed(value: Model, **changes: Any) -> Model:
    """``value`` with ``changes``, validated again (``model_copy`` would skip the validators)."""
    return type(value).model_validate({**dict(value), **changes})


def claim(**changes: Any) -> ProfessionalClaim:
    return changed(PRIMARY, **changes)


# Byron, on his mother's plan.
DEPENDENT = claim(patient=ClaimPatient(person=BYRON, relationship="19"), claim_reference="INV-2")
SECONDARY = claim(payer=BOLT, other_payers=[ACME_PAID], claim_reference="INV-3")


def segments(document: str) -> list[str]:
    return document.split("~")[:-1]


def test_a_primary_claim_is_a_complete_837p_interchange() -> None:
    document = build_837p(PRIMARY)

    assert segments(document) == [
        (
            "ISA*00*          *00*          *ZZ*BILLINGPLATFORM*ZZ*CLEARINGHOUSE  "
            "*261127*0930*^*00501*000004711*0*T*:"
        ),
        "GS*HC*BILLINGPLATFORM*CLEARINGHOUSE*20261127*0930*4711*X*005010X222A1",
        "ST*837*0001*005010X222A1",
        "BHT*0019*00*INV-2026-0001*20261127*0930*CH",
        "NM1*41*2*BILLING PLATFORM*****46*BILLINGPLATFORM",
        "PER*IC*BILLING OFFICE*TE*2175550100*EM*billing@example.org",
        "NM1*40*2*CLEARINGHOUSE INC*****46*CLEARINGHOUSE",
        "HL*1**20*1",
        "NM1*85*2*EXAMPLE COMMUNITY CLINIC*****XX*1234567893",
        "N3*123 MAIN ST*SUITE 4",
        "N4*SPRINGFIELD*IL*627011234",
        "REF*EI*123456789",
        "HL*2*1*22*0",
        "SBR*P*18*GRP-77******CI",
        "NM1*IL*1*LOVELACE*ADA****MI*W123456789",
        "N3*9 ELM ST",
        "N4*SPRINGFIELD*IL*62704",
        "DMG*D8*19851210*F",
        "NM1*PR*2*ACME HEALTH*****PI*60054",
        "CLM*INV-2026-0001*181.5***11:B:1*Y*A*Y*Y",
        "HI*ABK:J069*ABF:Z23",
        "NM1*82*1*HOPPER*GRACE****XX*1245319599",
        "LX*1",
        "SV1*HC:99213:25*125*UN*1***1:2",
        "DTP*472*D8*20261120",
        "REF*6R*INV-1-L1",
        "LX*2",
        "SV1*HC:G0008*25.5*UN*1***2",
        "DTP*472*D8*20261120",
        "REF*6R*INV-1-L2",
        "LX*3",
        "SV1*HC:90686:SL*31*UN*1***2",
        "DTP*472*D8*20261120",
        "REF*6R*INV-1-L3",
        "SE*33*0001",
        "GE*1*4711",
        "IEA*1*000004711",
    ]
    assert validate_837p(document) == []


def test_a_dependent_patient_gets_a_2000c_level_under_the_subscriber() -> None:
    document = build_837p(DEPENDENT)

    assert validate_837p(document) == []
    written = segments(document)
    subscriber_level = written.index("HL*2*1*22*1")  # HL04 1: a patient level follows
    assert written[subscriber_level : subscriber_level + 8] == [
        "HL*2*1*22*1",
        "SBR*P**GRP-77******CI",  # SBR02 empty: the relationship is in PAT01
        "NM1*IL*1*LOVELACE*ADA****MI*W123456789",
        "N3*9 ELM ST",
        "N4*SPRINGFIELD*IL*62704",
        "DMG*D8*19851210*F",
        "NM1*PR*2*ACME HEALTH*****PI*60054",
        "HL*3*2*23*0",
    ]
    assert written[subscriber_level + 8 : subscriber_level + 13] == [
        "PAT*19",
        "NM1*QC*1*LOVELACE*BYRON",
        "N3*9 ELM ST",
        "N4*SPRINGFIELD*IL*62704",
        "DMG*D8*20150301*M",
    ]


def test_a_secondary_claim_says_what_the_primary_paid_and_why_not_more() -> None:
    document = build_837p(SECONDARY)

    assert validate_837p(document) == []
    written = segments(document)
    assert "SBR*S*18*GRP-77******12" in written
    assert "NM1*PR*2*BOLT MUTUAL*****PI*BM001" in written
    other_payer = written.index("SBR*P*18*GRP-77******CI")
    assert written[other_payer : other_payer + 8] == [
        "SBR*P*18*GRP-77******CI",
        "CAS*CO*45*30",
        "CAS*PR*2*31.5",
        "AMT*D*120",
        "OI***Y*P**Y",
        "NM1*IL*1*LOVELACE*ADA****MI*W123456789",
        "NM1*PR*2*ACME HEALTH*****PI*60054",
        "DTP*573*D8*20261210",
    ]
    assert written[other_payer + 8] == "LX*1"


def test_the_claim_total_is_the_sum_of_its_lines_in_cents() -> None:
    lines = [
        changed(OFFICE_VISIT, charge=5),
        changed(FLU_VACCINE, charge=1999, units=Decimal("1.50")),
    ]

    written = segments(build_837p(claim(lines=lines)))

    assert PRIMARY.total_charge == 18150
    assert "CLM*INV-2026-0001*20.04***11:B:1*Y*A*Y*Y" in written
    assert [s for s in written if s.startswith("SV1*")] == [
        "SV1*HC:99213:25*0.05*UN*1***1:2",
        "SV1*HC:90686:SL*19.99*UN*1.5***2",
    ]


def test_the_summary_reads_back_references_and_amounts() -> None:
    assert read_claim_summary(build_837p(SECONDARY)) == ClaimSummary(
        control_number=4711,
        claim_reference="INV-3",
        total_charge=18150,
        payer_identifier="BM001",  # the payer billed, not the one in 2330B
        lines=[
            ClaimLineSummary(line_reference="INV-1-L1", procedure_code="99213", charge=12500),
            ClaimLineSummary(line_reference="INV-1-L2", procedure_code="G0008", charge=2550),
            ClaimLineSummary(line_reference="INV-1-L3", procedure_code="90686", charge=3100),
        ],
    )


def test_a_line_whose_place_of_service_differs_from_the_claims_says_so() -> None:
    telehealth = changed(FLU_VACCINE, place_of_service="02")
    document = build_837p(claim(lines=[OFFICE_VISIT, telehealth]))

    assert "SV1*HC:90686:SL*31*UN*1*02**2" in segments(document)
    assert validate_837p(document) == []


def test_a_rendering_provider_who_is_the_billing_provider_is_not_repeated() -> None:
    solo = RenderingProvider(given_name="GRACE", family_name="HOPPER", npi=CLINIC.npi)
    document = build_837p(claim(rendering_provider=solo))

    assert not [s for s in segments(document) if s.startswith("NM1*82*")]
    assert validate_837p(document) == []


# -- what validation catches -----------------------------------------------------------------------


def without(document: str, segment: str) -> str:
    assert f"~{segment}~" in document
    return document.replace(f"~{segment}~", "~", 1)


def test_a_claim_without_diagnoses_is_refused_at_the_missing_hi() -> None:
    document = without(build_837p(PRIMARY), "HI*ABK:J069*ABF:Z23")

    problems = validate_837p(document)

    missing = [p for p in problems if p.segment == "HI"]
    assert len(missing) == 1, problems
    assert (missing[0].loop, missing[0].code) == ("2300", "3")
    assert "Mandatory segment" in missing[0].message
    assert str(missing[0]).startswith("HI at segment 21 in loop 2300: Mandatory segment")


def test_a_broken_document_leaves_no_trace_on_the_next_verdict() -> None:
    """pyx12's parsed maps are kept between documents: each verdict must be the document's own,
    in one thread and across threads."""
    valid = build_837p(PRIMARY)
    broken = [
        without(valid, "HI*ABK:J069*ABF:Z23"),
        valid.replace("SE*33*0001", "SE*31*0001"),
        valid.replace("N4*SPRINGFIELD*IL*62704", "N4*SPRINGFIELD*QQ*62704"),
        valid.replace("GE*1*4711", "GE*X*4711"),
    ]
    verdicts = [validate_837p(document) for document in [valid, *broken, valid]]
    assert verdicts[0] == verdicts[-1] == []
    assert all(verdicts[1:-1])
    with ThreadPoolExecutor(max_workers=4) as threads:
        again = list(threads.map(validate_837p, [valid, *broken, valid] * 3))
    assert [bool(v) for v in again] == [bool(v) for v in verdicts] * 3


def test_a_wrong_segment_count_is_blamed_on_se() -> None:
    document = build_837p(PRIMARY).replace("SE*33*0001", "SE*31*0001")

    problems = validate_837p(document)

    assert [(p.segment, p.position, p.code) for p in problems] == [("SE", 35, "4")]
    assert "SE count of 31" in problems[0].message


def test_element_errors_name_the_element_and_its_value() -> None:
    document = build_837p(PRIMARY).replace("N4*SPRINGFIELD*IL*62704", "N4*SPRINGFIELD*QQ*62704")

    (problem,) = validate_837p(document)

    assert (problem.segment, problem.position, problem.loop, problem.element, problem.value) == (
        "N4",
        17,
        "2010BA",
        "N402",
        "QQ",
    )


def test_element_errors_in_the_envelope_are_reported_too() -> None:
    document = build_837p(PRIMARY).replace("*20261127*0930*4711*", "*20261399*0930*4711*")

    (problem,) = validate_837p(document)

    assert (problem.segment, problem.position, problem.element, problem.value) == (
        "GS",
        2,
        "GS04",
        "20261399",
    )


ELIGIBILITY_INQUIRY = (
    "ISA*00*          *00*          *ZZ*BILLINGPLATFORM*ZZ*CLEARINGHOUSE  *261127*0930*^*00501"
    "*000004711*0*T*:~"
    "GS*HS*BILLINGPLATFORM*CLEARINGHOUSE*20261127*0930*4711*X*005010X279A1~"
    "ST*270*0001*005010X279A1~"
    "BHT*0022*13*7f3c2a9e*20261127*0930~"
    "HL*1**20*1~NM1*PR*2*ACME HEALTH*****PI*60054~"
    "HL*2*1*21*1~NM1*1P*2*EXAMPLE COMMUNITY CLINIC*****XX*1234567893~"
    "HL*3*2*22*0~TRN*1*7f3c2a9e*9123456789~NM1*IL*1*LOVELACE*ADA****MI*W123456789~"
    "DTP*291*D8*20261130~EQ*30~"
    "SE*12*0001~GE*1*4711~IEA*1*000004711~"
)


def test_a_document_that_is_not_an_837p_is_refused_as_such() -> None:
    problems = validate_837p(ELIGIBILITY_INQUIRY)

    assert [(p.segment, p.element, p.value, p.code) for p in problems] == [
        ("GS", "GS01", "HS", "not-837p"),
        ("GS", "GS08", "005010X279A1", "not-837p"),
        ("ST", "ST01", "270", "not-837p"),
        ("ST", "ST03", "005010X279A1", "not-837p"),
    ]


def test_text_that_is_not_x12_is_refused() -> None:
    (problem,) = validate_837p("Dear ACME, please pay 181.50 for Ada's visit.")

    assert (problem.segment, problem.code) == ("ISA", "not-x12")


def test_an_envelope_too_broken_for_pyx12_is_refused_with_what_is_broken() -> None:
    # pyx12's reader fails with an IndexError on a transaction set without its ST
    document = without(build_837p(PRIMARY), "ST*837*0001*005010X222A1")

    (problem,) = validate_837p(document)

    assert (problem.segment, problem.position, problem.code) == ("BHT", 3, "envelope")
    assert problem.message == "expected ST or GE here"


def test_ensure_valid_raises_with_every_problem_listed() -> None:
    document = without(build_837p(PRIMARY), "HI*ABK:J069*ABF:Z23")

    with pytest.raises(InvalidClaim) as raised:
        ensure_valid_837p(document)

    assert raised.value.problems == validate_837p(document)
    assert "HI at segment 21 in loop 2300" in str(raised.value)
    ensure_valid_837p(build_837p(PRIMARY))  # a valid claim passes silently


class Remembering(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_pyx12_keeps_its_findings_out_of_the_application_log(
    capsys: pytest.CaptureFixture[str],
) -> None:
    application_log = Remembering()
    logging.getLogger().addHandler(application_log)
    try:
        assert validate_837p(without(build_837p(PRIMARY), "HI*ABK:J069*ABF:Z23"))
    finally:
        logging.getLogger().removeHandler(application_log)

    assert [r.getMessage() for r in application_log.records if r.name.startswith("pyx12")] == []
    assert capsys.readouterr().err == ""


# -- what the claim model refuses before any X12 is written ----------------------------------------


def test_diagnoses_are_written_without_their_dot_and_pointed_at_within_range() -> None:
    assert claim(diagnoses=["j06.9", "Z23"]).diagnoses == ["J069", "Z23"]
    with pytest.raises(ValidationError, match="points at diagnoses \\[2\\], the claim has 1"):
        claim(diagnoses=["J06.9"])
    with pytest.raises(ValidationError, match="not an ICD-10-CM code"):
        claim(diagnoses=["99213", "Z23"])
    with pytest.raises(ValidationError, match="listed more than once"):
        claim(diagnoses=["J06.9", "J069"])


def test_an_npi_with_a_wrong_check_digit_is_refused() -> None:
    with pytest.raises(ValidationError, match="wrong check digit"):
        RenderingProvider(given_name="GRACE", family_name="HOPPER", npi="1245319598")


def test_line_references_must_be_unique_for_remittances_to_match_lines() -> None:
    twice = changed(FLU_VACCINE, line_reference=OFFICE_VISIT.line_reference)
    with pytest.raises(ValidationError, match="INV-1-L1 are used twice"):
        claim(lines=[OFFICE_VISIT, twice])


def test_the_patient_needs_an_address_and_a_birth_date() -> None:
    homeless = changed(BYRON, address=None)
    with pytest.raises(ValidationError, match="the patient needs an address"):
        claim(patient=ClaimPatient(person=homeless, relationship="19"))


def test_a_secondary_claim_names_the_primary_and_its_payment_balances() -> None:
    with pytest.raises(ValidationError, match="names the primary payer among other_payers"):
        claim(payer=BOLT)
    short = changed(ACME_PAID, adjustments=ACME_PAID.adjustments[:1])
    with pytest.raises(ValidationError, match="must add up to the claim's total 18150"):
        claim(payer=BOLT, other_payers=[short])
    # Billed to both at once, the primary has not paid yet: named without amounts.
    unpaid = OtherPayer(payer=ACME, member_id="W123456789")
    assert validate_837p(build_837p(claim(payer=BOLT, other_payers=[unpaid]))) == []


# -- any charges --------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(charges=st.lists(st.integers(min_value=0, max_value=99_999_999), min_size=1, max_size=50))
def test_any_charges_total_to_clm02_and_stay_valid(charges: list[int]) -> None:
    lines = [
        changed(OFFICE_VISIT, line_reference=f"L{number}", charge=charge)
        for number, charge in enumerate(charges, start=1)
    ]
    document = build_837p(claim(lines=lines))

    summary = read_claim_summary(document)
    assert summary.total_charge == sum(charges)
    assert [line.charge for line in summary.lines] == charges
    assert validate_837p(document) == []
