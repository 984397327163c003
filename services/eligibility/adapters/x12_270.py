"""An eligibility inquiry as an X12 270 (005010X279A1), the document payers answer with a 271.

The hierarchy is the guide's: the payer asked (HL 20, loop 2100A), the provider asking (HL 21,
2100B), the subscriber (HL 22, 2100C) and, when the patient is not the subscriber, the dependent
(HL 23, 2100D). The question itself (our trace number, the date of service and one EQ per service
type) goes in the patient's loop: 2000C when the patient is the subscriber, otherwise 2000D.

A dependent has no member id of its own in a 270: the payer finds the subscriber by member id, then
the patient among the subscriber's dependents by name and date of birth. In 5010 a patient with a
member id of their own is asked about as the subscriber instead.
"""

from __future__ import annotations

from datetime import datetime

from services.eligibility.domain.coverage import EligibilityInquiry, Member, Party
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
        *_patient_levels(inquiry),
    ]

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


def _patient_levels(inquiry: EligibilityInquiry) -> list[Segment]:
    """The subscriber's level (2000C) and, for a dependent patient, the dependent's (2000D).

    The trace, the date of service and the EQs belong to the patient's level only: the guide
    leaves them out of 2000C when a 2000D follows, and the payer echoes the trace in the level it
    answers for."""
    trace = Segment.of("TRN", "1", inquiry.trace_number, _originator_id(inquiry.provider))
    question = [
        Segment.of("DTP", "291", "D8", format_date(inquiry.service_date)),
        *(Segment.of("EQ", service_type) for service_type in inquiry.service_types),
    ]
    if inquiry.dependent is None:
        return [
            Segment.of("HL", "3", "2", "22", "0"),
            trace,
            *_subscriber(inquiry.subscriber),
            *question,
        ]
    return [
        Segment.of("HL", "3", "2", "22", "1"),  # HL04 1: the subscriber level has a child level
        *_subscriber(inquiry.subscriber),
        Segment.of("HL", "4", "3", "23", "0"),
        trace,
        *_dependent(inquiry.dependent),
        *question,
    ]


def _subscriber(subscriber: Member) -> list[Segment]:
    """Loop 2100C: name and member id, with the group and date of birth when we know them."""
    segments = [
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
        )
    ]
    if subscriber.group_number:
        segments.append(Segment.of("REF", "6P", subscriber.group_number))
    return segments + _demographics(subscriber)


def _dependent(dependent: Member) -> list[Segment]:
    """Loop 2100D: the name (and date of birth when known) the payer looks the patient up by among
    the subscriber's dependents. The guide requires the family name (NM103): without it the payer
    can only reject the inquiry, so it is refused here instead."""
    if not dependent.family_name:
        raise ValueError("the dependent's family name (NM103 of loop 2100D) is required")
    return [
        Segment.of("NM1", "03", "1", dependent.family_name, dependent.given_name or ""),
        *_demographics(dependent),
    ]


def _demographics(member: Member) -> list[Segment]:
    """DMG with the date of birth, which payers match the patient on; nothing when unknown."""
    if member.date_of_birth is None:
        return []
    return [Segment.of("DMG", "D8", format_date(member.date_of_birth))]


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
