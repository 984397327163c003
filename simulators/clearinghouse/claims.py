"""The simulator's claims desk: it takes X12 837P interchanges and answers each with an X12 999
implementation acknowledgment (005010X231A1), as clearinghouses do before a claim goes on to the
payer.

A 999 is a syntax verdict; this stand-in also looks the subscriber up among its members (what a
clearinghouse's front-end edits and the payer's 277CA would catch) and rejects a claim for a
member it does not know, pointing at the subscriber's NM1 in loop 2010BA. Written from the generic
pieces of ``shared.x12``, never from the invoicing service's code."""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from shared.x12 import (
    Interchange,
    Segment,
    X12SyntaxError,
    parse_date,
    parse_decimal,
    parse_interchange,
    render,
    wrap_functional_group,
    wrap_interchange,
    wrap_transaction_set,
)

ACKNOWLEDGMENT_GUIDE = "005010X231A1"
CLAIM_GUIDE = "005010X222A1"


class Invalid837(ValueError):
    """Not an interchange of 837 claims."""


@dataclass(frozen=True)
class ReceivedLine:
    """One service line (2400) as billed, what a remittance answers line by line."""

    line_reference: str | None  # REF*6R, echoed in the 835's REF*6R
    procedure_code: str  # SV101 with its components joined by ':', e.g. 'HC:99213:25'
    charge: int  # SV102 in cents
    units: str  # SV104
    service_date: date | None  # DTP*472 (the first day of a range)


@dataclass(frozen=True)
class ReceivedClaim:
    group_control_number: str
    transaction_control_number: str
    claim_reference: str  # CLM01
    member_id: str  # NM109 of the subscriber (2010BA)
    member_position: int  # the subscriber NM1's position in the transaction set, ST = 1
    # What a remittance for the claim needs:
    submitter_id: str  # ISA06 of the 837, who the 835 goes to
    clearinghouse_id: str  # ISA08 of the 837, who the 835 comes from
    total_charge: int  # CLM02 in cents
    subscriber_name: tuple[str, str]  # NM103, NM104 of NM1*IL (2010BA): family, given
    patient_name: tuple[str, str] | None  # of NM1*QC (2010CA) when the patient is a dependent
    payer_name: str  # NM103 of NM1*PR (2010BB)
    payer_id: str  # its NM109
    billing_provider_name: str  # NM103 of NM1*85 (2010AA)
    billing_provider_npi: str  # its NM109
    lines: tuple[ReceivedLine, ...] = ()


def read_837(text: str) -> tuple[Interchange, list[ReceivedClaim]]:
    try:
        interchange = parse_interchange(text)
    except X12SyntaxError as error:
        raise Invalid837(str(error)) from None
    claims = []
    for group in interchange.groups:
        for transaction in group.transaction_sets:
            if transaction.id != "837":
                raise Invalid837(f"transaction set {transaction.id} is not a claim (837)")
            segments = [transaction.header, *transaction.body]
            subscriber = next(
                ((position, s) for position, s in enumerate(segments, 1)
                 if s.id == "NM1" and s.element(1) == "IL"), None,
            )
            clm = next((s for s in segments if s.id == "CLM"), None)
            if subscriber is None or clm is None:
                raise Invalid837("a claim without a subscriber (NM1*IL) or a CLM segment")
            # The parties are named before CLM; NM1s after it are other payers' (2330x).
            before_claim = segments[: segments.index(clm)]
            payer = _name(before_claim, "PR", "the payer (NM1*PR, 2010BB)")
            provider = _name(before_claim, "85", "the billing provider (NM1*85, 2010AA)")
            patient = next(
                (s for s in before_claim if s.id == "NM1" and s.element(1) == "QC"), None
            )
            claims.append(ReceivedClaim(
                group_control_number=group.control_number,
                transaction_control_number=transaction.header.element(2),
                claim_reference=clm.element(1), member_id=subscriber[1].element(9),
                member_position=subscriber[0],
                submitter_id=interchange.sender_id, clearinghouse_id=interchange.receiver_id,
                total_charge=_cents(clm, 2),
                subscriber_name=(subscriber[1].element(3), subscriber[1].element(4)),
                patient_name=(patient.element(3), patient.element(4)) if patient else None,
                payer_name=payer.element(3), payer_id=payer.element(9),
                billing_provider_name=provider.element(3), billing_provider_npi=provider.element(9),
                lines=_lines(segments[segments.index(clm) + 1:]),
            ))
    if not claims:
        raise Invalid837("no claim in the interchange")
    return interchange, claims


def _name(segments: Sequence[Segment], entity: str, who: str) -> Segment:
    found = next((s for s in segments if s.id == "NM1" and s.element(1) == entity), None)
    if found is None:
        raise Invalid837(f"the claim does not name {who}")
    return found


def _lines(segments: Sequence[Segment]) -> tuple[ReceivedLine, ...]:
    """The 2400 loops after CLM: each SV1 with the DTP*472 and REF*6R that follow it."""
    lines: list[ReceivedLine] = []
    for segment in segments:
        if segment.id == "SV1":
            lines.append(ReceivedLine(
                line_reference=None, procedure_code=":".join(segment.components(1)),
                charge=_cents(segment, 2), units=segment.element(4) or "1", service_date=None,
            ))
        elif not lines:
            continue
        elif segment.id == "DTP" and segment.element(1) == "472":
            try:
                day = parse_date(segment.element(3)[:8])
            except ValueError as error:
                raise Invalid837(f"DTP at segment {segment.position}: {error}") from None
            lines[-1] = replace(lines[-1], service_date=day)
        elif segment.id == "REF" and segment.element(1) == "6R":
            lines[-1] = replace(lines[-1], line_reference=segment.element(2))
    return tuple(lines)


def _cents(segment: Segment, index: int) -> int:
    """Element ``index``, an amount in dollars, in cents; refused unless a whole number of cents."""
    try:
        cents = parse_decimal(segment.element(index)).scaleb(2)
    except ValueError as error:
        raise Invalid837(f"{segment.id} at segment {segment.position}: {error}") from None
    if cents != cents.to_integral_value():
        raise Invalid837(
            f"{segment.id}{index:02d} at segment {segment.position} is not a whole number of cents"
        )
    return int(cents)


def write_999(
    interchange: Interchange, claims: list[ReceivedClaim], known_members: Container[str], *,
    control_number: int, answered_at: datetime,
) -> str:
    """The 999 for one functional group of claims: each accepted, or rejected at the subscriber
    when the member is unknown."""
    body = [Segment.of("AK1", "HC", claims[0].group_control_number, CLAIM_GUIDE)]
    accepted = 0
    for claim in claims:
        body.append(Segment.of("AK2", "837", claim.transaction_control_number, CLAIM_GUIDE))
        if claim.member_id in known_members:
            accepted += 1
            body.append(Segment.of("IK5", "A"))
        else:
            # IK3: segment NM1 at its position in loop 2010BA has data element errors (8);
            # IK4: NM109 (element 9, data element 67) invalid code value (7), with the bad value
            body += [
                Segment.of("IK3", "NM1", str(claim.member_position), "2010BA", "8"),
                Segment.of("IK4", "9", "67", "7", claim.member_id),
                Segment.of("IK5", "R", "5"),
            ]
    verdict = "A" if accepted == len(claims) else ("P" if accepted else "R")
    body.append(Segment.of("AK9", verdict, str(len(claims)), str(len(claims)), str(accepted)))
    header = interchange.header
    sender, receiver = header.element(8).strip(), header.element(6).strip()
    transaction_set = wrap_transaction_set(
        "999", "0001", body, implementation_reference=ACKNOWLEDGMENT_GUIDE
    )
    group = wrap_functional_group(
        [transaction_set], functional_id="FA", sender_id=sender, receiver_id=receiver,
        control_number=control_number, created_at=answered_at, version=ACKNOWLEDGMENT_GUIDE,
    )
    return render(wrap_interchange(
        [group], sender_id=sender, receiver_id=receiver, control_number=control_number,
        created_at=answered_at, production=header.element(15) == "P", separators=interchange.separators,
    ), interchange.separators, line_breaks=True)
