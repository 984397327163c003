"""A payer's X12 271 (005010X279A1) read into an ``EligibilityResponse``.

A 271 is a hierarchy of HL loops: the payer (HL 20: 2000A, named in 2100A), the provider who asked
(HL 21: 2000B/2100B), the subscriber (HL 22: 2000C/2100C) and possibly a dependent (HL 23:
2000D/2100D). The subscriber and dependent carry their benefits as EB loops (2110C/2110D), each
EB followed by its own dates (DTP) and messages (MSG). A payer that cannot answer puts an AAA
segment in the loop it objects to, e.g. subscriber not found (75) in 2100C, or unable to respond
now (42) in 2100A.

Anything that is not a well-formed 271 raises ``Malformed271`` saying what and at which segment:
guessing at a document that decides who pays a bill would put a wrong guess into billing.
Segments this reader does not interpret (addresses, contacts, the 2120 benefit-related entities
between LS and LE, ...) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from services.eligibility.domain.coverage import (
    PLAN_LEVEL_SERVICE_TYPE,
    Benefit,
    BenefitKind,
    EligibilityResponse,
    Member,
    Rejection,
    RejectionSource,
    ResponseStatus,
    TimePeriod,
)
from shared.money import MINOR_UNITS
from shared.x12 import (
    Interchange,
    Segment,
    X12SyntaxError,
    parse_date,
    parse_date_range,
    parse_decimal,
    parse_interchange,
)

IMPLEMENTATION_GUIDE = "005010X279A1"
CURRENCY = "USD"  # X12 5010 health care transactions are US-only

# AAA03 reject reason codes (X12 element 901) that 271s use, as the guide names them.
REJECT_REASONS: dict[str, str] = {
    "04": "Authorized Quantity Exceeded",
    "15": "Required application data missing",
    "33": "Input Errors",
    "35": "Out of Network",
    "41": "Authorization/Access Restrictions",
    "42": "Unable to Respond at Current Time",
    "43": "Invalid/Missing Provider Identification",
    "44": "Invalid/Missing Provider Name",
    "45": "Invalid/Missing Provider Specialty",
    "46": "Invalid/Missing Provider Phone Number",
    "47": "Invalid/Missing Provider State",
    "48": "Invalid/Missing Referring Provider Identification Number",
    "49": "Provider is Not Primary Care Physician",
    "50": "Provider Ineligible for Inquiries",
    "51": "Provider Not on File",
    "52": "Service Dates Not Within Provider Plan Enrollment",
    "53": "Inquired Benefit Inconsistent with Provider Type",
    "54": "Inappropriate Product/Service ID Qualifier",
    "55": "Inappropriate Product/Service ID",
    "56": "Inappropriate Date",
    "57": "Invalid/Missing Date(s) of Service",
    "58": "Invalid/Missing Date-of-Birth",
    "60": "Date of Birth Follows Date(s) of Service",
    "61": "Date of Death Precedes Date(s) of Service",
    "62": "Date of Service Not Within Allowable Inquiry Period",
    "63": "Date of Service in Future",
    "64": "Invalid/Missing Patient ID",
    "65": "Invalid/Missing Patient Name",
    "66": "Invalid/Missing Patient Gender Code",
    "67": "Patient Not Found",
    "68": "Duplicate Patient ID Number",
    "69": "Inconsistent with Patient's Age",
    "70": "Inconsistent with Patient's Gender",
    "71": "Patient Birth Date Does Not Match That for the Patient on the Database",
    "72": "Invalid/Missing Subscriber/Insured ID",
    "73": "Invalid/Missing Subscriber/Insured Name",
    "74": "Invalid/Missing Subscriber/Insured Gender Code",
    "75": "Subscriber/Insured Not Found",
    "76": "Duplicate Subscriber/Insured ID Number",
    "77": "Subscriber Found, Patient Not Found",
    "78": "Subscriber/Insured Not in Group/Plan Identified",
    "79": "Invalid Participant Identification",
    "80": "No Response received - Transaction Terminated",
    "97": "Invalid or Missing Provider Address",
    "98": "Experimental Service or Procedure",
    "AA": "Authorization Number Not Found",
    "AE": "Requires Primary Care Physician Authorization",
    "AF": "Invalid/Missing Diagnosis Code(s)",
    "AG": "Invalid/Missing Procedure Code(s)",
    "AO": "Additional Patient Condition Information Required",
    "CI": "Certification Information Does Not Match Patient",
    "E8": "Requires Medical Review",
    "IA": "Invalid Authorization Number Format",
    "MA": "Missing Authorization",
    "T4": "Payer Name or Identifier Missing",
}

# EB01 -> kind; 2..5 are forms of active coverage (capitated, pending investigation).
BENEFIT_KINDS: dict[str, BenefitKind] = {
    "1": BenefitKind.ACTIVE,
    **dict.fromkeys(("2", "3", "4", "5"), BenefitKind.ACTIVE_FULL_RISK_CAPITATION),
    **dict.fromkeys(("6", "7", "8"), BenefitKind.INACTIVE),
    "A": BenefitKind.COINSURANCE,
    "B": BenefitKind.COPAY,
    "C": BenefitKind.DEDUCTIBLE,
    "D": BenefitKind.BENEFIT_DESCRIPTION,
    "E": BenefitKind.EXCLUSIONS,
    "F": BenefitKind.LIMITATIONS,
    "G": BenefitKind.OUT_OF_POCKET,
    "I": BenefitKind.NON_COVERED,
    "J": BenefitKind.COST_CONTAINMENT,
    "R": BenefitKind.OTHER_OR_ADDITIONAL_PAYER,
}
ACTIVE_KINDS = frozenset({BenefitKind.ACTIVE, BenefitKind.ACTIVE_FULL_RISK_CAPITATION})

TIME_PERIODS: dict[str, TimePeriod] = {
    "7": TimePeriod.DAY,
    "22": TimePeriod.SERVICE_YEAR,
    "23": TimePeriod.CALENDAR_YEAR,
    "25": TimePeriod.CONTRACT,
    "26": TimePeriod.EPISODE,
    "27": TimePeriod.VISIT,
    "29": TimePeriod.REMAINING,
    "32": TimePeriod.LIFETIME,
}

INACTIVE_DESCRIPTIONS = {
    "6": "Coverage inactive",
    "7": "Coverage inactive: pending eligibility update",
    "8": "Coverage inactive: pending investigation",
}

# DTP01 qualifiers that bound coverage, most specific first: eligibility (356/357, 307), then the
# plan (291, 346/347). A range (RD8) gives both ends; a single date (D8) of 291 or 307 its begin.
_BEGIN_QUALIFIERS = ("356", "307", "291", "346")
_END_QUALIFIERS = ("357", "307", "291", "347")
_END_ONLY = frozenset({"357", "347"})

_LOOP_LETTERS = {"20": "A", "21": "B", "22": "C", "23": "D"}
_PARENT_LEVEL = {"21": "20", "22": "21", "23": "22"}


class Malformed271(ValueError):
    """The document is not a well-formed 271; the message says what is wrong and where."""


def parse_271(text: str) -> EligibilityResponse:
    """Read a payer's answer. Raises ``Malformed271`` for anything that is not a well-formed 271."""
    try:
        interchange = parse_interchange(text)
    except X12SyntaxError as error:
        raise Malformed271(f"not a well-formed X12 interchange: {error}") from error
    body = _the_271(interchange)
    return _Answer.read(body).response()


def _the_271(interchange: Interchange) -> Sequence[Segment]:
    """The body of the one 271 transaction set in the interchange."""
    transaction_sets = interchange.transaction_sets
    if not transaction_sets:
        if interchange.acknowledgments:
            ta1 = interchange.acknowledgments[0]
            raise Malformed271(
                f"the interchange holds no 271 but a TA1 acknowledgment "
                f"(TA104 {ta1.element(4)!r}, note {ta1.element(5)!r})"
            )
        raise Malformed271("the interchange holds no transaction set")
    if len(transaction_sets) > 1:
        raise Malformed271(
            f"expected one 271 answering one inquiry, the interchange holds {len(transaction_sets)}"
        )
    [transaction_set] = transaction_sets
    header = transaction_set.header
    group = next(group for group in interchange.groups if group.transaction_sets)
    if transaction_set.id != "271":
        raise _malformed(header, f"a {transaction_set.id!r} transaction set, not a 271")
    if group.functional_id != "HB" or group.version != IMPLEMENTATION_GUIDE:
        raise _malformed(
            group.header,
            f"announces {group.functional_id!r} {group.version!r}; "
            f"a 271 is HB {IMPLEMENTATION_GUIDE}",
        )
    if transaction_set.implementation_reference not in ("", IMPLEMENTATION_GUIDE):
        raise _malformed(
            header,
            f"ST03 {transaction_set.implementation_reference!r} is not {IMPLEMENTATION_GUIDE}",
        )
    return transaction_set.body


def _malformed(segment: Segment, message: str) -> Malformed271:
    return Malformed271(f"{segment.id} at segment {segment.position}: {message}")


@dataclass
class _Level:
    """One HL loop: the HL, its 2000 segments before the name, its 2100 name loop (NM1 up to the
    first EB) and its 2110 benefit loops (each EB with the segments that follow it)."""

    hl: Segment
    header: list[Segment] = field(default_factory=list)
    name: list[Segment] = field(default_factory=list)
    benefits: list[list[Segment]] = field(default_factory=list)

    @property
    def code(self) -> str:
        return self.hl.element(3)

    def loop(self, prefix: str) -> str:
        """The guide's name of a loop of this level: ``loop("2100")`` of a subscriber is 2100C."""
        return f"{prefix}{_LOOP_LETTERS[self.code]}"


def _first(
    segments: Iterable[Segment], segment_id: str, qualifier: str | None = None
) -> Segment | None:
    """The first ``segment_id`` among ``segments`` (whose element 1 is ``qualifier``, if given)."""
    return next(
        (s for s in segments if s.id == segment_id and qualifier in (None, s.element(1))), None
    )


@dataclass
class _Answer:
    """The HL levels of one 271: one payer, at most one receiver and subscriber, any dependents."""

    payer: _Level
    payer_name: Segment  # the NM1 of 2100A
    receiver: _Level | None
    subscriber: _Level | None
    dependents: list[_Level]

    @classmethod
    def read(cls, body: Sequence[Segment]) -> _Answer:
        if not body or body[0].id != "BHT":
            raise Malformed271("a 271 starts with BHT after ST")
        levels = _levels(body[1:])
        by_code: dict[str, list[_Level]] = {code: [] for code in _LOOP_LETTERS}
        for level in levels:
            by_code[level.code].append(level)
        for code, name in (
            ("20", "payer (2000A)"),
            ("21", "receiver (2000B)"),
            ("22", "subscriber (2000C)"),
        ):
            if len(by_code[code]) > 1:
                positions = ", ".join(str(level.hl.position) for level in by_code[code])
                raise Malformed271(
                    f"an answer to one inquiry has one {name} loop; "
                    f"HL {code} at segments {positions}"
                )
        if not by_code["20"]:
            raise Malformed271("the 271 has no payer loop (HL *20, loop 2000A)")
        payer = by_code["20"][0]
        payer_name = _first(payer.name, "NM1")
        if payer_name is None:
            raise _malformed(payer.hl, "the payer loop has no NM1 naming the payer (loop 2100A)")
        return cls(
            payer=payer,
            payer_name=payer_name,
            receiver=next(iter(by_code["21"]), None),
            subscriber=next(iter(by_code["22"]), None),
            dependents=by_code["23"],
        )

    def response(self) -> EligibilityResponse:
        rejections, refused = self._rejections()
        if self.subscriber is None and not refused:
            raise Malformed271(
                "the 271 has no subscriber loop (HL *22, loop 2000C) and no AAA saying why"
            )
        loops = [(level, loop) for level in self._patient_levels() for loop in level.benefits]
        benefits = [_benefit(loop) for _, loop in loops]
        # The loop stating the coverage: the first active one, else the first inactive one.
        stating = [i for i, b in enumerate(benefits) if b.kind in ACTIVE_KINDS] or [
            i for i, b in enumerate(benefits) if b.kind is BenefitKind.INACTIVE
        ]
        # Where coverage dates may be, most specific first: the stating EB loop, its patient's name
        # loop (2100D for a dependent), the subscriber's name loop (2100C).
        date_places = [self.subscriber.name] if self.subscriber else []
        if refused or not stating:
            if not rejections:
                raise Malformed271(
                    "the 271 states neither the coverage (EB01 1 to 8) nor why it cannot (AAA)"
                )
            status = ResponseStatus.REJECTED
        else:
            status_level, (status_eb, *status_followers) = loops[stating[0]]
            date_places[:0] = [status_followers, status_level.name]
            if benefits[stating[0]].kind in ACTIVE_KINDS:
                status = ResponseStatus.ACTIVE
            else:
                status = ResponseStatus.INACTIVE
                inactive = Rejection(
                    source=RejectionSource.INACTIVE,
                    code="inactive",
                    description=INACTIVE_DESCRIPTIONS[status_eb.element(1)],
                    loop=status_level.loop("2110"),
                )
                rejections.insert(0, inactive)
        coverage_from, coverage_to = _coverage_dates([_dates(place) for place in date_places])
        return EligibilityResponse(
            trace_number=self._trace_number(),
            payer_name=self.payer_name.element(3) or None,
            payer_identifier=self.payer_name.element(9) or None,
            subscriber=self._member(rejected=bool(rejections)),
            status=status,
            plan_name=_plan_name(benefits) if status is ResponseStatus.ACTIVE else None,
            coverage_from=coverage_from,
            coverage_to=coverage_to,
            benefits=benefits,
            rejections=rejections,
            currency=CURRENCY,
        )

    def _patient_levels(self) -> list[_Level]:
        return [self.subscriber, *self.dependents] if self.subscriber else []

    def _rejections(self) -> tuple[list[Rejection], bool]:
        """Every AAA in document order, and whether one refuses the inquiry as a whole (rather than
        one service type of it, which a 2110 loop's AAA does)."""
        rejections: list[Rejection] = []
        refused = False
        levels = [self.payer, *([self.receiver] if self.receiver else []), *self._patient_levels()]
        for level in levels:
            places = [(level.header, level.loop("2000")), (level.name, level.loop("2100"))]
            places += [(loop, level.loop("2110")) for loop in level.benefits]
            for segments, loop in places:
                for aaa in (s for s in segments if s.id == "AAA"):
                    rejections.append(_rejection(aaa, loop))
                    refused = refused or not loop.startswith("2110")
        return rejections, refused

    def _trace_number(self) -> str | None:
        """Our TRN02 as the payer echoes it: TRN01 2 (referenced transaction) in 2000C, or in 2000D
        when the payer answered at the dependent level. TRN01 1 is the payer's own trace."""
        for level in self._patient_levels():
            echo = _first(level.header, "TRN", "2")
            if echo is not None:
                return echo.element(2) or None
        return None

    def _member(self, *, rejected: bool) -> Member | None:
        if self.subscriber is None:
            return None
        name = _first(self.subscriber.name, "NM1")
        if name is None or name.element(1) != "IL":
            raise _malformed(self.subscriber.hl, "the subscriber loop has no NM1*IL (loop 2100C)")
        if not name.element(9):
            if rejected:
                return None
            raise _malformed(name, "the subscriber has no member id (NM109)")
        group = _first(self.subscriber.name, "REF", "6P")
        demographics = _first(self.subscriber.name, "DMG")
        return Member(
            member_id=name.element(9),
            family_name=name.element(3) or None,
            given_name=name.element(4) or None,
            date_of_birth=_date_of_birth(demographics) if demographics else None,
            group_number=(group.element(2) or None) if group else None,
        )


def _plan_name(benefits: Sequence[Benefit]) -> str | None:
    """EB05 of the active loop for the plan as a whole (service type 30 or none), else of any
    active loop that names one."""
    active = [b for b in benefits if b.kind in ACTIVE_KINDS and b.plan_description]
    plan_level = [
        b for b in active if not b.service_types or PLAN_LEVEL_SERVICE_TYPE in b.service_types
    ]
    chosen = next(iter(plan_level or active), None)
    return chosen.plan_description if chosen else None


def _levels(segments: Sequence[Segment]) -> list[_Level]:
    """Group the segments after BHT into HL levels, checking the hierarchy as it goes."""
    levels: list[_Level] = []
    codes_by_id: dict[str, str] = {}
    in_related_entity = False  # between LS and LE: loop 2120, the entities a benefit refers to
    for segment in segments:
        if segment.id == "HL":
            _check_hl(segment, codes_by_id)
            codes_by_id[segment.element(1)] = segment.element(3)
            levels.append(_Level(segment))
            in_related_entity = False
            continue
        if not levels:
            raise _malformed(segment, "expected the payer's HL after BHT")
        level = levels[-1]
        if segment.id == "EB":
            level.benefits.append([segment])
            in_related_entity = False
        elif level.benefits:
            if segment.id in ("LS", "LE"):
                in_related_entity = segment.id == "LS"
            elif not in_related_entity:
                level.benefits[-1].append(segment)
        elif level.name or segment.id == "NM1":
            level.name.append(segment)
        else:
            level.header.append(segment)
    return levels


def _check_hl(hl: Segment, codes_by_id: dict[str, str]) -> None:
    hl_id, parent_id, code = hl.element(1), hl.element(2), hl.element(3)
    if code not in _LOOP_LETTERS:
        raise _malformed(
            hl,
            f"HL03 {code!r} is not a 271 level "
            "(20 payer, 21 receiver, 22 subscriber, 23 dependent)",
        )
    if not hl_id or hl_id in codes_by_id:
        raise _malformed(hl, f"HL01 {hl_id!r} is missing or used twice")
    expected_parent = _PARENT_LEVEL.get(code)
    if expected_parent is None:
        if parent_id:
            raise _malformed(hl, "the payer level (HL03 20) has no parent")
    elif codes_by_id.get(parent_id) != expected_parent:
        raise _malformed(hl, f"HL02 {parent_id!r} must be an earlier HL of level {expected_parent}")


def _rejection(aaa: Segment, loop: str) -> Rejection:
    code = aaa.element(3)
    if not code:
        raise _malformed(aaa, "AAA03 (the reject reason) is missing")
    return Rejection(
        source=RejectionSource.AAA,
        code=code,
        description=REJECT_REASONS.get(code, f"Reject reason {code}"),
        follow_up_action=aaa.element(4) or None,
        loop=loop,
    )


def _benefit(loop: Sequence[Segment]) -> Benefit:
    eb, followers = loop[0], loop[1:]
    info_code = eb.element(1)
    if not info_code:
        raise _malformed(eb, "EB01 (the eligibility or benefit code) is missing")
    quantity = f"{eb.element(9)}:{eb.element(10)}" if eb.element(9) else None
    return Benefit(
        kind=BENEFIT_KINDS.get(info_code, BenefitKind.OTHER),
        info_code=info_code,
        coverage_level=eb.element(2) or None,
        service_types=eb.repetitions(3),
        insurance_type=eb.element(4) or None,
        plan_description=eb.element(5) or None,
        time_period=TIME_PERIODS.get(eb.element(6), TimePeriod.OTHER) if eb.element(6) else None,
        amount=_minor_units(eb, 7) if eb.element(7) else None,
        percent_bp=_basis_points(eb, 8) if eb.element(8) else None,
        quantity=quantity,
        authorization_required=_yes_no(eb.element(11)),
        in_network=_yes_no(eb.element(12)),
        procedure_code=":".join(eb.components(13)) or None,
        # Benefit.dates holds one date per qualifier: a range (RD8) keeps its begin.
        dates={qualifier: span.first for qualifier, span in _dates(followers).items()},
        messages=[s.element(1) for s in followers if s.id == "MSG" and s.element(1)],
    )


def _minor_units(segment: Segment, index: int) -> int:
    """A dollar amount (e.g. EB07 '1500' or '25.5') in cents; fractions of a cent are refused."""
    value = segment.element(index)
    try:
        amount = parse_decimal(value) * 10 ** MINOR_UNITS[CURRENCY]
    except ValueError:
        raise _malformed(segment, f"{segment.id}{index:02d} {value!r} is not an amount") from None
    if amount != amount.to_integral_value():
        raise _malformed(segment, f"{segment.id}{index:02d} {value!r} has fractions of a cent")
    return int(amount)


def _basis_points(segment: Segment, index: int) -> int:
    """A percentage sent as a decimal fraction (EB08 '0.2' is 20%) in basis points (2000)."""
    value = segment.element(index)
    try:
        fraction = parse_decimal(value)
    except ValueError:
        raise _malformed(
            segment, f"{segment.id}{index:02d} {value!r} is not a percentage"
        ) from None
    if not Decimal(0) <= fraction <= Decimal(1):
        raise _malformed(
            segment, f"{segment.id}{index:02d} {value!r} is not a fraction from 0 to 1 (0.2 is 20%)"
        )
    basis_points = fraction * 10_000
    if basis_points != basis_points.to_integral_value():
        raise _malformed(segment, f"{segment.id}{index:02d} {value!r} is finer than a basis point")
    return int(basis_points)


def _yes_no(value: str) -> bool | None:
    """Y and N as booleans; W (not applicable), U (unknown) or nothing as None."""
    return {"Y": True, "N": False}.get(value)


@dataclass(frozen=True)
class _Span:
    """A DTP's date: ``last`` is set only for a range (RD8)."""

    first: date
    last: date | None


def _dates(segments: Iterable[Segment]) -> dict[str, _Span]:
    """The DTP segments among ``segments`` by qualifier (DTP01); the first of a qualifier wins."""
    spans: dict[str, _Span] = {}
    for dtp in (s for s in segments if s.id == "DTP"):
        qualifier, date_format, value = dtp.element(1), dtp.element(2), dtp.element(3)
        try:
            if date_format == "D8":
                span = _Span(parse_date(value), None)
            elif date_format == "RD8":
                span = _Span(*parse_date_range(value))
            else:
                raise ValueError(f"DTP02 {date_format!r} is not D8 or RD8")
        except ValueError as error:
            raise _malformed(dtp, str(error)) from None
        spans.setdefault(qualifier, span)
    return spans


def _coverage_dates(
    spans_most_specific_first: Sequence[dict[str, _Span]],
) -> tuple[date | None, date | None]:
    """Begin and end of coverage: a benefit loop's dates override its patient's (the guide sends
    them there only when they differ), and eligibility dates override plan dates."""
    begin = end = None
    for spans in spans_most_specific_first:
        for qualifier in _BEGIN_QUALIFIERS:
            if begin is None and qualifier in spans:
                begin = spans[qualifier].first
        for qualifier in _END_QUALIFIERS:
            if end is None and qualifier in spans:
                span = spans[qualifier]
                end = span.last or (span.first if qualifier in _END_ONLY else None)
    return begin, end


def _date_of_birth(dmg: Segment) -> date:
    if dmg.element(1) != "D8":
        raise _malformed(dmg, f"DMG01 {dmg.element(1)!r} is not D8")
    try:
        return parse_date(dmg.element(2))
    except ValueError as error:
        raise _malformed(dmg, str(error)) from None
