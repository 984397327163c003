"""How registration's domain refusals read over HTTP (RFC 9457 problem+json)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.registration.adapters.customer_repository import CustomerNotFound
from services.registration.application.search import InvalidPageToken
from services.registration.domain.customer import CoverageNotFound, LikelyDuplicate, RuleViolated
from shared.eventstore import ConcurrencyConflict
from shared.http.problems import (
    FieldError,
    Problem,
    concurrency_problem,
    problem_response,
    rule_violated_problem,
)


def problem_for(request: Request, error: Exception) -> Problem:
    match error:
        case RuleViolated():
            return rule_violated_problem(error)
        case LikelyDuplicate():
            return Problem(
                409, detail=f"{error}; send allow_possible_duplicate=true to register anyway",
                slug="likely-duplicate",
                errors=[FieldError(field="allow_possible_duplicate", message="a likely duplicate exists")],
                existing_customer_id=error.existing_customer_ids[0],
                existing_customer_ids=error.existing_customer_ids,
            )
        case CustomerNotFound():
            return Problem(404, detail=f"no customer {error}", slug="customer-not-found")
        case CoverageNotFound():
            return Problem(404, detail=f"the customer has no coverage {error}", slug="coverage-not-found",
                           errors=[FieldError(field="coverage_id", message="unknown coverage")])
        case ConcurrencyConflict():
            return concurrency_problem(request, error, "customer")
        case InvalidPageToken():
            return Problem(400, detail=str(error), slug="invalid-page-token",
                           errors=[FieldError(field="page_token", message=str(error))])
    raise error


def install_domain_problems(app: FastAPI) -> None:
    async def answer(request: Request, error: Exception) -> JSONResponse:
        return problem_response(problem_for(request, error), request.url.path)

    for error_type in (RuleViolated, LikelyDuplicate, CustomerNotFound, CoverageNotFound,
                       ConcurrencyConflict, InvalidPageToken):
        app.add_exception_handler(error_type, answer)
