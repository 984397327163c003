"""How payments' domain refusals read over HTTP (RFC 9457 problem+json)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.payments.application.gateways import MalformedNotification, PaymentNotYetKnown
from services.payments.application.ledger import InvoiceNotFound, PaymentNotFound, PlanNotFound
from services.payments.application.remittances import RemittanceAlreadyPosted, RemittanceRejected
from shared.eventstore import ConcurrencyConflict
from shared.http.problems import (
    FieldError,
    Problem,
    concurrency_problem,
    problem_response,
    rule_violated_problem,
)
from shared.rules import RuleViolated


class RemittanceNotFound(LookupError):
    pass


class InstructionsNotFound(LookupError):
    pass


def problem_for(request: Request, error: Exception) -> Problem:
    match error:
        case RuleViolated():
            return rule_violated_problem(error)
        case PaymentNotFound():
            return Problem(404, detail=f"no payment {error}", slug="payment-not-found",
                           errors=[FieldError(field="payment_id", message="unknown payment")])
        case PlanNotFound():
            return Problem(404, detail=f"no payment plan {error}", slug="plan-not-found",
                           errors=[FieldError(field="plan_id", message="unknown payment plan")])
        case InvoiceNotFound():
            return Problem(404, detail=f"no invoice {error}", slug="invoice-not-found",
                           errors=[FieldError(field="invoice_id", message="unknown invoice")])
        case RemittanceNotFound():
            return Problem(404, detail=f"no remittance {error}", slug="remittance-not-found")
        case InstructionsNotFound():
            return Problem(404, detail=f"no payment instructions for business {error}",
                           slug="instructions-not-found",
                           errors=[FieldError(field="business_id", message="none published")])
        case RemittanceRejected():
            return Problem(
                422, detail="the remittance advice does not follow X12 005010X221A1 or does not balance; "
                "nothing was posted", slug="invalid-remittance",
                errors=[FieldError(field=p.location, message=p.message) for p in error.problems],
            )
        case RemittanceAlreadyPosted():
            return Problem(409, detail=str(error), slug="remittance-already-posted",
                           errors=[FieldError(field="TRN02", message="this trace was posted already")])
        case MalformedNotification():
            return Problem(422, detail=f"the notification's data is not what its type needs: {error}",
                           slug="malformed-notification",
                           errors=[FieldError(field=field, message=message) for field, message in error.errors])
        case PaymentNotYetKnown():
            return Problem(409, detail=f"no payment with reference {error} yet; send it again later",
                           slug="payment-not-yet-known",
                           errors=[FieldError(field="data.payment_reference", message="unknown payment")])
        case ConcurrencyConflict():
            return concurrency_problem(request, error, "payment")
    raise error


def install_domain_problems(app: FastAPI) -> None:
    async def answer(request: Request, error: Exception) -> JSONResponse:
        return problem_response(problem_for(request, error), request.url.path)

    for error_type in (RuleViolated, PaymentNotFound, PlanNotFound, InvoiceNotFound, RemittanceNotFound,
                       InstructionsNotFound, RemittanceRejected, RemittanceAlreadyPosted, PaymentNotYetKnown, MalformedNotification,
                       ConcurrencyConflict):
        app.add_exception_handler(error_type, answer)
