"""A clearinghouse simulator: a stand-in that answers X12 270 inquiries with 271s from a table of
made-up members, for development (``make run``) and tests. It is not a payer integration.

Each member record says what the "payer" knows: name, date of birth, group, plan, whether
coverage is active and between which dates, the benefits (EB loops) to answer with, the
``dependents`` on the member's plan, and a ``behaviour`` that makes the simulated payer misbehave
the ways real ones do: answer late (``delay``), answer with a broken document (``malformed``) or not
at all (``unavailable``, 503). Records can be replaced at runtime (``PUT /members/{id}``) and
``GET /stats`` counts the 270s received per member id, so tests can see retries happen.

A 270 about a dependent (a 2000D loop) is answered the way payers do: the subscriber is found by
member id (NM1*IL) and answered for in 2100C, then the patient is looked up among the subscriber's
dependents by name and date of birth and answered for in 2000D/2100D/2110D, with the dependent's
own status and benefits when the record gives them and the subscriber's otherwise. An unknown
subscriber is AAA 75 in 2100C; an unknown dependent of a known subscriber is AAA 67 in 2100D.

It also takes 837P claims (``POST /x12/837``) and answers each interchange with a 999
acknowledgment (simulators/clearinghouse/claims.py); ``GET /claims`` lists what it received. A test
then has the payer pay claims it received (``POST /x12/835``): it answers with the 835 remittance
advice for them, adjudicated as the request says (simulators/clearinghouse/remittance.py).

It writes its 271s itself from the generic pieces of ``shared.x12`` and never imports the
eligibility service: a round trip through it checks the service's 270 writer and 271 reader
against an independently written counterpart, not against themselves.
"""

from __future__ import annotations

import asyncio
import itertools
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from shared.http.problems import Problem, problem_response
from shared.x12 import (
    Repeated,
    Segment,
    Separators,
    X12SyntaxError,
    format_date,
    format_decimal,
    parse_date,
    parse_interchange,
    render,
    wrap_functional_group,
    wrap_interchange,
    wrap_transaction_set,
)
from simulators.clearinghouse.claims import Invalid837, ReceivedClaim, read_837, write_999
from simulators.clearinghouse.remittance import (
    CasAdjustment,
    LineInstruction,
    ProviderLevelAdjustment,
    Remittance,
    RemittancePayee,
    RemittancePayer,
    adjudicate,
    write_835,
)

BUNDLED_MEMBERS = Path(__file__).parent / "members.toml"
X12_MEDIA_TYPE = "application/edi-x12"
IMPLEMENTATION_GUIDE = "005010X279A1"
TRANSACTION_SET_CONTROL_NUMBER = "0001"
# TRN03 of the simulator's own trace numbers: '9' and a made-up 9-digit company id.
SIMULATOR_ORIGINATOR = "9000000001"


class SimulatedBenefit(BaseModel):
    """One EB loop the simulated payer answers with, in X12's own codes."""

    model_config = ConfigDict(extra="forbid")

    info_code: str = Field(
        pattern=r"^[0-9A-Z]{1,2}$",
        description="EB01: A coinsurance, B copay, C deductible, "
        "G out of pocket, I non covered, ...",
    )
    coverage_level: str | None = Field("IND", description="EB02: IND individual, FAM family, ...")
    service_types: list[str] = Field(
        ["30"], min_length=1, description="EB03: 30 plan, 98 office visit, UC, ..."
    )
    time_period: str | None = Field(
        None, description="EB06: 23 calendar year, 29 remaining, 27 visit, ..."
    )
    amount: Decimal | None = Field(
        None, ge=0, decimal_places=2, description="EB07 in dollars, e.g. '1500.00'"
    )
    percent: Decimal | None = Field(
        None, ge=0, le=1, description="EB08 as a fraction: '0.2' is 20%"
    )
    in_network: bool | None = Field(
        None, description="EB12: true Y, false N, null W (either network)"
    )


class SimulatedDependent(BaseModel):
    """A patient on a member's plan without a member id of their own (a child, a spouse), found by
    name and date of birth as payers find the patient of a 2000D loop."""

    model_config = ConfigDict(extra="forbid")

    given: str
    family: str
    dob: date | None = None
    status: Literal["active", "inactive"] | None = Field(
        None, description="The dependent's own, e.g. a child who aged out; absent: the member's"
    )
    benefits: list[SimulatedBenefit] | None = Field(
        None, description="The dependent's own EB loops, not the member's; absent: the member's"
    )

    def matches(self, given: str, family: str, dob: date | None) -> bool:
        """Whether a 270's patient is this dependent: the same names whatever their case, and the
        same date of birth unless one side does not know it."""
        return (
            self.given.casefold() == given.casefold()
            and self.family.casefold() == family.casefold()
            and (self.dob is None or dob is None or self.dob == dob)
        )


class SimulatedMember(BaseModel):
    """What the simulated payer knows about one member, and how it behaves when asked."""

    model_config = ConfigDict(extra="forbid")

    member_id: str = Field(min_length=1)
    given: str
    family: str
    dob: date | None = None
    group: str | None = None
    plan_name: str
    status: Literal["active", "inactive"] = "active"
    coverage_from: date | None = None
    coverage_to: date | None = None
    benefits: list[SimulatedBenefit] = []
    dependents: list[SimulatedDependent] = []
    behaviour: Literal["normal", "delay", "malformed", "unavailable"] = "normal"
    delay_seconds: float = Field(
        0.0, ge=0, le=300, description="How long `delay` waits before answering"
    )

    def covered_on(self, day: date, dependent: SimulatedDependent | None = None) -> bool:
        """Whether the member, or ``dependent`` on the member's plan, is covered on ``day``: the
        plan's dates bound both, a dependent's own status overrides the member's."""
        status = dependent.status if dependent and dependent.status else self.status
        return (
            status == "active"
            and (self.coverage_from is None or self.coverage_from <= day)
            and (self.coverage_to is None or day <= self.coverage_to)
        )

    def benefits_of(self, dependent: SimulatedDependent | None) -> list[SimulatedBenefit]:
        """The EB loops to answer for the member, or for ``dependent`` when it has its own."""
        if dependent is None or dependent.benefits is None:
            return self.benefits
        return dependent.benefits

    def find_dependent(
        self, given: str, family: str, dob: date | None
    ) -> SimulatedDependent | None:
        """The member's dependent that a 270's patient (NM1*03 and DMG of 2100D) is, if any."""
        return next((d for d in self.dependents if d.matches(given, family, dob)), None)


class AdjustmentRequest(BaseModel):
    """One CAS reason a test wants on a line: group, CARC and amount in cents."""

    model_config = ConfigDict(extra="forbid")

    group: Literal["CO", "PR", "OA", "PI"]
    reason_code: str = Field(pattern=r"^[A-Z0-9]{1,5}$", examples=["45"])
    amount: int = Field(ge=0, description="Minor units")


class LineRemittanceRequest(BaseModel):
    """How to adjudicate one line of a received claim, named by its REF*6R."""

    model_config = ConfigDict(extra="forbid")

    line_reference: str = Field(min_length=1)
    paid: int | None = Field(
        None, ge=0, description="Minor units; absent: the charge less the adjustments"
    )
    adjustments: list[AdjustmentRequest] = Field(
        [], description="What the charge does not pay is written off as CO-45 unless said here"
    )


class ClaimRemittanceRequest(BaseModel):
    """How to adjudicate one received claim; lines left out are paid in full."""

    model_config = ConfigDict(extra="forbid")

    claim_reference: str = Field(min_length=1, description="CLM01 of a claim received")
    lines: list[LineRemittanceRequest] = []
    denied: bool = Field(
        False, description="Deny every line (CLP02 4): paid nothing, CO-50 unless adjusted here"
    )


class ProviderAdjustmentRequest(BaseModel):
    """One PLB adjustment: positive takes from the payment, negative (interest) adds to it."""

    model_config = ConfigDict(extra="forbid")

    reason_code: str = Field(pattern=r"^[A-Z0-9]{2}$", examples=["L6", "WO"])
    reference: str | None = None
    amount: int = Field(description="Minor units")


class RemittanceRequest(BaseModel):
    """A payment for claims the simulator received, to be answered with an 835."""

    model_config = ConfigDict(extra="forbid")

    trace_number: str = Field(pattern=r"^[A-Za-z0-9-]{1,50}$", description="TRN02")
    payment_date: date
    method: Literal["ACH", "CHK"] = "ACH"
    claims: list[ClaimRemittanceRequest] = Field(min_length=1)
    provider_adjustments: list[ProviderAdjustmentRequest] = []


class Invalid270(ValueError):
    """The request is not a 270 the simulator can answer; answered with HTTP 400."""


@dataclass(frozen=True)
class Inquiry:
    """What the simulator needs from a 270 to answer it."""

    sender_id: str
    receiver_id: str
    production: bool
    separators: Separators
    reference: str  # BHT03, echoed in the 271's BHT
    payer: Segment  # NM1 of 2100A, echoed
    provider: Segment  # NM1 of 2100B, echoed
    trace: Segment  # TRN of the patient's level (2000D, else 2000C), echoed as TRN*2
    subscriber: Segment  # NM1*IL of 2100C
    dependent: Segment | None  # NM1*03 of 2100D when the patient is not the subscriber
    dependent_dob: date | None  # DMG02 of 2100D
    service_date: date | None  # when the 270 names none, the payer answers for the day it is asked
    service_types: list[str]

    @property
    def member_id(self) -> str:
        return self.subscriber.element(9)


def read_270(text: str) -> Inquiry:
    """The parts of a 270 the answer needs. Raises ``Invalid270`` saying what is wrong."""
    try:
        interchange = parse_interchange(text)
    except X12SyntaxError as error:
        raise Invalid270(str(error)) from error
    transaction_sets = interchange.transaction_sets
    if len(transaction_sets) != 1 or transaction_sets[0].id != "270":
        raise Invalid270(
            f"expected one 270 transaction set, got {[ts.id for ts in transaction_sets]}"
        )
    body = transaction_sets[0].body
    if not body or body[0].id != "BHT":
        raise Invalid270("a 270 starts with BHT after ST")
    levels = _levels(body[1:])
    payer = _name(levels, "20", "the payer (2100A)")
    provider = _name(levels, "21", "the provider (2100B)")
    subscriber = _name(levels, "22", "the subscriber (2100C)")
    if subscriber.element(1) != "IL" or not subscriber.element(9):
        raise Invalid270(
            f"NM1 at segment {subscriber.position} is not a subscriber (NM1*IL) with a member id"
        )
    dependent: Segment | None = None
    dependent_dob: date | None = None
    if "23" in levels:
        dependent = _name(levels, "23", "the dependent (2100D)")
        if dependent.element(1) != "03" or not dependent.element(3):
            raise Invalid270(
                f"NM1 at segment {dependent.position} is not a dependent (NM1*03) "
                "with a family name"
            )
        demographics = _first(levels["23"], "DMG")
        dependent_dob = _date(demographics, 2) if demographics else None
    # The question (trace, date of service, service types) is asked in the patient's level.
    patient_loop = "2000D" if dependent else "2000C"
    question = levels["23" if dependent else "22"]
    trace = _first(question, "TRN")
    if trace is None:
        raise Invalid270(f"the 270 has no TRN in the patient's loop ({patient_loop})")
    service_types = [s.element(1) for s in question if s.id == "EQ"]
    if not service_types:
        raise Invalid270(f"the 270 asks about no service type (EQ in {patient_loop})")
    service_date = None
    for dtp in (s for s in question if s.id == "DTP" and s.element(1) == "291"):
        service_date = _date(dtp, 3)
    return Inquiry(
        sender_id=interchange.sender_id,
        receiver_id=interchange.receiver_id,
        production=interchange.production,
        separators=interchange.separators,
        reference=body[0].element(3),
        payer=payer,
        provider=provider,
        trace=trace,
        subscriber=subscriber,
        dependent=dependent,
        dependent_dob=dependent_dob,
        service_date=service_date,
        service_types=service_types,
    )


def _levels(segments: Sequence[Segment]) -> dict[str, list[Segment]]:
    """The segments of each HL level by HL03. The simulator answers one inquiry per 270, so each
    level appears once."""
    levels: dict[str, list[Segment]] = {}
    current: list[Segment] | None = None
    for segment in segments:
        if segment.id == "HL":
            code = segment.element(3)
            if code in levels:
                raise Invalid270(
                    f"HL at segment {segment.position}: a second level {code}; "
                    "the simulator answers one inquiry per 270"
                )
            current = levels[code] = []
        elif current is None:
            raise Invalid270(f"{segment.id} at segment {segment.position}: expected HL after BHT")
        else:
            current.append(segment)
    return levels


def _name(levels: Mapping[str, Sequence[Segment]], code: str, who: str) -> Segment:
    """The NM1 of level ``code`` (HL03), naming ``who``."""
    name = _first(levels.get(code, ()), "NM1")
    if name is None:
        raise Invalid270(f"the 270 has no NM1 naming {who}")
    return name


def _first(segments: Sequence[Segment], segment_id: str) -> Segment | None:
    return next((s for s in segments if s.id == segment_id), None)


def _date(segment: Segment, index: int) -> date:
    """Element ``index`` of ``segment`` as a CCYYMMDD date (a DTP's D8, a DMG's birth date)."""
    try:
        return parse_date(segment.element(index))
    except ValueError as error:
        raise Invalid270(f"{segment.id} at segment {segment.position}: {error}") from error


def write_271(
    inquiry: Inquiry,
    member: SimulatedMember | None,
    *,
    control_number: int,
    answered_at: datetime,
    broken: bool = False,
) -> str:
    """The 271 answering ``inquiry``: the patient's coverage and benefits, AAA 75 when there is no
    such member, AAA 67 when the member has no such dependent. ``broken`` miscounts SE01, the way a
    faulty payer system might."""
    traces = [
        Segment.of("TRN", "2", inquiry.trace.element(2), inquiry.trace.element(3)),
        Segment.of("TRN", "1", f"{control_number:09d}", SIMULATOR_ORIGINATOR),
    ]
    body = [
        Segment.of(
            "BHT",
            "0022",
            "11",
            inquiry.reference,
            format_date(answered_at),
            answered_at.strftime("%H%M"),
        ),
        Segment.of("HL", "1", "", "20", "1"),
        inquiry.payer,
        Segment.of("HL", "2", "1", "21", "1"),
        inquiry.provider,
        *_patient_levels(inquiry, member, traces, answered_at.date()),
    ]
    transaction_set = wrap_transaction_set(
        "271", TRANSACTION_SET_CONTROL_NUMBER, body, implementation_reference=IMPLEMENTATION_GUIDE
    )
    if broken:
        trailer = transaction_set[-1]
        transaction_set[-1] = Segment.of("SE", str(int(trailer.element(1)) + 1), trailer.element(2))
    group = wrap_functional_group(
        [transaction_set],
        functional_id="HB",
        sender_id=inquiry.receiver_id,
        receiver_id=inquiry.sender_id,
        control_number=control_number,
        created_at=answered_at,
        version=IMPLEMENTATION_GUIDE,
    )
    interchange = wrap_interchange(
        [group],
        sender_id=inquiry.receiver_id,
        receiver_id=inquiry.sender_id,
        control_number=control_number,
        created_at=answered_at,
        production=inquiry.production,
        separators=inquiry.separators,
    )
    return render(interchange, inquiry.separators, line_breaks=True)


def _patient_levels(
    inquiry: Inquiry, member: SimulatedMember | None, traces: list[Segment], today: date
) -> list[Segment]:
    """The subscriber's level (2000C) and, when the 270 asked about a dependent of a member found,
    the dependent's (2000D). The traces go in the level of the patient answered for; an AAA goes in
    the name loop of whoever could not be found, which echoes the name the 270 sent."""
    if member is None:
        return [
            Segment.of("HL", "3", "2", "22", "0"),
            *traces,
            inquiry.subscriber,
            Segment.of("AAA", "N", "", "75", "C"),  # Subscriber/Insured Not Found
        ]
    if inquiry.dependent is None:
        return [
            Segment.of("HL", "3", "2", "22", "0"),
            *traces,
            *_subscriber(member),
            *_eligibility(inquiry, member, None, today),
        ]
    dependent = member.find_dependent(
        given=inquiry.dependent.element(4),
        family=inquiry.dependent.element(3),
        dob=inquiry.dependent_dob,
    )
    if dependent is None:
        patient = [inquiry.dependent, Segment.of("AAA", "N", "", "67", "C")]  # Patient Not Found
    else:
        patient = [*_dependent(dependent), *_eligibility(inquiry, member, dependent, today)]
    return [
        Segment.of("HL", "3", "2", "22", "1"),
        *_subscriber(member),
        Segment.of("HL", "4", "3", "23", "0"),
        *traces,
        *patient,
    ]


def _subscriber(member: SimulatedMember) -> list[Segment]:
    """Loop 2100C as the payer has it on file: name, member id, group, date of birth."""
    segments = [
        Segment.of(
            "NM1", "IL", "1", member.family, member.given, "", "", "", "MI", member.member_id
        )
    ]
    if member.group:
        segments.append(Segment.of("REF", "6P", member.group))
    return segments + _demographics(member.dob)


def _dependent(dependent: SimulatedDependent) -> list[Segment]:
    """Loop 2100D as the payer has it on file: the dependent's name and date of birth."""
    return [
        Segment.of("NM1", "03", "1", dependent.family, dependent.given),
        *_demographics(dependent.dob),
    ]


def _demographics(dob: date | None) -> list[Segment]:
    """DMG with the date of birth on file; nothing when the record has none."""
    return [Segment.of("DMG", "D8", format_date(dob))] if dob else []


def _eligibility(
    inquiry: Inquiry, member: SimulatedMember, dependent: SimulatedDependent | None, today: date
) -> list[Segment]:
    """The plan's dates (in the patient's name loop) and the patient's EB loops (2110C or 2110D):
    active with the plan and its benefits when covered on the date of service, else inactive."""
    segments = []
    if member.coverage_from:
        segments.append(Segment.of("DTP", "346", "D8", format_date(member.coverage_from)))
    if member.coverage_to:
        segments.append(Segment.of("DTP", "347", "D8", format_date(member.coverage_to)))
    # Payers answer for the plan as a whole (30) as well as for each service type asked about.
    asked = Repeated(*dict.fromkeys(["30", *inquiry.service_types]))
    if not member.covered_on(inquiry.service_date or today, dependent):
        segments.append(Segment.of("EB", "6", "IND", asked))
        return segments
    segments.append(Segment.of("EB", "1", "IND", asked, "", member.plan_name))
    segments.extend(_benefit(benefit) for benefit in member.benefits_of(dependent))
    return segments


def _benefit(benefit: SimulatedBenefit) -> Segment:
    network = {True: "Y", False: "N", None: "W"}[benefit.in_network]
    return Segment.of(
        "EB",
        benefit.info_code,
        benefit.coverage_level or "",
        Repeated(*benefit.service_types),
        "",
        "",
        benefit.time_period or "",
        _decimal(benefit.amount),
        _decimal(benefit.percent),
        "",
        "",
        "",
        network,
    )


def _decimal(value: Decimal | None) -> str:
    return format_decimal(value) if value is not None else ""


def remittance_for(
    request: RemittanceRequest, claims: Sequence[ReceivedClaim], *, control_number: int
) -> Remittance:
    """The payment ``request`` asks for, of ``claims`` (the received claims it names, in order),
    by their payer to their billing provider. Raises ``ValueError`` when the claims were sent to
    different payers or by different providers (one 835 is one payment), or when the request
    adjudicates a line that is not there or pays and adjusts more than its charge."""
    parties = {
        (c.clearinghouse_id, c.submitter_id, c.payer_id, c.billing_provider_npi) for c in claims
    }
    if len(parties) > 1:
        raise ValueError("one 835 pays one provider for one payer; these claims differ")
    adjudications = [
        adjudicate(
            received,
            payer_claim_number=f"SIM{control_number:06d}{number:03d}",
            instructions=[
                LineInstruction(
                    line_reference=line.line_reference,
                    paid=line.paid,
                    adjustments=tuple(
                        CasAdjustment(a.group, a.reason_code, a.amount) for a in line.adjustments
                    ),
                )
                for line in claim.lines
            ],
            denied=claim.denied,
        )
        for number, (claim, received) in enumerate(zip(request.claims, claims, strict=True), 1)
    ]
    first = claims[0]
    return Remittance(
        payer=RemittancePayer(name=first.payer_name, identifier=first.payer_id),
        payee=RemittancePayee(name=first.billing_provider_name, npi=first.billing_provider_npi),
        trace_number=request.trace_number,
        payment_date=request.payment_date,
        method=request.method,
        claims=tuple(adjudications),
        provider_adjustments=tuple(
            ProviderLevelAdjustment(p.reason_code, p.amount, p.reference)
            for p in request.provider_adjustments
        ),
    )


def load_members(path: Path = BUNDLED_MEMBERS) -> dict[str, dict[str, Any]]:
    """Member records from a TOML file of ``[[members]]`` tables, by member id."""
    with path.open("rb") as file:
        records = tomllib.load(file).get("members", [])
    return {record["member_id"]: record for record in records}


def create_app(members: Mapping[str, Mapping[str, Any]]) -> FastAPI:
    """The simulator answering for ``members`` (member id -> record, as ``SimulatedMember``)."""
    table: dict[str, SimulatedMember] = {}
    for member_id, record in members.items():
        member = SimulatedMember.model_validate(record)
        if member.member_id != member_id:
            raise ValueError(f"member {member_id!r} is recorded as {member.member_id!r}")
        table[member_id] = member
    inquiries: Counter[str] = Counter()
    received: list[str] = []
    received_claims: dict[str, ReceivedClaim] = {}
    control_numbers = itertools.count(1)

    app = FastAPI(
        title="Clearinghouse simulator",
        description="A stand-in clearinghouse: answers X12 270s with 271s from made-up members, "
        "and takes X12 837P claims with a 999 acknowledgment.",
    )

    @app.post("/x12/270", summary="Answer a 270 eligibility inquiry with a 271")
    async def answer_270(request: Request) -> Response:
        try:
            inquiry = read_270((await request.body()).decode("utf-8"))
        except (Invalid270, UnicodeDecodeError) as error:
            return PlainTextResponse(f"999 rejected (AK9*R): {error}\n", status_code=400)
        inquiries[inquiry.member_id] += 1
        member = table.get(inquiry.member_id)
        behaviour = member.behaviour if member else "normal"
        if behaviour == "unavailable":
            return PlainTextResponse(
                "payer system unavailable\n", status_code=503, headers={"Retry-After": "1"}
            )
        if member and behaviour == "delay":
            await asyncio.sleep(
                member.delay_seconds
            )  # the payer being slow, to exercise client timeouts
        document = write_271(
            inquiry,
            member,
            control_number=next(control_numbers),
            answered_at=datetime.now(UTC),
            broken=behaviour == "malformed",
        )
        return Response(document, media_type=X12_MEDIA_TYPE)

    @app.post("/x12/837", summary="Take 837P claims and answer with a 999 acknowledgment")
    async def take_837(request: Request) -> Response:
        try:
            interchange, claims = read_837((await request.body()).decode("utf-8"))
        except (Invalid837, UnicodeDecodeError) as error:
            return PlainTextResponse(
                f"not an interchange of 837 claims: {error}\n", status_code=400
            )
        received.extend(claim.claim_reference for claim in claims)
        received_claims.update((claim.claim_reference, claim) for claim in claims)
        document = write_999(
            interchange,
            claims,
            table,
            control_number=next(control_numbers),
            answered_at=datetime.now(UTC),
        )
        return Response(document, media_type=X12_MEDIA_TYPE)

    @app.post(
        "/x12/835",
        summary="Pay claims received, answering with their 835 remittance advice",
        response_class=Response,
        responses={200: {"content": {X12_MEDIA_TYPE: {}}}},
    )
    async def pay_claims(body: RemittanceRequest, request: Request) -> Response:
        unknown = [
            c.claim_reference for c in body.claims if c.claim_reference not in received_claims
        ]
        if unknown:
            detail = f"no claim {', '.join(unknown)} was received"
            return problem_response(
                Problem(404, detail=detail, slug="unknown-claim"), request.url.path
            )
        claims = [received_claims[c.claim_reference] for c in body.claims]
        control_number = next(control_numbers)
        try:
            remittance = remittance_for(body, claims, control_number=control_number)
        except ValueError as error:
            return problem_response(Problem(422, detail=str(error)), request.url.path)
        document = write_835(
            remittance,
            sender_id=claims[0].clearinghouse_id,
            receiver_id=claims[0].submitter_id,
            control_number=control_number,
            created_at=datetime.now(UTC),
        )
        return Response(document, media_type=X12_MEDIA_TYPE)

    @app.get("/claims", summary="The claim references (CLM01) received, in order")
    async def claims_received() -> list[str]:
        return list(received)

    @app.put("/members/{member_id}", summary="Add or replace a member")
    async def put_member(member_id: str, member: SimulatedMember) -> SimulatedMember:
        if member.member_id != member_id:
            raise HTTPException(
                422, f"the body is member {member.member_id!r}, the path {member_id!r}"
            )
        table[member_id] = member
        return member

    @app.delete("/members/{member_id}", status_code=204, summary="Forget a member")
    async def delete_member(member_id: str) -> None:
        if table.pop(member_id, None) is None:
            raise HTTPException(404, f"no member {member_id!r}")

    @app.get("/members", summary="Every member the simulator answers for")
    async def list_members() -> list[SimulatedMember]:
        return list(table.values())

    @app.get("/stats", summary="270s received per member id")
    async def stats() -> dict[str, int]:
        return dict(inquiries)

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
