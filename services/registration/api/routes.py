"""The /v1 customer routes: parse, authorise, call one use case, answer.

Every write runs through the idempotency guard (the Idempotency-Key header is honoured on all of
them and required by none); an ``If-Match`` with the customer's version makes a write conditional,
and without one a write that lost a race is decided again on the fresh state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.registration.api.schemas import (
    BounceReport,
    CoverageCreatedPublic,
    CoverageEnding,
    CoverageTermsChange,
    CustomerPublic,
    CustomersPublic,
    EventHistoryPublic,
    EventPublic,
    ProgramEnrolmentCreatedPublic,
)
from services.registration.application.handlers import Registration
from services.registration.application.search import SearchQuery, search_customers
from services.registration.domain import commands
from services.registration.domain.customer import Customer
from shared.http.auth import Principal, require_scopes
from shared.http.idempotency import IdempotentResult
from shared.http.problems import PROBLEM_RESPONSES, problem_responses
from shared.http.writes import Write, etag, pool_of, write_dependencies

router = APIRouter(prefix="/v1", tags=["customers"], responses=PROBLEM_RESPONSES)

Reader = Annotated[Principal, Depends(require_scopes("registration:read"))]


def registration_of(request: Request) -> Registration:
    return request.app.state.registration


RegistrationDep = Annotated[Registration, Depends(registration_of)]
PoolDep = Annotated[asyncpg.Pool, Depends(pool_of)]
Creation, Change = write_dependencies("registration:write")


def _customer_result(customer: Customer, status: int = 200, **headers: str) -> IdempotentResult:
    return IdempotentResult(
        status, CustomerPublic.of(customer).model_dump(mode="json"), {**etag(customer.version), **headers}
    )


CustomerUpdate = Callable[[asyncpg.Connection, str, Any, int | None], Awaitable[Customer]]


async def _update(write: Write, customer_id: str, command: BaseModel, use_case: CustomerUpdate) -> JSONResponse:
    """Run a use case that changes the customer and answer with the customer."""

    async def operation(conn: asyncpg.Connection) -> IdempotentResult:
        return _customer_result(await use_case(conn, customer_id, command, write.expected))

    return await write.run(command, operation)


@router.post(
    "/customers", status_code=201, response_model=CustomerPublic,
    responses=problem_responses(409), summary="Register a customer",
)
async def register_customer(
    command: commands.RegisterCustomer, write: Creation, registration: RegistrationDep
) -> JSONResponse:
    """Registers a customer. A likely duplicate (same name and date of birth, or same e-mail) is
    refused with 409 naming the existing customers, unless `allow_possible_duplicate` is true."""

    async def register(conn: asyncpg.Connection) -> IdempotentResult:
        customer = await registration.register_customer(conn, command)
        return _customer_result(customer, 201, Location=f"/v1/customers/{customer.customer_id}")

    return await write.run(command, register)


@router.get("/customers", response_model=CustomersPublic, summary="Search customers")
async def find_customers(
    principal: Reader,
    pool: PoolDep,
    name: Annotated[str | None, Query(min_length=2, description="Part of the name")] = None,
    email: str | None = None,
    phone: Annotated[str | None, Query(description="E.164")] = None,
    member_id: str | None = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: str | None = None,
) -> CustomersPublic:
    """Search the customer read model; every given criterion must match."""
    page = await search_customers(
        pool, SearchQuery(name=name, email=email, phone=phone, member_id=member_id,
                          page_size=page_size, page_token=page_token),
    )
    return CustomersPublic.model_validate({"customers": page.customers, "next_page_token": page.next_page_token})


@router.get("/customers/{customer_id}", response_model=CustomerPublic, summary="A customer's current state")
async def get_customer(customer_id: str, principal: Reader, registration: RegistrationDep) -> JSONResponse:
    customer = await registration.customers.get(customer_id)
    return JSONResponse(CustomerPublic.of(customer).model_dump(mode="json"), headers=etag(customer.version))


@router.get("/customers/{customer_id}/events", response_model=EventHistoryPublic, summary="Audit history")
async def customer_history(
    customer_id: str, principal: Reader, registration: RegistrationDep,
    after_version: Annotated[int, Query(ge=0, description="Only events after this version")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventHistoryPublic:
    """The customer's events, oldest first: the audit trail of who changed what and when."""
    recorded = await registration.customers.history(customer_id, after_version, limit + 1)
    if not recorded and after_version == 0:
        await registration.customers.get(customer_id)  # answers 404
    page = recorded[:limit]
    return EventHistoryPublic(
        customer_id=customer_id,
        events=[
            EventPublic(
                event_id=str(r.envelope.id), type=r.envelope.type, schema_version=r.envelope.schema_version,
                version=r.version, occurred_at=r.envelope.time, correlation_id=r.envelope.correlation_id,
                causation_id=r.envelope.causation_id, data=r.envelope.data,
            )
            for r in page
        ],
        next_after_version=page[-1].version if len(recorded) > limit else None,
    )


@router.put("/customers/{customer_id}/contact-details", response_model=CustomerPublic,
            responses=problem_responses(412), summary="Replace contact details")
async def change_contact_details(
    customer_id: str, command: commands.ChangeContactDetails, write: Change, registration: RegistrationDep,
) -> JSONResponse:
    return await _update(write, customer_id, command, registration.change_contact_details)


@router.post("/customers/{customer_id}/contact-points/{contact_point_id}/bounces",
             response_model=CustomerPublic, responses=problem_responses(412),
             summary="Report that mail, e-mail or SMS to a contact point bounced")
async def mark_contact_point_bounced(
    customer_id: str, contact_point_id: str, body: BounceReport, write: Change,
    registration: RegistrationDep,
) -> JSONResponse:
    command = commands.MarkContactPointBounced(
        contact_point_id=contact_point_id, reason=body.reason, channel=body.channel
    )
    return await _update(write, customer_id, command, registration.mark_contact_point_bounced)


@router.post("/customers/{customer_id}/contact-points/{contact_point_id}/verifications",
             response_model=CustomerPublic, responses=problem_responses(412),
             summary="Record that a contact point was confirmed to reach the customer")
async def mark_contact_point_verified(
    customer_id: str, contact_point_id: str, write: Change, registration: RegistrationDep,
) -> JSONResponse:
    command = commands.MarkContactPointVerified(contact_point_id=contact_point_id)
    return await _update(write, customer_id, command, registration.mark_contact_point_verified)


@router.post("/customers/{customer_id}/coverages", status_code=201, response_model=CoverageCreatedPublic,
             responses=problem_responses(412), summary="Add an insurance, program or employer coverage")
async def add_coverage(
    customer_id: str, command: commands.AddCoverage, write: Change, registration: RegistrationDep,
) -> JSONResponse:
    async def add(conn: asyncpg.Connection) -> IdempotentResult:
        customer, coverage_id = await registration.add_coverage(conn, customer_id, command, write.expected)
        body = CoverageCreatedPublic(coverage_id=coverage_id, customer=CustomerPublic.of(customer))
        return IdempotentResult(
            201, body.model_dump(mode="json"),
            {**etag(customer.version), "Location": f"/v1/customers/{customer_id}/coverages/{coverage_id}"},
        )

    return await write.run(command, add)


@router.put("/customers/{customer_id}/coverages/{coverage_id}", response_model=CustomerPublic,
            responses=problem_responses(412), summary="Change a coverage's terms")
async def change_coverage(
    customer_id: str, coverage_id: str, body: CoverageTermsChange, write: Change,
    registration: RegistrationDep,
) -> JSONResponse:
    command = commands.ChangeCoverage(coverage_id=coverage_id, terms=body.terms)
    return await _update(write, customer_id, command, registration.change_coverage)


@router.post("/customers/{customer_id}/coverages/{coverage_id}/end", response_model=CustomerPublic,
             responses=problem_responses(412), summary="End a coverage")
async def end_coverage(
    customer_id: str, coverage_id: str, body: CoverageEnding, write: Change, registration: RegistrationDep,
) -> JSONResponse:
    command = commands.EndCoverage(coverage_id=coverage_id, ended_on=body.ended_on, reason=body.reason)
    return await _update(write, customer_id, command, registration.end_coverage)


@router.post("/customers/{customer_id}/program-enrolments", status_code=201,
             response_model=ProgramEnrolmentCreatedPublic, responses=problem_responses(412),
             summary="Enrol the customer in a payment program")
async def enrol_in_program(
    customer_id: str, command: commands.EnrolInProgram, write: Change, registration: RegistrationDep,
) -> JSONResponse:
    async def enrol(conn: asyncpg.Connection) -> IdempotentResult:
        customer, enrolment_id = await registration.enrol_in_program(conn, customer_id, command, write.expected)
        body = ProgramEnrolmentCreatedPublic(enrolment_id=enrolment_id, customer=CustomerPublic.of(customer))
        return IdempotentResult(201, body.model_dump(mode="json"), etag(customer.version))

    return await write.run(command, enrol)


@router.post("/customers/{customer_id}/special-concerns", response_model=CustomerPublic,
             responses=problem_responses(412), summary="Note a special concern or raise/clear flags")
async def note_special_concern(
    customer_id: str, command: commands.NoteSpecialConcern, write: Change, registration: RegistrationDep,
) -> JSONResponse:
    return await _update(write, customer_id, command, registration.note_special_concern)
