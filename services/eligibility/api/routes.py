"""The /v1 payer directory and verification routes: parse, authorise, call one use case, answer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from services.eligibility.api.deps import Change, Creation, PoolDep, Reader, VerificationsDep
from services.eligibility.api.schemas import (
    CheckCreate,
    CheckPublic,
    ChecksPublic,
    CoverageStandingPublic,
    CustomerCoveragesPublic,
    ExchangePublic,
    ExchangesPublic,
    PayerCreate,
    PayerPublic,
    PayerRetirement,
    PayersPublic,
    ReverificationPublic,
    ReverificationRequest,
    VerificationStatusPublic,
)
from services.eligibility.application.queries import (
    CheckAlreadyPending,
    check_row,
    checks_of,
    coverage_standing,
    coverages_of,
    on_demand_request,
)
from services.eligibility.application.registration_feed import coverage_terms
from services.eligibility.application.reverification import reverify_going_stale
from services.eligibility.domain.events import PayerKind, PayerProfile
from services.eligibility.domain.payer import Payer
from services.eligibility.domain.verification import StaffAnswer, Standing
from shared.http.idempotency import IdempotentResult
from shared.http.problems import PROBLEM_RESPONSES, problem_responses
from shared.http.writes import etag

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)



def _payer_public(payer: Payer) -> PayerPublic:
    assert payer.profile is not None
    return PayerPublic(payer_id=payer.payer_id, version=payer.version, retired=payer.retired, profile=payer.profile)


def _payer_result(payer: Payer, status: int = 200, **headers: str) -> IdempotentResult:
    return IdempotentResult(
        status, _payer_public(payer).model_dump(mode="json"), {**etag(payer.version), **headers}
    )


# -- payer directory ---------------------------------------------------------------------------


@router.post("/payers", status_code=201, response_model=PayerPublic, tags=["payers"],
             responses=problem_responses(409), summary="Add a payer to the directory")
async def register_payer(body: PayerCreate, write: Creation, verifications: VerificationsDep) -> JSONResponse:
    """Adds an insurer, government program or agency, employer or other payer: how it is asked about
    coverage, the code system it expects on bills, and its billing contact."""
    profile = PayerProfile.model_validate(body.model_dump(exclude={"payer_id"}))

    async def register(conn: asyncpg.Connection) -> IdempotentResult:
        payer = await verifications.register_payer(conn, body.payer_id, profile)
        return _payer_result(payer, 201, Location=f"/v1/payers/{payer.payer_id}")

    return await write.run(body, register)


@router.get("/payers", response_model=PayersPublic, tags=["payers"], summary="The payer directory")
async def list_payers(
    principal: Reader, pool: PoolDep, kind: PayerKind | None = None, include_retired: bool = False,
) -> PayersPublic:
    rows = await pool.fetch(
        """SELECT payer_id, version, retired, profile FROM payers
           WHERE ($1::text IS NULL OR kind = $1) AND ($2 OR NOT retired) ORDER BY name, payer_id""",
        kind.value if kind else None, include_retired,
    )
    return PayersPublic(payers=[
        PayerPublic(payer_id=r["payer_id"], version=r["version"], retired=r["retired"],
                    profile=PayerProfile.model_validate_json(r["profile"]))
        for r in rows
    ])


@router.get("/payers/{payer_id}", response_model=PayerPublic, tags=["payers"], summary="One payer")
async def get_payer(payer_id: str, principal: Reader, verifications: VerificationsDep) -> JSONResponse:
    payer = await verifications.payers.get(payer_id)
    return JSONResponse(_payer_public(payer).model_dump(mode="json"), headers=etag(payer.version))


@router.put("/payers/{payer_id}", response_model=PayerPublic, tags=["payers"],
            responses=problem_responses(412), summary="Replace a payer's directory entry")
async def change_payer(
    payer_id: str, profile: PayerProfile, write: Change, verifications: VerificationsDep
) -> JSONResponse:
    async def change(conn: asyncpg.Connection) -> IdempotentResult:
        return _payer_result(await verifications.change_payer(conn, payer_id, profile, write.expected))

    return await write.run(profile, change)


@router.post("/payers/{payer_id}/retirement", response_model=PayerPublic, tags=["payers"],
             responses=problem_responses(412), summary="Retire a payer")
async def retire_payer(
    payer_id: str, body: PayerRetirement, write: Change, verifications: VerificationsDep
) -> JSONResponse:
    async def retire(conn: asyncpg.Connection) -> IdempotentResult:
        return _payer_result(await verifications.retire_payer(conn, payer_id, body.reason, write.expected))

    return await write.run(body, retire)


# -- verification ------------------------------------------------------------------------------


async def _check_result(conn: asyncpg.Connection, check_id: str, status: int) -> IdempotentResult:
    row = await check_row(conn, check_id)
    return IdempotentResult(
        status, CheckPublic.of(row).model_dump(mode="json"), {"Location": f"/v1/checks/{check_id}"}
    )


@router.post("/coverages/{coverage_id}/checks", status_code=202, response_model=CheckPublic,
             tags=["verification"], responses=problem_responses(404, 409),
             summary="Verify a coverage with its payer now")
async def request_check(
    coverage_id: str, body: CheckCreate, write: Creation, verifications: VerificationsDep, request: Request,
) -> JSONResponse:
    """Queues a check of a coverage registration told us about; the answer arrives as an event and
    on GET /v1/checks/{check_id}. A check identical to one still pending is not queued twice: the
    pending one is answered with 409 naming it."""
    settings = request.app.state.settings

    async def queue(conn: asyncpg.Connection) -> IdempotentResult:
        check_request = await on_demand_request(
            conn, coverage_id, service_date=body.service_date or verifications.clock.today(),
            service_types=tuple(body.service_types or settings.inquiry_service_types),
        )
        check_id = await verifications.request_check(conn, coverage_id, check_request)
        if check_id is None:
            raise CheckAlreadyPending(coverage_id)
        return await _check_result(conn, check_id, 202)

    return await write.run(body, queue)


@router.get("/checks", response_model=ChecksPublic, tags=["verification"], summary="Checks, newest first")
async def list_checks(
    principal: Reader, pool: PoolDep, customer_id: str | None = None, coverage_id: str | None = None,
    status: Annotated[str | None, Query(pattern="^(pending|verified|rejected|failed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ChecksPublic:
    rows = await checks_of(pool, customer_id=customer_id, coverage_id=coverage_id, status=status, limit=limit)
    return ChecksPublic(checks=[CheckPublic.of(r) for r in rows])


@router.get("/checks/{check_id}", response_model=CheckPublic, tags=["verification"], summary="One check")
async def get_check(check_id: str, principal: Reader, pool: PoolDep) -> CheckPublic:
    async with pool.acquire() as conn:
        return CheckPublic.of(await check_row(conn, check_id))


@router.post("/checks/{check_id}/retry", status_code=202, response_model=CheckPublic,
             tags=["verification"], responses=problem_responses(404), summary="Retry a failed check")
async def retry_check(check_id: str, write: Creation, verifications: VerificationsDep) -> JSONResponse:
    async def retry(conn: asyncpg.Connection) -> IdempotentResult:
        await verifications.retry_check(conn, check_id, requested_by=write.principal.system)
        return await _check_result(conn, check_id, 202)

    return await write.run(CheckCreate(), retry)


@router.post("/checks/{check_id}/staff-answer", response_model=CheckPublic, tags=["verification"],
             responses=problem_responses(404), summary="Record what the payer told staff who asked it")
async def record_staff_answer(
    check_id: str, answer: StaffAnswer, write: Creation, verifications: VerificationsDep
) -> JSONResponse:
    """For payers without electronic inquiries (employers, agencies, programs run on rules) and
    for checks that failed: staff ask the payer by phone, portal or letter and record its answer,
    which ends the check as EligibilityVerified or EligibilityRejected with method `staff`."""

    async def record(conn: asyncpg.Connection) -> IdempotentResult:
        await verifications.record_staff_answer(conn, check_id, answer, recorded_by=write.principal.system)
        return await _check_result(conn, check_id, 200)

    return await write.run(answer, record)


@router.get("/checks/{check_id}/exchanges", response_model=ExchangesPublic, tags=["verification"],
            summary="The raw X12 270s sent and 271s received for a check (audit)")
async def check_exchanges(check_id: str, principal: Reader, pool: PoolDep) -> ExchangesPublic:
    async with pool.acquire() as conn:
        await check_row(conn, check_id)  # 404 for an unknown check
        rows = await conn.fetch(
            "SELECT * FROM x12_exchanges WHERE check_id = $1 ORDER BY attempt, sent_at", check_id
        )
    return ExchangesPublic(check_id=check_id, exchanges=[
        ExchangePublic(**{name: r[name] for name in ExchangePublic.model_fields}) for r in rows
    ])


@router.get("/coverages/{coverage_id}/verification", response_model=VerificationStatusPublic,
            tags=["verification"], summary="Whether a coverage counts as verified on a date")
async def coverage_verification(
    coverage_id: str, principal: Reader, pool: PoolDep, verifications: VerificationsDep,
    as_of: Annotated[date | None, Query(description="The date asked about; today when absent")] = None,
) -> VerificationStatusPublic:
    day = as_of or verifications.clock.today()
    async with pool.acquire() as conn:
        standing, latest = await coverage_standing(conn, coverage_id, day)
    return VerificationStatusPublic(
        coverage_id=coverage_id, as_of=day, verified=standing is Standing.VERIFIED, status=standing.value,
        check=CheckPublic.of(latest) if latest else None,
    )


@router.get("/customers/{customer_id}/coverages", response_model=CustomerCoveragesPublic,
            tags=["verification"], summary="A customer's coverages and whether each counts as verified")
async def customer_coverages(
    customer_id: str, principal: Reader, pool: PoolDep, verifications: VerificationsDep,
    as_of: Annotated[date | None, Query(description="The date asked about; today when absent")] = None,
) -> CustomerCoveragesPublic:
    """What the front desk asks before a visit: who pays for this customer, in coverage order, and
    is each coverage verified for the day."""
    day = as_of or verifications.clock.today()
    async with pool.acquire() as conn:
        rows = await coverages_of(conn, customer_id)
        coverages = []
        for row in rows:
            standing, latest = await coverage_standing(conn, row["coverage_id"], day)
            coverages.append(CoverageStandingPublic(
                coverage_id=row["coverage_id"], payer_id=row["payer_id"], priority=row["priority"],
                member_id=coverage_terms(row).member_id, ended_on=row["ended_on"],
                verified=standing is Standing.VERIFIED, status=standing.value,
                check=CheckPublic.of(latest) if latest else None,
            ))
    return CustomerCoveragesPublic(customer_id=customer_id, as_of=day, coverages=coverages)


# -- operations --------------------------------------------------------------------------------


@router.post("/operations/reverification", response_model=ReverificationPublic, tags=["operations"],
             summary="Ask again about every coverage whose verification goes stale soon")
async def reverify(
    body: ReverificationRequest, write: Creation, verifications: VerificationsDep, request: Request,
) -> ReverificationPublic:
    """What the service does on its own every `ELIGIBILITY_REVERIFY_INTERVAL_SECONDS`, run now and
    optionally as of another date: a check is requested for each coverage in force whose latest
    verification stops counting within `ELIGIBILITY_REVERIFY_DAYS_BEFORE_STALE` days."""
    settings = request.app.state.settings
    today = body.as_of or verifications.clock.today()
    requested = await reverify_going_stale(
        write.pool, verifications, today=today, lead_days=settings.reverify_days_before_stale,
        service_types=settings.inquiry_service_types,
    )
    return ReverificationPublic(as_of=today, check_ids=requested)
