"""A clearinghouse simulator: a stand-in that answers X12 270 inquiries with 271s from a table of
made-up members, for development (``make run``) and tests. It is not a payer integration.

Each member record says what the "payer" knows: name, date of birth, group, plan, whether
coverage is active and between which dates, the benefits (EB loops) to answer with, and a
``behaviour`` that makes the simulated payer misbehave the ways real ones do: answer late
(``delay``), answer with a broken document (``malformed``) or not at all (``unavailable``, 503).
Records can be replaced at runtime (``PUT /members/{id}``) and ``GET /stats`` counts the 270s
received per member id, so tests can see retries happen.

It writes its 271s itself from the generic pieces of ``shared.x12`` and never imports the
eligibility service: a round trip through it checks the service's 270 writer and 271 reader
against an independently written counterpart, not against themselves.
"""

from __future__ import annotations

import asyncio
import itertools
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

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
    behaviour: Literal["normal", "delay", "malformed", "unavailable"] = "normal"
    delay_seconds: float = Field(
        0.0, ge=0, le=300, description="How long `delay` waits before answering"
    )

    def covered_on(self, day: date) -> bool:
        return (
            self.status == "active"
            and (self.coverage_from is None or self.coverage_from <= day)
            and (self.coverage_to is None or day <= self.coverage_to)
        )


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
    trace: Segment  # TRN of 2000C, echoed as TRN*2
    subscriber: Segment  # NM1*IL of 2100C
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
    named: dict[str, Segment] = {}  # HL03 level -> the first NM1 in it
    subscriber_segments: list[Segment] = []
    level = None
    for segment in body:
        if segment.id == "HL":
            level = segment.element(3)
        elif segment.id == "NM1" and level is not None:
            named.setdefault(level, segment)
        if level == "22":
            subscriber_segments.append(segment)
    for level_code, loop in (
        ("20", "payer (2100A)"),
        ("21", "provider (2100B)"),
        ("22", "subscriber (2100C)"),
    ):
        if level_code not in named:
            raise Invalid270(f"the 270 has no NM1 naming the {loop}")
    subscriber = named["22"]
    if subscriber.element(1) != "IL" or not subscriber.element(9):
        raise Invalid270(
            f"NM1 at segment {subscriber.position} is not a subscriber (NM1*IL) with a member id"
        )
    trace = next((s for s in subscriber_segments if s.id == "TRN"), None)
    if trace is None:
        raise Invalid270("the 270 has no TRN in the subscriber loop (2000C)")
    service_types = [s.element(1) for s in subscriber_segments if s.id == "EQ"]
    if not service_types:
        raise Invalid270("the 270 asks about no service type (EQ)")
    service_date = None
    for dtp in (s for s in subscriber_segments if s.id == "DTP" and s.element(1) == "291"):
        try:
            service_date = parse_date(dtp.element(3))
        except ValueError as error:
            raise Invalid270(f"DTP at segment {dtp.position}: {error}") from error
    return Inquiry(
        sender_id=interchange.sender_id,
        receiver_id=interchange.receiver_id,
        production=interchange.production,
        separators=interchange.separators,
        reference=body[0].element(3),
        payer=named["20"],
        provider=named["21"],
        trace=trace,
        subscriber=subscriber,
        service_date=service_date,
        service_types=service_types,
    )


def write_271(
    inquiry: Inquiry,
    member: SimulatedMember | None,
    *,
    control_number: int,
    answered_at: datetime,
    broken: bool = False,
) -> str:
    """The 271 answering ``inquiry``: the member's coverage and benefits, AAA 75 when there is no
    such member. ``broken`` miscounts SE01, the way a faulty payer system might."""
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
        Segment.of("HL", "3", "2", "22", "0"),
        Segment.of("TRN", "2", inquiry.trace.element(2), inquiry.trace.element(3)),
        Segment.of("TRN", "1", f"{control_number:09d}", SIMULATOR_ORIGINATOR),
        *(_subscriber(inquiry, member, answered_at.date()) if member else _not_found(inquiry)),
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


def _not_found(inquiry: Inquiry) -> list[Segment]:
    return [inquiry.subscriber, Segment.of("AAA", "N", "", "75", "C")]


def _subscriber(inquiry: Inquiry, member: SimulatedMember, today: date) -> list[Segment]:
    segments = [
        Segment.of(
            "NM1", "IL", "1", member.family, member.given, "", "", "", "MI", member.member_id
        )
    ]
    if member.group:
        segments.append(Segment.of("REF", "6P", member.group))
    if member.dob:
        segments.append(Segment.of("DMG", "D8", format_date(member.dob)))
    if member.coverage_from:
        segments.append(Segment.of("DTP", "346", "D8", format_date(member.coverage_from)))
    if member.coverage_to:
        segments.append(Segment.of("DTP", "347", "D8", format_date(member.coverage_to)))
    # Payers answer for the plan as a whole (30) as well as for each service type asked about.
    asked = Repeated(*dict.fromkeys(["30", *inquiry.service_types]))
    if not member.covered_on(inquiry.service_date or today):
        segments.append(Segment.of("EB", "6", "IND", asked))
        return segments
    segments.append(Segment.of("EB", "1", "IND", asked, "", member.plan_name))
    segments.extend(_benefit(benefit) for benefit in member.benefits)
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
    control_numbers = itertools.count(1)

    app = FastAPI(
        title="Clearinghouse simulator",
        description="A stand-in clearinghouse: answers X12 270s with 271s from made-up members.",
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
