"""A professional claim written as an X12 837P (005010X222A1), and the few facts read back from one.

One claim is one interchange: ISA/GS/ST, the BHT, the submitter (1000A) and receiver (1000B), then
the guide's hierarchy. HL 20 is the billing provider (2000A/2010AA); HL 22 is the subscriber
(2000B: SBR, the subscriber 2010BA, the payer 2010BB); when the patient is not the subscriber, HL 23
is the patient (2000C/2010CA). The claim (2300: CLM and HI) hangs under the patient's level, with
the rendering provider (2310B), the other payers of a secondary or tertiary claim (2320 with
2330A/2330B) and one 2400 loop per service line (LX, SV1, DTP*472, REF*6R).

CLM02 is written as the sum of the lines' SV102, from the same integer cents, so a payer never sees
a claim whose total and lines disagree. ``read_claim_summary`` reads back what remittances are
matched against: the patient control number (CLM01, returned as CLP01 in an 835), the total and
each line's control number (REF*6R) with its procedure code and charge.
"""

from __future__ import annotations

from decimal import Decimal

from services.invoicing.domain.claim import (
    ClaimAddress,
    ClaimPerson,
    OtherPayer,
    ProfessionalClaim,
    ServiceLine,
    Value,
)
from shared.money import MINOR_UNITS
from shared.x12 import (
    STANDARD_SEPARATORS,
    Composite,
    Segment,
    X12SyntaxError,
    format_date,
    format_decimal,
    parse_decimal,
    parse_interchange,
    render,
    wrap_functional_group,
    wrap_interchange,
    wrap_transaction_set,
)

IMPLEMENTATION_GUIDE = "005010X222A1"
FUNCTIONAL_ID = "HC"  # GS01 of health care claims
CURRENCY = "USD"  # X12 5010 health care transactions are US-only
# Each interchange carries one claim, so its one transaction set is always number 0001.
TRANSACTION_SET_CONTROL_NUMBER = "0001"
# CLM05-3 claim frequency type: 1, an original claim (7 would replace one, 8 void it).
ORIGINAL_CLAIM = "1"


def build_837p(claim: ProfessionalClaim) -> str:
    """The claim as a complete interchange (ISA .. IEA). ``claim.created_at`` dates the envelope
    and the BHT; ``claim.control_number`` is both ISA13 and GS06. Raises ``ValueError`` when a
    value cannot be written, e.g. a name containing an X12 separator."""
    created_at = claim.created_at
    body = [
        Segment.of(
            "BHT",
            "0019",  # structure: information source, subscriber, dependent
            "00",  # original transmission
            claim.claim_reference,
            format_date(created_at),
            created_at.strftime("%H%M"),
            "CH",  # chargeable: a fee-for-service claim, not an encounter report
        ),
        *_submitter_and_receiver(claim),
        *_billing_provider(claim),
        *_subscriber(claim),
        *_patient(claim),
        *_claim(claim),
    ]
    transaction_set = wrap_transaction_set(
        "837", TRANSACTION_SET_CONTROL_NUMBER, body, implementation_reference=IMPLEMENTATION_GUIDE
    )
    group = wrap_functional_group(
        [transaction_set],
        functional_id=FUNCTIONAL_ID,
        sender_id=claim.sender_id,
        receiver_id=claim.receiver_id,
        control_number=claim.control_number,
        created_at=created_at,
        version=IMPLEMENTATION_GUIDE,
    )
    interchange = wrap_interchange(
        [group],
        sender_id=claim.sender_id,
        receiver_id=claim.receiver_id,
        control_number=claim.control_number,
        created_at=created_at,
        production=claim.production,
    )
    return render(interchange, STANDARD_SEPARATORS)


def _submitter_and_receiver(claim: ProfessionalClaim) -> list[Segment]:
    """1000A and 1000B. The submitter's contact (PER, required) is the billing provider's, so the
    2010AA contact, which the guide wants only when it differs, is left out."""
    provider = claim.billing_provider
    channels: list[str] = []
    if provider.contact_phone:
        channels += ["TE", provider.contact_phone]
    if provider.contact_email:
        channels += ["EM", provider.contact_email]
    return [
        _organization("41", claim.sender_name, "46", claim.sender_id),
        Segment.of("PER", "IC", provider.contact_name, *channels),
        _organization("40", claim.receiver_name, "46", claim.receiver_id),
    ]


def _billing_provider(claim: ProfessionalClaim) -> list[Segment]:
    """HL 20 (2000A) with 2010AA: name and NPI, address, and the EIN the payer reports income to."""
    provider = claim.billing_provider
    return [
        Segment.of("HL", "1", "", "20", "1"),
        _organization("85", provider.name, "XX", provider.npi),
        *_address(provider.address),
        Segment.of("REF", "EI", provider.tax_id),
    ]


def _subscriber(claim: ProfessionalClaim) -> list[Segment]:
    """HL 22 (2000B): SBR, the subscriber (2010BA) and the payer billed (2010BB).

    SBR02 is 18 (self) when the subscriber is the patient and empty when a dependent is: the
    dependent's relationship goes in PAT (2000C) instead."""
    subscriber, payer = claim.subscriber, claim.payer
    dependent = claim.patient is not None
    return [
        Segment.of("HL", "2", "1", "22", "1" if dependent else "0"),
        Segment.of(
            "SBR",
            payer.responsibility,
            "" if dependent else claim.patient_relationship,
            subscriber.group_number or "",
            "",
            "",
            "",
            "",
            "",
            payer.claim_filing_indicator,
        ),
        _person("IL", subscriber.person, member_id=subscriber.member_id),
        *_demographics(subscriber.person),
        _organization("PR", payer.name, "PI", payer.payer_identifier),
    ]


def _patient(claim: ProfessionalClaim) -> list[Segment]:
    """HL 23 (2000C/2010CA) for a dependent patient, identified by name, address and birth date
    under the subscriber's member id; nothing when the subscriber was treated."""
    if claim.patient is None:
        return []
    return [
        Segment.of("HL", "3", "2", "23", "0"),
        Segment.of("PAT", claim.patient.relationship),
        _person("QC", claim.patient.person),
        *_demographics(claim.patient.person),
    ]


def _claim(claim: ProfessionalClaim) -> list[Segment]:
    """2300 (CLM, HI), 2310B, the 2320 loops and the 2400 service lines, in the guide's order."""
    clm = Segment.of(
        "CLM",
        claim.claim_reference,
        _amount(claim.total_charge),
        "",
        "",
        Composite(claim.place_of_service, "B", ORIGINAL_CLAIM),  # B: a place of service code
        "Y",  # the provider's signature is on file
        "A",  # the provider accepts assignment
        "Y",  # benefits are assigned to the provider
        "Y",  # the patient allowed releasing information for the claim
    )
    principal, *others = claim.diagnoses
    diagnoses = Segment.of(
        "HI", Composite("ABK", principal), *(Composite("ABF", code) for code in others)
    )
    segments = [clm, diagnoses]
    rendering = claim.rendering_provider
    # 2310B only names a clinician other than the billing provider, e.g. not a solo practitioner
    if rendering is not None and rendering.npi != claim.billing_provider.npi:
        segments.append(
            Segment.of(
                "NM1",
                "82",
                "1",
                rendering.family_name,
                rendering.given_name,
                "",
                "",
                "",
                "XX",
                rendering.npi,
            )
        )
    for other in claim.other_payers:
        segments += _other_payer(claim, other)
    for number, line in enumerate(claim.lines, start=1):
        segments += _service_line(claim, number, line)
    return segments


def _other_payer(claim: ProfessionalClaim, other: OtherPayer) -> list[Segment]:
    """2320 (SBR, CAS, AMT*D, OI), 2330A (the insured there) and 2330B (that payer).

    Adjustments are written one CAS per group code, reason and amount triples in order (a CAS
    holds six)."""
    segments = [
        Segment.of(
            "SBR",
            other.payer.responsibility,
            other.relationship,
            other.group_number or "",
            "",
            "",
            "",
            "",
            "",
            other.payer.claim_filing_indicator,
        )
    ]
    for group in dict.fromkeys(adjustment.group for adjustment in other.adjustments):
        triples = [
            value
            for adjustment in other.adjustments
            if adjustment.group == group
            for value in (adjustment.reason, _amount(adjustment.amount), "")
        ]
        segments.append(Segment.of("CAS", group, *triples))
    if other.paid_amount is not None:
        segments.append(Segment.of("AMT", "D", _amount(other.paid_amount)))
    # OI03 benefits assigned, OI04 P: the signature on file is the patient's, OI06 release allowed.
    segments.append(Segment.of("OI", "", "", "Y", "P", "", "Y"))
    insured = other.insured or claim.subscriber.person
    segments.append(_person("IL", insured, member_id=other.member_id))
    segments.append(_organization("PR", other.payer.name, "PI", other.payer.payer_identifier))
    if other.adjudication_date is not None:
        segments.append(Segment.of("DTP", "573", "D8", format_date(other.adjudication_date)))
    return segments


def _service_line(claim: ProfessionalClaim, number: int, line: ServiceLine) -> list[Segment]:
    """2400: LX, SV1 (procedure, charge, units, pointers), DTP*472 and REF*6R.

    SV105 is written only when the line's place of service differs from the claim's (CLM05-1)."""
    place = line.place_of_service if line.place_of_service != claim.place_of_service else None
    return [
        Segment.of("LX", str(number)),
        Segment.of(
            "SV1",
            Composite("HC", line.procedure_code, *line.modifiers),
            _amount(line.charge),
            "UN",  # units, not minutes (MJ, anaesthesia)
            format_decimal(line.units),
            place or "",
            "",
            Composite(*(str(pointer) for pointer in line.diagnosis_pointers)),
        ),
        Segment.of("DTP", "472", "D8", format_date(line.service_date)),
        Segment.of("REF", "6R", line.line_reference),
    ]


def _organization(entity: str, name: str, qualifier: str, identifier: str) -> Segment:
    """NM1 of a non-person entity (NM102 2): submitter 41, receiver 40, billing provider 85,
    payer PR."""
    return Segment.of("NM1", entity, "2", name, "", "", "", "", qualifier, identifier)


def _person(entity: str, person: ClaimPerson, *, member_id: str | None = None) -> Segment:
    """NM1 of a person (NM102 1): subscriber or other insured IL with a member id (MI), patient
    QC without one."""
    identification = ("MI", member_id) if member_id else ()
    return Segment.of(
        "NM1", entity, "1", person.family_name, person.given_name, "", "", "", *identification
    )


def _demographics(person: ClaimPerson) -> list[Segment]:
    """N3/N4 and DMG, each when known (the claim model requires them of the patient)."""
    segments = _address(person.address) if person.address else []
    if person.date_of_birth is not None:
        segments.append(Segment.of("DMG", "D8", format_date(person.date_of_birth), person.gender))
    return segments


def _address(address: ClaimAddress) -> list[Segment]:
    return [
        Segment.of("N3", *address.lines),
        Segment.of("N4", address.city, address.state, address.postal_code),
    ]


def _amount(minor_units: int) -> str:
    """Cents as an X12 dollar amount: 12500 -> '125', 12550 -> '125.5'."""
    return format_decimal(Decimal(minor_units).scaleb(-MINOR_UNITS[CURRENCY]))


# -- reading back ---------------------------------------------------------------------------------


class ClaimLineSummary(Value):
    line_reference: str
    procedure_code: str
    charge: int


class ClaimSummary(Value):
    """What a sent 837P said that remittances and acknowledgments are matched against."""

    control_number: int
    claim_reference: str
    total_charge: int
    payer_identifier: str
    lines: list[ClaimLineSummary]


def read_claim_summary(text: str) -> ClaimSummary:
    """Read back one claim written by ``build_837p`` (or any single-claim 837P). Raises
    ``X12SyntaxError`` naming the segment when the document is not such a claim."""
    interchange = parse_interchange(text)
    transaction_sets = interchange.transaction_sets
    if len(transaction_sets) != 1:
        raise X12SyntaxError(
            f"expected one transaction set, the interchange has {len(transaction_sets)}",
            segment_id="ST",
        )
    transaction_set = transaction_sets[0]
    if transaction_set.id != "837" or interchange.groups[0].version != IMPLEMENTATION_GUIDE:
        raise X12SyntaxError(
            f"a {transaction_set.id} of {interchange.groups[0].version!r}, not an 837P "
            f"({IMPLEMENTATION_GUIDE})",
            segment_id="ST",
            position=transaction_set.header.position,
        )

    payer_identifier: str | None = None
    claim: Segment | None = None
    lines: list[ClaimLineSummary] = []
    service: Segment | None = None  # the last SV1, until its REF*6R is read
    for segment in transaction_set.body:
        if segment.id == "NM1" and segment.element(1) == "PR" and payer_identifier is None:
            payer_identifier = segment.element(9)  # 2010BB comes first; 2330B are other payers
        elif segment.id == "CLM":
            if claim is not None:
                raise X12SyntaxError(
                    "a second claim; one claim per interchange is read",
                    segment_id="CLM",
                    position=segment.position,
                )
            claim = segment
        elif segment.id == "SV1":
            _check_line_reference_read(service)
            service = segment
        elif segment.id == "REF" and segment.element(1) == "6R" and service is not None:
            lines.append(
                ClaimLineSummary(
                    line_reference=segment.element(2),
                    procedure_code=_procedure_code(service),
                    charge=_minor_units(service, 2),
                )
            )
            service = None
    _check_line_reference_read(service)
    if claim is None:
        raise X12SyntaxError("the transaction set has no claim (CLM)", segment_id="CLM")
    if payer_identifier is None:
        raise X12SyntaxError("no payer (NM1*PR, loop 2010BB)", segment_id="NM1")
    return ClaimSummary(
        control_number=int(interchange.control_number),
        claim_reference=claim.element(1),
        total_charge=_minor_units(claim, 2),
        payer_identifier=payer_identifier,
        lines=lines,
    )


def _procedure_code(service: Segment) -> str:
    """SV101-2: the code after its qualifier (HC:99213:25 -> 99213)."""
    components = service.components(1)
    return components[1] if len(components) > 1 else ""


def _check_line_reference_read(service: Segment | None) -> None:
    if service is not None:
        raise X12SyntaxError(
            "the service line has no line item control number (REF*6R)",
            segment_id="SV1",
            position=service.position,
        )


def _minor_units(segment: Segment, index: int) -> int:
    """A dollar amount (CLM02 '125.5') in cents; fractions of a cent are refused."""
    value = segment.element(index)
    try:
        amount = parse_decimal(value).scaleb(MINOR_UNITS[CURRENCY])
    except ValueError:
        raise X12SyntaxError(
            f"{segment.id}{index:02d} {value!r} is not an amount",
            segment_id=segment.id,
            position=segment.position,
        ) from None
    if amount != amount.to_integral_value():
        raise X12SyntaxError(
            f"{segment.id}{index:02d} {value!r} has fractions of a cent",
            segment_id=segment.id,
            position=segment.position,
        )
    return int(amount)
