"""The /v1 payment-program and estimate routes."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.eligibility.api.deps import Creation, EstimatingDep, PoolDep, Reader
from services.eligibility.application.estimating import (
    DetermineProgramEligibility,
    RequestEstimate,
)
from services.eligibility.domain.events import EstimateIssued, ProgramEligibilityDetermined
from shared.http.idempotency import IdempotentResult
from shared.http.problems import PROBLEM_RESPONSES, Problem, problem_responses

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)


class ProgramsPublic(BaseModel):
    programs: list[dict[str, Any]]
    guidelines: list[dict[str, Any]]


class DeterminationsPublic(BaseModel):
    determinations: list[ProgramEligibilityDetermined]


class EstimatesPublic(BaseModel):
    estimates: list[EstimateIssued]


@router.get("/programs", response_model=ProgramsPublic, tags=["programs"],
            summary="Payment programs and the poverty guidelines they use")
async def list_programs(principal: Reader, estimating: EstimatingDep) -> ProgramsPublic:
    table = estimating.programs
    return ProgramsPublic(
        programs=[p.model_dump(mode="json") for p in table.programs],
        guidelines=[g.model_dump(mode="json") for g in table.guidelines],
    )


@router.post("/customers/{customer_id}/program-determinations", status_code=201,
             response_model=ProgramEligibilityDetermined, tags=["programs"],
             responses=problem_responses(404), summary="Determine a customer's eligibility for a program")
async def determine_program_eligibility(
    customer_id: str, command: DetermineProgramEligibility, write: Creation, estimating: EstimatingDep,
) -> JSONResponse:
    """Measures the household's income against the program's poverty-guideline tiers and records
    ProgramEligibilityDetermined; an eligible determination lowers later estimates until it expires."""

    async def determine(conn: asyncpg.Connection) -> IdempotentResult:
        event = await estimating.determine_program_eligibility(conn, customer_id, command, write.principal.system)
        return IdempotentResult(201, event.model_dump(mode="json"))

    return await write.run(command, determine)


@router.get("/customers/{customer_id}/program-determinations", response_model=DeterminationsPublic,
            tags=["programs"], summary="A customer's program determinations, newest first")
async def customer_determinations(customer_id: str, principal: Reader, pool: PoolDep) -> DeterminationsPublic:
    rows = await pool.fetch(
        "SELECT data FROM program_determinations WHERE customer_id = $1 ORDER BY determined_at DESC", customer_id
    )
    return DeterminationsPublic(determinations=[json.loads(r["data"]) for r in rows])


@router.post("/estimates", status_code=201, response_model=EstimateIssued, tags=["estimates"],
             responses=problem_responses(404), summary="Give a Good Faith Estimate for planned services")
async def issue_estimate(command: RequestEstimate, write: Creation, estimating: EstimatingDep) -> JSONResponse:
    """Estimates the payer's and the customer's portions of planned services from the latest
    verified coverage (deductible first, then copay or coinsurance, capped by the out-of-pocket
    maximum), applies a current program determination, and advises how to pay less. The estimate
    is stored with an id; a later bill above it by the configured threshold is flagged."""

    async def issue(conn: asyncpg.Connection) -> IdempotentResult:
        event = await estimating.issue_estimate(conn, command, write.principal.system)
        return IdempotentResult(201, event.model_dump(mode="json"), {"Location": f"/v1/estimates/{event.estimate_id}"})

    return await write.run(command, issue)


@router.get("/estimates/{estimate_id}", response_model=EstimateIssued, tags=["estimates"], summary="One estimate")
async def get_estimate(estimate_id: str, principal: Reader, pool: PoolDep) -> dict[str, Any]:
    data = await pool.fetchval("SELECT data FROM estimates WHERE estimate_id = $1", estimate_id)
    if data is None:
        raise Problem(404, detail=f"no estimate {estimate_id}", slug="estimate-not-found")
    return json.loads(data)


@router.get("/customers/{customer_id}/estimates", response_model=EstimatesPublic, tags=["estimates"],
            summary="A customer's estimates, newest first")
async def customer_estimates(customer_id: str, principal: Reader, pool: PoolDep) -> EstimatesPublic:
    rows = await pool.fetch("SELECT data FROM estimates WHERE customer_id = $1 ORDER BY issued_at DESC", customer_id)
    return EstimatesPublic(estimates=[json.loads(r["data"]) for r in rows])
