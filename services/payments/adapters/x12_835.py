"""A payer's X12 835 remittance advice (005010X221A1) read into ``RemittanceAdvice`` values.

Two steps, kept apart because they answer different questions. ``validate_835`` asks whether the
document follows the guide at all (pyx12 against the guide's map, through the platform's
``shared.x12.validation``); ``read_835`` takes what payments needs from a document that does, one
advice per transaction set (ST .. SE), and refuses with ``Invalid835`` naming the segment what it
cannot read. Whether an advice adds up is the domain's question (``balancing_problems``).

What is read, by loop:

- header: BPR (01 handling, 02 payment, 03 credit/debit, 04 method, 16 date), TRN (02 trace number,
  03 originator), CUR (02 currency); 1000A N1*PR (name; its id from REF*2U, else N104); 1000B N1*PE
  (name; N104 as the NPI when N103 is XX);
- 2100 claim: CLP (01 our claim reference, 02 status, 03 charge, 04 paid, 05 patient
  responsibility, 07 payer claim number), CAS at claim level, NM1*QC (patient name and id) and
  NM1*IL (the member id when the patient's NM1 has none), MOA/MIA remark codes;
- 2110 line: SVC (01 procedure as adjudicated, 02 charge, 03 paid, 05 units), DTM*472 (or *150)
  service date, CAS, REF*6R (the line item control number our 837P sent), AMT*B6 allowed, LQ*HE
  remark codes;
- footer: PLB provider adjustments.

LX/TS3/TS2 (provider summaries), dates of the claim and everything else are not needed and skipped.

Amounts are X12 decimal dollars; they become integer minor units exactly, through ``Decimal``, and
an amount that is not a whole number of cents is refused rather than rounded: money that does not
add up must be seen, not smoothed over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from pydantic import ValidationError

from services.payments.domain.events import Adjustment, AdjustmentGroup, RemittedLine
from services.payments.domain.remittance import (
    ProviderAdjustment,
    RemittanceAdvice,
    RemittanceClaim,
)
from shared.money import MINOR_UNITS
from shared.x12 import (
    Segment,
    TransactionSet,
    X12SyntaxError,
    parse_date,
    parse_decimal,
    parse_interchange,
)
from shared.x12.validation import Guide, X12Problem, validate

IMPLEMENTATION_GUIDE = "005010X221A1"
REMITTANCE_ADVICE = Guide(
    name="835",
    transaction_set_id="835",
    version=IMPLEMENTATION_GUIDE,
    functional_id="HP",
    functional_meaning="health care claim payment/advice",
    map_file="835.5010.X221.A1.xml",
    # pyx12's map marks ST03 as not used, where the guide requires it (005010X221A1); the envelope
    # check already holds ST03 to the guide's version.
    map_errata=frozenset({("ST03", "10")}),
)

# One thing wrong with an 835.
RemittanceProblem = X12Problem

# The claim adjustment reason codes (CARC, X12's external code list 139) payers use most, with the
# list's own text (the first sentence; usage notes left out), for people reading an adjustment.
CARC_DESCRIPTIONS: dict[str, str] = {
    "1": "Deductible Amount",
    "2": "Coinsurance Amount",
    "3": "Co-payment Amount",
    "4": "The procedure code is inconsistent with the modifier used.",
    "16": "Claim/service lacks information or has submission/billing error(s).",
    "18": "Exact duplicate claim/service",
    "23": "The impact of prior payer(s) adjudication including payments and/or adjustments.",
    "29": "The time limit for filing has expired.",
    "45": "Charge exceeds fee schedule/maximum allowable or contracted/legislated fee arrangement.",
    "50": "These are non-covered services because this is not deemed a 'medical necessity' by "
    "the payer.",
    "96": "Non-covered charge(s).",
    "97": "The benefit for this service is included in the payment/allowance for another "
    "service/procedure that has already been adjudicated.",
    "109": "Claim/service not covered by this payer/contractor. You must send the claim/service "
    "to the correct payer/contractor.",
    "119": "Benefit maximum for this time period or occurrence has been reached.",
    "197": "Precertification/authorization/notification/pre-treatment absent.",
    "204": "This service/equipment/drug is not covered under the patient's current benefit plan",
    "242": "Services not provided by network/primary care providers.",
    "253": "Sequestration - reduction in federal payment",
}

_MOA_REMARKS = range(3, 8)  # MOA03..MOA07
_MIA_REMARKS = (5, 20, 21, 22, 23)
_CAS_TRIPLETS = range(2, 20, 3)  # CAS02/03/04, CAS05/06/07, ... CAS17/18/19
_PLB_PAIRS = range(3, 15, 2)  # PLB03/04, PLB05/06, ... PLB13/14
_PROCEDURE_COMPONENTS = 6  # SVC01-1..6: qualifier, code, four modifiers (7 is a description)
# What each detail loop may hold after its first segment (CLP, SVC): a segment out of place means
# a loop was lost (a missing CLP would make the next claim's lines the previous claim's).
_CLAIM_SEGMENTS = frozenset({"CAS", "NM1", "MIA", "MOA", "REF", "DTM", "PER", "AMT", "QTY"})
_LINE_SEGMENTS = frozenset({"DTM", "CAS", "REF", "AMT", "QTY", "LQ"})


class Invalid835(ValueError):
    """The text cannot be read as 835s; the message names the segment and where it is."""

    def __init__(self, message: str, segment: Segment | None = None) -> None:
        self.segment_id = segment.id if segment else None
        self.position = segment.position if segment else None
        where = f"{segment.id} at segment {segment.position}: " if segment else ""
        super().__init__(f"{where}{message}")


def validate_835(text: str) -> list[RemittanceProblem]:
    """Every problem pyx12 finds in ``text`` against 005010X221A1 (with GS01 HP, GS08 and ST03
    005010X221A1, ST01 835); an empty list when it is a valid 835."""
    return validate(text, REMITTANCE_ADVICE)


def read_835(text: str) -> list[RemittanceAdvice]:
    """The remittance advice of each 835 transaction set in the interchange ``text``, in order.
    Raises ``Invalid835`` for a document that is not X12, holds anything but 835s, or misses or
    garbles what an advice needs."""
    try:
        interchange = parse_interchange(text)
    except X12SyntaxError as error:
        invalid = Invalid835(str(error))
        invalid.segment_id, invalid.position = error.segment_id, error.position
        raise invalid from None
    advices = []
    for group in interchange.groups:
        if group.functional_id != REMITTANCE_ADVICE.functional_id:
            raise Invalid835(
                f"GS01 is {group.functional_id!r}; 835s come in HP groups", group.header
            )
        if group.version != IMPLEMENTATION_GUIDE:
            raise Invalid835(
                f"GS08 is {group.version!r}; only {IMPLEMENTATION_GUIDE} 835s are read",
                group.header,
            )
        for transaction_set in group.transaction_sets:
            if transaction_set.id != REMITTANCE_ADVICE.transaction_set_id:
                raise Invalid835(
                    f"transaction set {transaction_set.id!r} is not an 835", transaction_set.header
                )
            if transaction_set.implementation_reference not in ("", IMPLEMENTATION_GUIDE):
                raise Invalid835(
                    f"ST03 is {transaction_set.implementation_reference!r}; only "
                    f"{IMPLEMENTATION_GUIDE} 835s are read",
                    transaction_set.header,
                )
            advices.append(_advice(transaction_set))
    if not advices:
        raise Invalid835("the interchange holds no 835")
    return advices


# -- loops -----------------------------------------------------------------------------------------


@dataclass
class _LineLoop:
    service: Segment  # SVC
    segments: list[Segment] = field(default_factory=list)


@dataclass
class _ClaimLoop:
    payment: Segment  # CLP
    segments: list[Segment] = field(default_factory=list)  # CAS, NM1, MOA, ... before any SVC
    lines: list[_LineLoop] = field(default_factory=list)


@dataclass
class _Loops:
    header: list[Segment] = field(default_factory=list)
    claims: list[_ClaimLoop] = field(default_factory=list)
    footer: list[Segment] = field(default_factory=list)  # PLB


def _loops(body: Sequence[Segment]) -> _Loops:
    """The transaction set's segments sorted into the loops that say what they are about: a CAS
    after a CLP adjusts the claim, after an SVC the line."""
    loops = _Loops()
    claim: _ClaimLoop | None = None
    for segment in body:
        if loops.footer and segment.id != "PLB":
            raise Invalid835("only PLB may follow PLB", segment)
        if segment.id == "CLP":
            claim = _ClaimLoop(segment)
            loops.claims.append(claim)
        elif segment.id in ("LX", "TS3", "TS2"):
            claim = None  # a new 2000 loop: the next claim has yet to start
        elif segment.id == "PLB":
            loops.footer.append(segment)
        elif segment.id == "SVC":
            if claim is None:
                raise Invalid835("a service line outside a claim (SVC before CLP)", segment)
            claim.lines.append(_LineLoop(segment))
        elif claim is not None and claim.lines:
            if segment.id not in _LINE_SEGMENTS:
                raise Invalid835("not a segment of a service line (loop 2110)", segment)
            claim.lines[-1].segments.append(segment)
        elif claim is not None:
            if segment.id not in _CLAIM_SEGMENTS:
                raise Invalid835("not a segment of a claim (loop 2100)", segment)
            claim.segments.append(segment)
        elif loops.claims:
            raise Invalid835("expected CLP after the 2000 loop's LX/TS3/TS2", segment)
        else:
            loops.header.append(segment)
    return loops


# -- the advice ------------------------------------------------------------------------------------


def _advice(transaction_set: TransactionSet) -> RemittanceAdvice:
    loops = _loops(transaction_set.body)
    header = transaction_set.header
    payment = _required(loops.header, "BPR", header)
    trace = _required(loops.header, "TRN", header)
    currency_segment = _first(loops.header, "CUR")
    currency = currency_segment.element(2) if currency_segment else "USD"
    if currency not in MINOR_UNITS:
        raise Invalid835(
            f"CUR02 {currency!r} is not a currency we know the minor unit of", currency_segment
        )
    money = _Money(MINOR_UNITS[currency])
    parties = _parties(loops.header)
    payer = parties.get("PR")
    if payer is None:
        raise Invalid835("the advice names no payer (N1*PR in loop 1000A)", header)
    payee = parties["PE"][0] if "PE" in parties else None
    payer_reference = _first(payer, "REF", "2U")
    if not loops.claims:
        raise Invalid835("the advice reports no claim (CLP); there is nothing to post", header)
    try:
        return RemittanceAdvice(
            control_number=transaction_set.control_number,
            trace_number=_element(trace, 2),
            originator_id=trace.element(3) or None,
            payer_name=_element(payer[0], 2),
            payer_identifier=(
                payer_reference.element(2) if payer_reference else payer[0].element(4) or None
            ),
            payee_name=(payee and payee.element(2)) or None,
            payee_npi=(payee and payee.element(3) == "XX" and payee.element(4)) or None,
            handling=_element(payment, 1),
            payment_amount=money.amount(payment, 2),
            credit_debit=_element(payment, 3),
            payment_method=_element(payment, 4),
            payment_date=_date(payment, 16),
            currency=currency,
            claims=[_claim(claim, money) for claim in loops.claims],
            provider_adjustments=[
                adjustment
                for plb in loops.footer
                for adjustment in _provider_adjustments(plb, money)
            ],
        )
    except ValidationError as error:
        raise Invalid835(f"the advice is not readable: {error}", header) from None


def _parties(header: Sequence[Segment]) -> dict[str, list[Segment]]:
    """Each N1 loop of the header (1000A payer, 1000B payee) by N101, its N1 first."""
    parties: dict[str, list[Segment]] = {}
    current: list[Segment] | None = None
    for segment in header:
        if segment.id == "N1":
            current = parties.setdefault(segment.element(1), [])
            current.append(segment)
        elif current is not None:
            current.append(segment)
    return parties


def _claim(loop: _ClaimLoop, money: _Money) -> RemittanceClaim:
    clp = loop.payment
    patient = _first(loop.segments, "NM1", "QC")
    insured = _first(loop.segments, "NM1", "IL")
    remarks = [
        code
        for segment in loop.segments
        if segment.id in ("MOA", "MIA")
        for index in (_MOA_REMARKS if segment.id == "MOA" else _MIA_REMARKS)
        if (code := segment.element(index))
    ]
    try:
        return RemittanceClaim(
            claim_reference=_element(clp, 1),
            claim_status=_element(clp, 2),
            charge=money.amount(clp, 3),
            paid=money.amount(clp, 4),
            patient_responsibility=money.amount(clp, 5) if clp.element(5) else 0,
            payer_claim_number=clp.element(7) or None,
            patient_name=_person(patient) if patient else None,
            member_id=(patient and patient.element(9)) or (insured and insured.element(9)) or None,
            claim_adjustments=[
                a for s in loop.segments if s.id == "CAS" for a in _adjustments(s, money)
            ],
            lines=[_line(line, money) for line in loop.lines],
            remark_codes=remarks,
        )
    except ValidationError as error:
        raise Invalid835(f"the claim is not readable: {error}", clp) from None


def _person(name: Segment) -> str:
    """NM1's family and given names as 'FAMILY, GIVEN' (the family name alone without a given)."""
    family, given = name.element(3), name.element(4)
    return f"{family}, {given}" if given else family


def _line(loop: _LineLoop, money: _Money) -> RemittedLine:
    svc = loop.service
    procedure = svc.components(1)[:_PROCEDURE_COMPONENTS]
    while procedure and not procedure[-1]:
        procedure.pop()
    if len(procedure) < 2:
        raise Invalid835("SVC01 needs a qualifier and a procedure code, e.g. HC:99213", svc)
    dates = {s.element(1): s for s in loop.segments if s.id == "DTM"}
    service_date = dates.get("472") or dates.get("150")
    reference = _first(loop.segments, "REF", "6R")
    allowed = _first(loop.segments, "AMT", "B6")
    try:
        return RemittedLine(
            line_reference=(reference and reference.element(2)) or None,
            procedure_code=":".join(procedure),
            charge=money.amount(svc, 2),
            paid=money.amount(svc, 3),
            allowed=money.amount(allowed, 2) if allowed else None,
            units=svc.element(5) or None,
            service_date=_date(service_date, 2) if service_date else None,
            adjustments=[a for s in loop.segments if s.id == "CAS" for a in _adjustments(s, money)],
            remark_codes=[
                s.element(2) for s in loop.segments if s.id == "LQ" and s.element(1) == "HE"
            ],
        )
    except ValidationError as error:
        raise Invalid835(f"the service line is not readable: {error}", svc) from None


def _adjustments(cas: Segment, money: _Money) -> list[Adjustment]:
    """One CAS: a group code, then up to six (reason, amount, quantity) triplets."""
    try:
        group = AdjustmentGroup(cas.element(1))
    except ValueError:
        raise Invalid835(f"CAS01 {cas.element(1)!r} is not an adjustment group", cas) from None
    adjustments = []
    for index in _CAS_TRIPLETS:
        reason = cas.element(index)
        if not reason:
            if cas.element(index + 1):
                raise Invalid835(f"CAS{index + 1:02d} is an amount without a reason", cas)
            continue
        adjustments.append(
            Adjustment(
                group=group,
                reason_code=reason,
                amount=money.amount(cas, index + 1),
                quantity=cas.element(index + 2) or None,
                description=CARC_DESCRIPTIONS.get(reason),
            )
        )
    if not adjustments:
        raise Invalid835("CAS without a reason (CAS02)", cas)
    return adjustments


def _provider_adjustments(plb: Segment, money: _Money) -> list[ProviderAdjustment]:
    """One PLB: provider and fiscal period, then up to six (reason:reference, amount) pairs."""
    adjustments = []
    for index in _PLB_PAIRS:
        identifier = plb.components(index)
        if not identifier:
            continue
        adjustments.append(
            ProviderAdjustment(
                reason_code=identifier[0],
                reference=identifier[1] if len(identifier) > 1 and identifier[1] else None,
                amount=money.amount(plb, index + 1),
            )
        )
    if not adjustments:
        raise Invalid835("PLB without an adjustment (PLB03)", plb)
    return adjustments


# -- values ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Money:
    """Reads amounts into minor units of the advice's currency."""

    exponent: int

    def amount(self, segment: Segment, index: int) -> int:
        """Element ``index`` (an X12 R value in currency units) in minor units, exactly."""
        where = f"{segment.id}{index:02d}"
        value = segment.element(index)
        if not value:
            raise Invalid835(f"{where} (an amount) is missing", segment)
        try:
            units = parse_decimal(value)
        except ValueError as error:
            raise Invalid835(f"{where}: {error}", segment) from None
        minor = units.scaleb(self.exponent)
        if minor != minor.to_integral_value():
            raise Invalid835(
                f"{where} {value!r} is not a whole number of minor units "
                f"(at most {self.exponent} decimals)",
                segment,
            )
        return int(minor)


def _element(segment: Segment, index: int) -> str:
    value = segment.element(index)
    if not value:
        raise Invalid835(f"{segment.id}{index:02d} is required", segment)
    return value


def _date(segment: Segment, index: int) -> date:
    value = _element(segment, index)
    try:
        return parse_date(value)
    except ValueError as error:
        raise Invalid835(f"{segment.id}{index:02d}: {error}", segment) from None


def _first(
    segments: Sequence[Segment], segment_id: str, qualifier: str | None = None
) -> Segment | None:
    """The first ``segment_id`` segment, with ``qualifier`` as its first element when given."""
    return next(
        (
            s
            for s in segments
            if s.id == segment_id and (qualifier is None or s.element(1) == qualifier)
        ),
        None,
    )


def _required(segments: Sequence[Segment], segment_id: str, header: Segment) -> Segment:
    found = _first(segments, segment_id)
    if found is None:
        raise Invalid835(f"the advice has no {segment_id}", header)
    return found
