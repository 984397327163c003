"""How eligibility's domain refusals read over HTTP (RFC 9457 problem+json)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.eligibility.application.estimating import ProgramNotFound
from services.eligibility.application.handlers import PayerNotFound
from services.eligibility.application.queries import CheckAlreadyPending, CoverageNotKnown
from services.eligibility.domain.verification import CheckNotFound
from shared.eventstore import ConcurrencyConflict
from shared.http.problems import (
    FieldError,
    Problem,
    concurrency_problem,
    problem_response,
    rule_violated_problem,
)
from shared.rules import RuleViolated


def problem_for(request: Request, error: Exception) -> Problem:
    match error:
        case RuleViolated():
            return rule_violated_problem(error)
        case PayerNotFound():
            return Problem(404, detail=f"no payer {error}", slug="payer-not-found")
        case CheckNotFound():
            return Problem(404, detail=f"no check {error}", slug="check-not-found")
        case CoverageNotKnown():
            return Problem(404, detail=f"registration has not told eligibility about coverage {error}",
                           slug="coverage-not-found",
                           errors=[FieldError(field="coverage_id", message="unknown coverage")])
        case ProgramNotFound():
            return Problem(404, detail=f"no payment program {error}", slug="program-not-found",
                           errors=[FieldError(field="program_id", message="unknown program")])
        case CheckAlreadyPending():
            return Problem(409, detail=str(error), slug="check-already-pending")
        case ConcurrencyConflict():
            return concurrency_problem(request, error, "payer")
    raise error


def install_domain_problems(app: FastAPI) -> None:
    async def answer(request: Request, error: Exception) -> JSONResponse:
        return problem_response(problem_for(request, error), request.url.path)

    for error_type in (RuleViolated, PayerNotFound, CheckNotFound, CoverageNotKnown,
                       CheckAlreadyPending, ProgramNotFound, ConcurrencyConflict):
        app.add_exception_handler(error_type, answer)
