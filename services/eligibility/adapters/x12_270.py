"""An eligibility inquiry as an X12 270 (005010X279A1), the document payers answer with a 271.

The hierarchy is the guide's: the payer asked (HL 20, loop 2100A), the provider asking (HL 21,
2100B) and the subscriber (HL 22, 2100C) with our trace number, identification, the date of
service and one EQ per service type. There is no dependent loop (2000D): in 5010 a patient with
a member id of their own is asked about as the subscriber, and that is the id we hold.
"""

from __future__ import annotations

from datetime import datetime

from services.eligibility.domain.coverage import EligibilityInquiry, Party
from shared.x12 import (
    STANDARD_SEPARATORS,
    Segment,
    format_date,
    render,
    wrap_functional_group,
    wrap_interchange,
    wrap_transaction_set,
)

IMPLEMENTATION_GUIDE = "005010X279A1"
# Each interchange carries one inquiry, so its one transaction set is always number 0001.
TRANSACTION_SET_CONTROL_NUMBER = "0001"


def build_270(inquiry: EligibilityInquiry, *, created_at: datetime) -> str:
    """The inquiry as a complete interchange (ISA .. IEA). ``created_at`` dates the envelope and the
    BHT; the inquiry's control number is both ISA13 and GS06. Raises ``ValueError`` when a value
    cannot be written, e.g. a name containing an X12 separator."""
    subscriber = inquiry.subscriber
    body = [
        Segment.of(
            "BHT",
            "0022",
            "13",
            inquiry.trace_number,
            format_date(created_at),
            created_at.strftime("%H%M"),
        ),
        Segment.of("HL", "1", "", "20", "1"),
        _name("PR", inquiry.payer),
        Segment.of("HL", "2", "1", "21", "1"),
        _name("1P", inquiry.provider),
        Segment.of("HL", "3", "2", "22", "0"),
        Segment.of("TRN", "1", inquiry.trace_number, _originator_id(inquiry.provider)),
        Segment.of(
            "NM1",
            "IL",
            "1",
            subscriber.family_name or "",
            subscriber.given_name or "",
            "",
            "",
            "",
            "MI",
            subscriber.member_id,
        ),
    ]
    if subscriber.group_number:
        body.append(Segment.of("REF", "6P", subscriber.group_number))
    if subscriber.date_of_birth:
        body.append(Segment.of("DMG", "D8", format_date(subscriber.date_of_birth)))
    body.append(Segment.of("DTP", "291", "D8", format_date(inquiry.service_date)))
    body.extend(Segment.of("EQ", service_type) for service_type in inquiry.service_types)

    transaction_set = wrap_transaction_set(
        "270", TRANSACTION_SET_CONTROL_NUMBER, body, implementation_reference=IMPLEMENTATION_GUIDE
    )
    group = wrap_functional_group(
        [transaction_set],
        functional_id="HS",
        sender_id=inquiry.sender_id,
        receiver_id=inquiry.receiver_id,
        control_number=inquiry.control_number,
        created_at=created_at,
        version=IMPLEMENTATION_GUIDE,
    )
    interchange = wrap_interchange(
        [group],
        sender_id=inquiry.sender_id,
        receiver_id=inquiry.receiver_id,
        control_number=inquiry.control_number,
        created_at=created_at,
        production=inquiry.production,
    )
    return render(interchange, STANDARD_SEPARATORS)


def _name(entity: str, party: Party) -> Segment:
    """NM1 of an organisation (entity type 2): payer (PR) or provider (1P), with its identifier."""
    return Segment.of(
        "NM1", entity, "2", party.name, "", "", "", "", party.identifier_qualifier, party.identifier
    )


def _originator_id(provider: Party) -> str:
    """TRN03: who assigned the trace number, as the guide wants it: '1' and a 9-digit EIN, or '9'
    and a 9-digit identifier of our own choosing. An NPI is 9 digits and a check digit, so those 9
    digits identify the inquiring provider without a second configured number."""
    identifier = provider.identifier.replace("-", "")
    if (
        provider.identifier_qualifier in ("24", "FI")
        and len(identifier) == 9
        and identifier.isdigit()
    ):
        return "1" + identifier
    if provider.identifier_qualifier == "XX" and len(identifier) == 10 and identifier.isdigit():
        return "9" + identifier[:9]
    raise ValueError(
        f"TRN03 needs the provider's NPI (XX) or EIN (24, FI), not "
        f"{provider.identifier_qualifier} {provider.identifier!r}"
    )
