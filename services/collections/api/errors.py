"""How collections' domain refusals read over HTTP (RFC 9457 problem+json)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.collections.domain.debt import DebtNotFound, PlacementNotFound
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
        case DebtNotFound():
            return Problem(404, detail=f"no debt {error}", slug="debt-not-found",
                           errors=[FieldError(field="debt_id", message="unknown debt")])
        case PlacementNotFound():
            return Problem(404, detail=f"no placement {error} with this agency", slug="placement-not-found",
                           errors=[FieldError(field="placement_id", message="unknown placement")])
        case ConcurrencyConflict():
            return concurrency_problem(request, error, "debt")
    raise error


def install_domain_problems(app: FastAPI) -> None:
    async def answer(request: Request, error: Exception) -> JSONResponse:
        return problem_response(problem_for(request, error), request.url.path)

    for error_type in (RuleViolated, DebtNotFound, PlacementNotFound, ConcurrencyConflict):
        app.add_exception_handler(error_type, answer)
