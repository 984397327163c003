"""The simulator's claims desk: it takes X12 837P interchanges and answers each with an X12 999
implementation acknowledgment (005010X231A1), as clearinghouses do before a claim goes on to the
payer.

A 999 is a syntax verdict; this stand-in also looks the subscriber up among its members (what a
clearinghouse's front-end edits and the payer's 277CA would catch) and rejects a claim for a
member it does not know, pointing at the subscriber's NM1 in loop 2010BA. Written from the generic
pieces of ``shared.x12``, never from the invoicing service's code."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime

from shared.x12 import (
    Interchange,
    Segment,
    X12SyntaxError,
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
class ReceivedClaim:
    group_control_number: str
    transaction_control_number: str
    claim_reference: str  # CLM01
    member_id: str  # NM109 of the subscriber (2010BA)
    member_position: int  # the subscriber NM1's position in the transaction set, ST = 1


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
            claims.append(ReceivedClaim(
                group_control_number=group.control_number,
                transaction_control_number=transaction.header.element(2),
                claim_reference=clm.element(1), member_id=subscriber[1].element(9),
                member_position=subscriber[0],
            ))
    if not claims:
        raise Invalid837("no claim in the interchange")
    return interchange, claims


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
