"""How invoicing's domain refusals read over HTTP (RFC 9457 problem+json)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.invoicing.application.billing import ChargeNotFound, InvoiceNotFound
from shared.eventstore import ConcurrencyConflict
from shared.http.problems import (
    FieldError,
    Problem,
    concurrency_problem,
    problem_response,
    rule_violated_problem,
)
from shared.rules import RuleViolated


class StatementNotFound(LookupError):
    pass


class PrintJobNotFound(LookupError):
    pass


def problem_for(request: Request, error: Exception) -> Problem:
    match error:
        case RuleViolated():
            return rule_violated_problem(error)
        case InvoiceNotFound():
            return Problem(404, detail=f"no invoice {error}", slug="invoice-not-found",
                           errors=[FieldError(field="invoice_id", message="unknown invoice")])
        case ChargeNotFound():
            return Problem(404, detail=f"no charge {error}", slug="charge-not-found",
                           errors=[FieldError(field="charge_id", message="unknown charge")])
        case StatementNotFound():
            return Problem(404, detail=f"no statement {error}", slug="statement-not-found")
        case PrintJobNotFound():
            return Problem(404, detail=f"no print job {error}", slug="print-job-not-found")
        case ConcurrencyConflict():
            return concurrency_problem(request, error, "invoice")
    raise error


def install_domain_problems(app: FastAPI) -> None:
    async def answer(request: Request, error: Exception) -> JSONResponse:
        return problem_response(problem_for(request, error), request.url.path)

    for error_type in (RuleViolated, InvoiceNotFound, ChargeNotFound, StatementNotFound, PrintJobNotFound,
                       ConcurrencyConflict):
        app.add_exception_handler(error_type, answer)
