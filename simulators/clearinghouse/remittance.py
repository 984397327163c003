"""The simulator's payment desk: X12 835 remittance advice (005010X221A1) for claims it received,
as a payer sends through its clearinghouse once it has adjudicated them.

``write_835`` is a pure function from what the payer decided (``ClaimAdjudication`` and its
``LineAdjudication``s) to an interchange. It works out the totals an 835 states more than once
(CLP03 charge, CLP04 paid, CLP05 patient responsibility, BPR02 payment) from the lines, so every
advice it writes balances: a line's charge is its payment plus its adjustments, a claim's payment
is its lines' less its claim-level adjustments, and the payment is the claims' less the provider
adjustments (PLB). ``adjudicate`` turns a received 837P claim and a test's instructions into an
adjudication: lines not mentioned are paid in full, what a line's instructions leave unexplained is
written off as contractual (CO-45), a denied claim's lines are adjusted CO-50 unless told otherwise.

Written from the generic pieces of ``shared.x12`` and never from the payments service's code, so a
round trip checks the service's 835 reader against an independent writer, not against itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from shared.x12 import (
    STANDARD_SEPARATORS,
    Composite,
    Segment,
    format_date,
    format_decimal,
    render,
    wrap_functional_group,
    wrap_interchange,
    wrap_transaction_set,
)
from simulators.clearinghouse.claims import ReceivedClaim

REMITTANCE_GUIDE = "005010X221A1"
TRANSACTION_SET_CONTROL_NUMBER = "0001"
PAYMENT_METHODS = ("ACH", "CHK")
PROCESSED_AS_PRIMARY = "1"
DENIED = "4"
CONTRACTUAL = "CO"
PATIENT_RESPONSIBILITY = "PR"
# CLP06: how the claim was filed; 5010's 835 has no 'CI' (commercial), so a PPO it is.
CLAIM_FILING_INDICATOR = "12"
_CAS_TRIPLETS = 6  # (reason, amount, quantity) triplets in one CAS
_PLB_PAIRS = 6  # (reason:reference, amount) pairs in one PLB
_MOA_REMARKS = 5  # MOA03..MOA07


@dataclass(frozen=True)
class RemittancePayer:
    """The payer as its 835s name it (loop 1000A): N1*PR, N3, N4, REF*2U and PER*BL."""

    name: str
    identifier: str  # REF*2U, the payer id the claims were sent to
    originator_id: str = "1999999999"  # TRN03: '1' and the payer's 9-digit tax id
    address: str = "PO BOX 1000"
    city: str = "CHICAGO"
    state: str = "IL"
    postal_code: str = "60601"
    contact: str = "EDI SUPPORT"
    phone: str = "8005550199"


@dataclass(frozen=True)
class RemittancePayee:
    """The provider paid (loop 1000B), identified by NPI."""

    name: str
    npi: str


@dataclass(frozen=True)
class CasAdjustment:
    """One CAS reason: group (CO, PR, OA, PI), CARC and amount in cents."""

    group: str
    reason_code: str
    amount: int


@dataclass(frozen=True)
class LineAdjudication:
    """What the payer decided about one service line (loop 2110)."""

    procedure_code: str  # 'HC:99213' or with modifiers 'HC:99213:25'
    charge: int  # cents
    paid: int  # cents
    line_reference: str | None = None  # REF*6R, the 837P's line item control number
    allowed: int | None = None  # AMT*B6, cents
    units: str = "1"
    service_date: date | None = None
    adjustments: tuple[CasAdjustment, ...] = ()
    remark_codes: tuple[str, ...] = ()  # LQ*HE

    def __post_init__(self) -> None:
        adjusted = sum(a.amount for a in self.adjustments)
        if self.charge != self.paid + adjusted:
            raise ValueError(
                f"line {self.line_reference or self.procedure_code}: charge {self.charge} is not "
                f"paid {self.paid} + adjustments {adjusted}"
            )


@dataclass(frozen=True)
class ClaimAdjudication:
    """What the payer decided about one claim (loop 2100) and its lines."""

    claim_reference: str  # CLM01 of the claim, CLP01
    payer_claim_number: str  # CLP07
    patient_name: tuple[str, str]  # family, given
    member_id: str
    lines: tuple[LineAdjudication, ...]
    status: str = PROCESSED_AS_PRIMARY  # CLP02
    claim_adjustments: tuple[CasAdjustment, ...] = ()
    remark_codes: tuple[str, ...] = ()  # MOA03..07
    # The subscriber, when the patient is a dependent: NM1*IL then carries the member id.
    subscriber_name: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError(f"claim {self.claim_reference}: a remittance reports its lines")

    @property
    def charge(self) -> int:
        return sum(line.charge for line in self.lines)

    @property
    def paid(self) -> int:
        """What the lines paid, less the claim-level adjustments."""
        return sum(line.paid for line in self.lines) - sum(a.amount for a in self.claim_adjustments)

    @property
    def patient_responsibility(self) -> int:
        line_adjustments = (a for line in self.lines for a in line.adjustments)
        adjustments = [*self.claim_adjustments, *line_adjustments]
        return sum(a.amount for a in adjustments if a.group == PATIENT_RESPONSIBILITY)


@dataclass(frozen=True)
class ProviderLevelAdjustment:
    """One PLB adjustment: positive takes from the payment (recouped), negative adds (interest)."""

    reason_code: str  # e.g. WO overpayment recovery, L6 interest
    amount: int  # cents
    reference: str | None = None


@dataclass(frozen=True)
class Remittance:
    """One payment and the claims it pays, to be written as one 835."""

    payer: RemittancePayer
    payee: RemittancePayee
    trace_number: str  # TRN02, the check or EFT number
    payment_date: date  # BPR16
    method: str  # BPR04: ACH or CHK
    claims: tuple[ClaimAdjudication, ...]
    provider_adjustments: tuple[ProviderLevelAdjustment, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.method not in PAYMENT_METHODS:
            raise ValueError(f"payment method {self.method!r} is not one of {PAYMENT_METHODS}")
        if not self.claims:
            raise ValueError("a remittance pays at least one claim")
        if self.payment_amount < 0:
            raise ValueError(f"the payment would be negative ({self.payment_amount})")

    @property
    def payment_amount(self) -> int:
        """BPR02: the claims' payments less the provider adjustments."""
        return sum(c.paid for c in self.claims) - sum(p.amount for p in self.provider_adjustments)


def write_835(
    remittance: Remittance,
    *,
    sender_id: str,
    receiver_id: str,
    control_number: int,
    created_at: datetime,
    production: bool = False,
) -> str:
    """The 835 interchange for ``remittance``, from ``sender_id`` (the clearinghouse) to
    ``receiver_id`` (the provider's submitter)."""
    body = [
        *_payment(remittance),
        *_payer(remittance.payer),
        Segment.of("N1", "PE", remittance.payee.name, "XX", remittance.payee.npi),
        Segment.of("LX", "1"),
    ]
    for claim in remittance.claims:
        body += _claim(claim)
    body += _provider_adjustments(remittance)
    transaction_set = wrap_transaction_set(
        "835", TRANSACTION_SET_CONTROL_NUMBER, body, implementation_reference=REMITTANCE_GUIDE
    )
    group = wrap_functional_group(
        [transaction_set],
        functional_id="HP",
        sender_id=sender_id,
        receiver_id=receiver_id,
        control_number=control_number,
        created_at=created_at,
        version=REMITTANCE_GUIDE,
    )
    interchange = wrap_interchange(
        [group],
        sender_id=sender_id,
        receiver_id=receiver_id,
        control_number=control_number,
        created_at=created_at,
        production=production,
    )
    return render(interchange, STANDARD_SEPARATORS, line_breaks=True)


def _payment(remittance: Remittance) -> list[Segment]:
    """BPR and TRN. A payment by ACH names the payer's and the payee's bank accounts (made up
    here); nothing to pay is a notification only (BPR01 H) by no payment (NON)."""
    amount = remittance.payment_amount
    paid_on = format_date(remittance.payment_date)
    if amount == 0:
        bpr = Segment.of("BPR", "H", "0", "C", "NON", *[""] * 11, paid_on)
    elif remittance.method == "ACH":
        bpr = Segment.of(
            "BPR", "I", _dollars(amount), "C", "ACH", "CCP",
            "01", "999999992", "DA", "123456789", remittance.payer.originator_id, "",
            "01", "999988880", "DA", "98765", paid_on,
        )  # fmt: skip
    else:
        bpr = Segment.of("BPR", "I", _dollars(amount), "C", "CHK", *[""] * 11, paid_on)
    trace = Segment.of("TRN", "1", remittance.trace_number, remittance.payer.originator_id)
    return [bpr, trace]


def _payer(payer: RemittancePayer) -> list[Segment]:
    return [
        Segment.of("N1", "PR", payer.name),
        Segment.of("N3", payer.address),
        Segment.of("N4", payer.city, payer.state, payer.postal_code),
        Segment.of("REF", "2U", payer.identifier),
        Segment.of("PER", "BL", payer.contact, "TE", payer.phone),
    ]


def _claim(claim: ClaimAdjudication) -> list[Segment]:
    """Loop 2100 and its 2110 lines."""
    segments = [
        Segment.of(
            "CLP",
            claim.claim_reference,
            claim.status,
            _dollars(claim.charge),
            _dollars(claim.paid),
            _dollars(claim.patient_responsibility) if claim.patient_responsibility else "",
            CLAIM_FILING_INDICATOR,
            claim.payer_claim_number,
        ),
        *_cas(claim.claim_adjustments),
    ]
    family, given = claim.patient_name
    if claim.subscriber_name is None:
        segments.append(
            Segment.of("NM1", "QC", "1", family, given, "", "", "", "MI", claim.member_id)
        )
    else:
        segments.append(Segment.of("NM1", "QC", "1", family, given))
        insured_family, insured_given = claim.subscriber_name
        segments.append(
            Segment.of(
                "NM1", "IL", "1", insured_family, insured_given, "", "", "", "MI", claim.member_id
            )
        )
    remarks = list(claim.remark_codes)
    while remarks:
        segments.append(Segment.of("MOA", "", "", *remarks[:_MOA_REMARKS]))
        remarks = remarks[_MOA_REMARKS:]
    for line in claim.lines:
        segments += _line(line)
    return segments


def _line(line: LineAdjudication) -> list[Segment]:
    segments = [
        Segment.of(
            "SVC",
            Composite(*line.procedure_code.split(":")),
            _dollars(line.charge),
            _dollars(line.paid),
            "",
            line.units,
        )
    ]
    if line.service_date:
        segments.append(Segment.of("DTM", "472", format_date(line.service_date)))
    segments += _cas(line.adjustments)
    if line.line_reference:
        segments.append(Segment.of("REF", "6R", line.line_reference))
    if line.allowed is not None:
        segments.append(Segment.of("AMT", "B6", _dollars(line.allowed)))
    segments += [Segment.of("LQ", "HE", code) for code in line.remark_codes]
    return segments


def _cas(adjustments: Sequence[CasAdjustment]) -> list[Segment]:
    """One CAS per group, in the order groups first appear, six reasons to a segment."""
    by_group: dict[str, list[CasAdjustment]] = {}
    for adjustment in adjustments:
        by_group.setdefault(adjustment.group, []).append(adjustment)
    segments = []
    for group, reasons in by_group.items():
        for start in range(0, len(reasons), _CAS_TRIPLETS):
            triplets = [
                value
                for a in reasons[start : start + _CAS_TRIPLETS]
                for value in (a.reason_code, _dollars(a.amount), "")
            ]
            segments.append(Segment.of("CAS", group, *triplets))
    return segments


def _provider_adjustments(remittance: Remittance) -> list[Segment]:
    """PLB segments of six adjustments at most, for the payee's NPI and the fiscal year ending
    with the payment's calendar year."""
    adjustments = list(remittance.provider_adjustments)
    fiscal_period_end = format_date(date(remittance.payment_date.year, 12, 31))
    segments = []
    for start in range(0, len(adjustments), _PLB_PAIRS):
        pairs = [
            value
            for p in adjustments[start : start + _PLB_PAIRS]
            for value in (
                Composite(p.reason_code, p.reference) if p.reference else p.reason_code,
                _dollars(p.amount),
            )
        ]
        segments.append(Segment.of("PLB", remittance.payee.npi, fiscal_period_end, *pairs))
    return segments


def _dollars(cents: int) -> str:
    return format_decimal(Decimal(cents).scaleb(-2))


# -- answering received claims ---------------------------------------------------------------------


@dataclass(frozen=True)
class LineInstruction:
    """How a test wants one received line adjudicated."""

    line_reference: str
    paid: int | None = None  # None: the charge less the adjustments (nothing when denied)
    adjustments: tuple[CasAdjustment, ...] = ()


def adjudicate(
    received: ReceivedClaim,
    *,
    payer_claim_number: str,
    instructions: Sequence[LineInstruction] = (),
    denied: bool = False,
) -> ClaimAdjudication:
    """The adjudication of ``received`` that ``instructions`` ask for. A line without one is paid
    in full, or denied (CO-50) when the claim is; whatever part of a charge an instruction leaves
    unexplained is a contractual write-off (CO-45, or CO-50 when denied). Raises ``ValueError``
    for an instruction about a line the claim does not have, or that pays and adjusts more than
    the line's charge."""
    by_reference = {line.line_reference: line for line in received.lines}
    unknown = [i.line_reference for i in instructions if i.line_reference not in by_reference]
    if unknown:
        raise ValueError(f"claim {received.claim_reference} has no line {', '.join(unknown)}")
    instructed = {i.line_reference: i for i in instructions}
    lines = []
    for line in received.lines:
        instruction = instructed.get(line.line_reference or "")
        paid = 0 if denied else line.charge
        adjustments: tuple[CasAdjustment, ...] = ()
        if instruction is not None:
            adjustments = instruction.adjustments
            if denied and instruction.paid:
                raise ValueError(f"line {line.line_reference} of a denied claim is paid nothing")
            if instruction.paid is not None:
                paid = instruction.paid
            elif adjustments and not denied:
                paid = line.charge - sum(a.amount for a in adjustments)
        rest = line.charge - paid - sum(a.amount for a in adjustments)
        if rest < 0 or paid < 0:
            raise ValueError(
                f"line {line.line_reference}: paid {paid} and adjustments exceed the charge "
                f"{line.charge}"
            )
        if rest:
            adjustments = (*adjustments, CasAdjustment(CONTRACTUAL, "50" if denied else "45", rest))
        lines.append(
            LineAdjudication(
                procedure_code=line.procedure_code,
                charge=line.charge,
                paid=paid,
                line_reference=line.line_reference,
                allowed=None if denied else paid + _patient_share(adjustments),
                units=line.units,
                service_date=line.service_date,
                adjustments=adjustments,
            )
        )
    subscriber = received.subscriber_name
    return ClaimAdjudication(
        claim_reference=received.claim_reference,
        payer_claim_number=payer_claim_number,
        patient_name=received.patient_name or subscriber,
        member_id=received.member_id,
        lines=tuple(lines),
        status=DENIED if denied else PROCESSED_AS_PRIMARY,
        subscriber_name=subscriber if received.patient_name else None,
    )


def _patient_share(adjustments: Sequence[CasAdjustment]) -> int:
    return sum(a.amount for a in adjustments if a.group == PATIENT_RESPONSIBILITY)
