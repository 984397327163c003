"""The /v1 routes of payments: payments with their allocations, refunds and reversals; balances;
payment plans; missed payments; remittances (X12 835); gateway notifications; how to pay. Each
parses, authorises, calls one use case and answers."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import date
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from services.payments.adapters.gateway_signature import SIGNATURE_HEADER, SignatureRefused, verify
from services.payments.api.deps import (
    Change,
    ClockDep,
    Creation,
    GatewaysDep,
    LedgerDep,
    Operator,
    PoolDep,
    Reader,
    RemittancesDep,
    SchedulerDep,
)
from services.payments.api.errors import InstructionsNotFound, RemittanceNotFound
from services.payments.api.schemas import (
    AllocationPublic,
    AllocationsCreate,
    CreditApplication,
    CreditAppliedPublic,
    CurrencyBalancePublic,
    CustomerBalancePublic,
    InstalmentPublic,
    InstructionsPublic,
    InstructionsUpdate,
    InvoiceBalancePublic,
    MissedPaymentPublic,
    MissedPaymentsPublic,
    MissedRunPublic,
    MissedRunRequest,
    NotificationOutcome,
    PaymentCreate,
    PaymentPublic,
    PaymentsPublic,
    PlanCreate,
    PlanPublic,
    PlanQuote,
    PlanQuotePublic,
    PlansPublic,
    RefundCreate,
    RefundPublic,
    RemittancePublic,
    RemittancesPublic,
    ReversalCreate,
)
from services.payments.application.gateways import Notification
from services.payments.application.ledger import (
    INVOICE_BALANCES,
    InvoiceNotFound,
    PaymentNotFound,
)
from services.payments.domain.balances import InvoiceBalance, PaymentBalance, customer_balances
from services.payments.domain.events import Allocation, PayingParty, PaymentChannel
from services.payments.domain.plan import PaymentPlan
from shared.http.idempotency import IdempotentResult
from shared.http.problems import PROBLEM_RESPONSES, FieldError, Problem, problem_responses
from shared.http.writes import etag

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
X12 = {"application/edi-x12": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}}
AsOf = Annotated[date | None, Query(description="The business date; defaults to today")]


# -- payments ------------------------------------------------------------------------------------


def _payment_balance(row: asyncpg.Record) -> PaymentBalance:
    return PaymentBalance(
        payment_id=row["payment_id"], customer_id=row["customer_id"], currency=row["currency"], amount=row["amount"],
        allocated=row["allocated"], refunded=row["refunded"], reversed=row["reversed"],
        from_payer=row["payer_id"] is not None,
    )


async def _payment_public(conn: asyncpg.Connection, payment_id: str) -> PaymentPublic:
    row = await conn.fetchrow("SELECT * FROM payments WHERE payment_id = $1", payment_id)
    if row is None:
        raise PaymentNotFound(payment_id)
    allocations = await conn.fetch(
        "SELECT invoice_id, amount FROM allocations WHERE payment_id = $1 AND amount > 0 ORDER BY invoice_id",
        payment_id,
    )
    refunds = await conn.fetch("SELECT * FROM refunds WHERE payment_id = $1 ORDER BY refunded_at", payment_id)
    version = await _payment_version(conn, payment_id)
    return PaymentPublic(
        payment_id=payment_id, customer_id=row["customer_id"], party=PayingParty.model_validate_json(row["party"]),
        method=row["method"], channel=PaymentChannel(row["channel"]), amount=row["amount"], fee=row["fee"],
        currency=row["currency"], reference=row["reference"], received_on=row["received_on"],
        allocated=row["allocated"], refunded=row["refunded"],
        unallocated=_payment_balance(row).unallocated,
        reversed=row["reversed"], reversal_reason=row["reversal_reason"], remittance_id=row["remittance_id"],
        allocations=[AllocationPublic(invoice_id=a["invoice_id"], amount=a["amount"]) for a in allocations],
        refunds=[RefundPublic(
            refund_id=r["refund_id"], amount=r["amount"], method=r["method"], reference=r["reference"],
            reason=r["reason"], refunded_at=r["refunded_at"],
        ) for r in refunds],
        version=version,
    )


def _allocations(requests: list | None) -> list[Allocation] | None:  # type: ignore[type-arg]
    if not requests:
        return None
    return [Allocation(invoice_id=r.invoice_id, invoice_number="", amount=r.amount) for r in requests]


async def _answer_payment(conn: asyncpg.Connection, payment_id: str, status: int = 200) -> IdempotentResult:
    public = await _payment_public(conn, payment_id)
    headers = {**etag(public.version), "Location": f"/v1/payments/{payment_id}"}
    return IdempotentResult(status, public.model_dump(mode="json"), headers)


@router.post("/payments", status_code=201, response_model=PaymentPublic, tags=["payments"],
             responses=problem_responses(409, 422), summary="Record a payment")
async def record_payment(body: PaymentCreate, write: Creation, ledger: LedgerDep) -> JSONResponse:
    """From the customer, a payer, an employer or a collection agency (net of its ``fee``). It
    pays the named invoices, or the oldest open ones; what is left is the account's credit."""
    payment_id = f"pay_{uuid.uuid4().hex}"

    async def record(conn: asyncpg.Connection) -> IdempotentResult:
        await ledger.receive(
            conn, payment_id, customer_id=body.customer_id, party=body.party, method=body.method,
            channel=PaymentChannel.AGENCY if body.party.kind == "collection_agency" else PaymentChannel.DESK,
            amount=body.amount, fee=body.fee, currency=body.currency, reference=body.reference,
            received_on=body.received_on, recorded_by=write.principal.system,
            allocations=_allocations(body.allocations), allocate=body.allocate,
        )
        return await _answer_payment(conn, payment_id, 201)

    return await write.run(body, record)


@router.get("/payments/{payment_id}", response_model=PaymentPublic, tags=["payments"], summary="One payment")
async def get_payment(payment_id: str, principal: Reader, pool: PoolDep) -> JSONResponse:
    async with pool.acquire() as conn:
        public = await _payment_public(conn, payment_id)
    return JSONResponse(public.model_dump(mode="json"), headers=etag(public.version))


@router.get("/customers/{customer_id}/payments", response_model=PaymentsPublic, tags=["payments"],
            summary="A customer's payments, oldest first")
async def customer_payments(customer_id: str, principal: Reader, pool: PoolDep) -> PaymentsPublic:
    async with pool.acquire() as conn:
        ids = await conn.fetch(
            "SELECT payment_id FROM payments WHERE customer_id = $1 ORDER BY recorded_at, payment_id", customer_id,
        )
        return PaymentsPublic(items=[await _payment_public(conn, r["payment_id"]) for r in ids])


@router.post("/payments/{payment_id}/allocations", response_model=PaymentPublic, tags=["payments"],
             responses=problem_responses(404, 409, 412, 422), summary="Pay invoices from a payment's credit")
async def allocate_payment(payment_id: str, body: AllocationsCreate, write: Change, ledger: LedgerDep) -> JSONResponse:
    async def allocate(conn: asyncpg.Connection) -> IdempotentResult:
        await ledger.allocate(conn, payment_id, _allocations(body.allocations), write.expected)
        return await _answer_payment(conn, payment_id)

    return await write.run(body, allocate)


@router.post("/customers/{customer_id}/credit-applications", response_model=CreditAppliedPublic, tags=["payments"],
             responses=problem_responses(409, 422), summary="Pay a customer's open invoices from their credit")
async def apply_credit(customer_id: str, body: CreditApplication, write: Creation, ledger: LedgerDep) -> JSONResponse:
    """The account's credit (payments not used, oldest first) pays the oldest open invoices; what
    the service also does by itself when a new invoice is issued, unless configured not to."""

    async def apply(conn: asyncpg.Connection) -> IdempotentResult:
        applied = await ledger.apply_credit(conn, customer_id, body.currency)
        left = await ledger.credit_of(conn, customer_id, body.currency)
        public = CreditAppliedPublic(customer_id=customer_id, currency=body.currency, applied=applied, credit_left=left)
        return IdempotentResult(200, public.model_dump(mode="json"), {})

    return await write.run(body, apply)


@router.post("/payments/{payment_id}/refunds", status_code=201, response_model=PaymentPublic, tags=["payments"],
             responses=problem_responses(404, 409, 422), summary="Pay back a payment's unallocated credit")
async def refund_payment(payment_id: str, body: RefundCreate, write: Creation, ledger: LedgerDep) -> JSONResponse:
    refund_id = f"ref_{uuid.uuid4().hex}"

    async def refund(conn: asyncpg.Connection) -> IdempotentResult:
        await ledger.refund(
            conn, payment_id, refund_id, amount=body.amount, method=body.method, reference=body.reference,
            reason=body.reason, refunded_by=write.principal.system,
        )
        return await _answer_payment(conn, payment_id, 201)

    return await write.run(body, refund)


@router.post("/payments/{payment_id}/reversal", response_model=PaymentPublic, tags=["payments"],
             responses=problem_responses(404, 409, 412, 422),
             summary="Reverse a payment (a bounced cheque, a chargeback, a bank return)")
async def reverse_payment(payment_id: str, body: ReversalCreate, write: Change, ledger: LedgerDep) -> JSONResponse:
    """The invoices it paid are owed again; plans it counted toward lose it."""

    async def reverse(conn: asyncpg.Connection) -> IdempotentResult:
        await ledger.reverse(
            conn, payment_id, reason=body.reason, reference=body.reference, reversed_by=write.principal.system,
            expected_version=write.expected,
        )
        return await _answer_payment(conn, payment_id)

    return await write.run(body, reverse)


async def _payment_version(conn: asyncpg.Connection, payment_id: str) -> int:
    return await conn.fetchval(
        "SELECT COALESCE(max(version), 0) FROM events WHERE stream_id = $1", f"payment-{payment_id}",
    )


# -- balances ------------------------------------------------------------------------------------


def _invoice_balance(row: asyncpg.Record) -> InvoiceBalance:
    return InvoiceBalance(
        invoice_id=row["invoice_id"], number=row["number"], customer_id=row["customer_id"],
        billed_party=row["billed_party"], currency=row["currency"], total=row["total"], owed=row["owed"],
        paid=row["paid"], voided=row["voided"], due_date=row["due_date"], plan_id=row["plan_id"],
    )


def _invoice_public(row: asyncpg.Record, as_of: date) -> InvoiceBalancePublic:
    balance = _invoice_balance(row)
    return InvoiceBalancePublic(
        invoice_id=row["invoice_id"], number=row["number"], customer_id=row["customer_id"],
        billed_party=row["billed_party"], payer_id=row["payer_id"], currency=row["currency"], total=row["total"],
        credited=row["credited"], written_off=row["written_off"], transferred=row["transferred"],
        voided=row["voided"], owed=row["owed"], paid=row["paid"], balance=balance.balance,
        due_date=row["due_date"], standing=balance.standing(as_of), plan_id=row["plan_id"],
    )


@router.get("/invoices/{invoice_id}/balance", response_model=InvoiceBalancePublic, tags=["balances"],
            summary="What an invoice asks, what was paid, and where it stands")
async def invoice_balance(invoice_id: str, principal: Reader, pool: PoolDep, clock: ClockDep,
                          as_of: AsOf = None) -> InvoiceBalancePublic:
    row = await pool.fetchrow(f"{INVOICE_BALANCES} WHERE i.invoice_id = $1", invoice_id)
    if row is None:
        raise InvoiceNotFound(invoice_id)
    return _invoice_public(row, as_of or clock.today())


@router.get("/customers/{customer_id}/balance", response_model=CustomerBalancePublic, tags=["balances"],
            summary="A customer's balance per currency, with every invoice's")
async def customer_balance(customer_id: str, principal: Reader, pool: PoolDep, clock: ClockDep,
                           as_of: AsOf = None) -> CustomerBalancePublic:
    day = as_of or clock.today()
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        invoices = await conn.fetch(
            f"{INVOICE_BALANCES} WHERE i.customer_id = $1 ORDER BY i.due_date, i.number", customer_id,
        )
        payments = await conn.fetch("SELECT * FROM payments WHERE customer_id = $1", customer_id)
    balances = customer_balances(
        [_invoice_balance(r) for r in invoices],
        [_payment_balance(p) for p in payments],
        day,
    )
    return CustomerBalancePublic(
        customer_id=customer_id, as_of=day,
        balances=[CurrencyBalancePublic(
            currency=b.currency, owed=b.owed, credit=b.credit, net=b.net, overdue=b.overdue, in_plan=b.in_plan,
            with_payers=b.with_payers, payer_credit=b.payer_credit, standing=b.standing,
        ) for b in balances],
        invoices=[_invoice_public(r, day) for r in invoices],
    )


# -- payment plans -------------------------------------------------------------------------------


def _plan_public(plan: PaymentPlan) -> PlanPublic:
    terms = plan.terms

    def status(instalment) -> str:  # type: ignore[no-untyped-def]
        if plan.unpaid_of(instalment) == 0:
            return "paid"
        return "missed" if instalment.sequence in plan.missed else "due"

    return PlanPublic(
        plan_id=plan.plan_id, customer_id=terms.customer_id, status=plan.status, invoice_ids=terms.invoice_ids,
        currency=terms.currency, total=terms.total, down_payment=terms.down_payment, frequency=terms.frequency,
        paid_to_date=plan.paid_to_date, outstanding=plan.outstanding,
        instalments=[InstalmentPublic(
            sequence=i.sequence, due_date=i.due_date, amount=i.amount, unpaid=plan.unpaid_of(i), status=status(i),
        ) for i in plan.instalments],
        missed=plan.missed, default_after_missed=terms.default_after_missed, version=plan.version,
    )


@router.post("/payment-plans/quote", response_model=PlanQuotePublic, tags=["payment plans"],
             responses=problem_responses(422), summary="The schedule a plan would have, agreeing nothing")
async def quote_plan(body: PlanQuote, principal: Reader, pool: PoolDep, ledger: LedgerDep) -> PlanQuotePublic:
    async with pool.acquire() as conn, conn.transaction():
        total, instalments = await ledger.quote_plan(
            conn, customer_id=body.customer_id, invoice_ids=body.invoice_ids, currency=body.currency,
            instalments=body.instalments, frequency=body.frequency, first_due=body.first_due_date,
            down_payment=body.down_payment,
        )
    return PlanQuotePublic(
        total=total, currency=body.currency, minimum_instalment=ledger.plan_policy.minimum_instalment,
        instalments=instalments,
    )


@router.post("/payment-plans", status_code=201, response_model=PlanPublic, tags=["payment plans"],
             responses=problem_responses(409, 422), summary="Agree a payment plan for a balance")
async def agree_plan(body: PlanCreate, write: Creation, ledger: LedgerDep) -> JSONResponse:
    """For the named invoices, or all the customer's open ones: a down payment due today, then
    equal instalments; each at least the configured minimum."""
    plan_id = f"plan_{uuid.uuid4().hex}"

    async def agree(conn: asyncpg.Connection) -> IdempotentResult:
        plan = await ledger.agree_plan(
            conn, plan_id, customer_id=body.customer_id, invoice_ids=body.invoice_ids, currency=body.currency,
            instalments=body.instalments, frequency=body.frequency, first_due=body.first_due_date,
            down_payment=body.down_payment, agreed_by=write.principal.system,
        )
        public = _plan_public(plan)
        return IdempotentResult(201, public.model_dump(mode="json"),
                                {**etag(plan.version), "Location": f"/v1/payment-plans/{plan_id}"})

    return await write.run(body, agree)


@router.get("/payment-plans/{plan_id}", response_model=PlanPublic, tags=["payment plans"], summary="One plan")
async def get_plan(plan_id: str, principal: Reader, pool: PoolDep, ledger: LedgerDep) -> PlanPublic:
    async with pool.acquire() as conn:
        plan = await ledger.repos.plans.get(plan_id, connection=conn)
    return _plan_public(plan)


@router.get("/customers/{customer_id}/payment-plans", response_model=PlansPublic, tags=["payment plans"],
            summary="A customer's payment plans")
async def customer_plans(customer_id: str, principal: Reader, pool: PoolDep, ledger: LedgerDep) -> PlansPublic:
    async with pool.acquire() as conn:
        ids = await conn.fetch("SELECT plan_id FROM plans WHERE customer_id = $1 ORDER BY agreed_at", customer_id)
        plans = [await ledger.repos.plans.get(r["plan_id"], connection=conn) for r in ids]
    return PlansPublic(items=[_plan_public(p) for p in plans])


# -- missed payments -----------------------------------------------------------------------------


@router.post("/missed-payment-runs", response_model=MissedRunPublic, tags=["missed payments"],
             summary="Look for missed payments now, for a given business date")
async def missed_payment_run(body: MissedRunRequest, principal: Operator, scheduler: SchedulerDep) -> MissedRunPublic:
    """Each invoice past due and each instalment missed yields one PaymentMissed, however often
    this runs."""
    run = await scheduler.run(body.as_of)
    return MissedRunPublic(
        as_of=run.as_of, invoices_missed=run.invoices_missed, instalments_missed=run.instalments_missed,
        plans_defaulted=run.plans_defaulted, plans_completed=run.plans_completed,
    )


@router.get("/customers/{customer_id}/missed-payments", response_model=MissedPaymentsPublic,
            tags=["missed payments"], summary="A customer's missed payments")
async def customer_missed(customer_id: str, principal: Reader, pool: PoolDep) -> MissedPaymentsPublic:
    rows = await pool.fetch(
        "SELECT * FROM missed_payments WHERE customer_id = $1 ORDER BY due_date, due_item", customer_id,
    )
    return MissedPaymentsPublic(items=[MissedPaymentPublic(
        due_item=r["due_item"], item=r["item"], invoice_id=r["invoice_id"], plan_id=r["plan_id"],
        instalment=r["instalment"], due_date=r["due_date"], amount=r["amount"], currency=r["currency"],
        days_overdue=r["days_overdue"], as_of=r["as_of"], detected_at=r["detected_at"],
    ) for r in rows])


# -- remittances ---------------------------------------------------------------------------------


class RemittanceDocument(BaseModel):
    """The raw document, for the Idempotency-Key fingerprint."""

    document: str


def _remittance_public(row: asyncpg.Record) -> RemittancePublic:
    posted = json.loads(row["posted"])
    return RemittancePublic(
        remittance_id=row["remittance_id"], payer_id=row["payer_id"], payer_name=row["payer_name"],
        trace_number=row["trace_number"], payment_method=posted["payment_method"],
        payment_amount=row["payment_amount"], payment_date=row["payment_date"], currency=row["currency"],
        unmatched_amount=row["unmatched_amount"], claims=posted["claims"], posted_at=row["posted_at"],
    )


@router.post("/remittances", status_code=201, response_model=RemittancesPublic, tags=["remittances"],
             responses=problem_responses(409, 422),
             openapi_extra={"requestBody": {"required": True, "content": X12}},
             summary="Post a payer's X12 835 remittance advice")
async def post_remittance(request: Request, write: Creation, remittances: RemittancesDep) -> JSONResponse:
    """Validated with pyx12 against 005010X221A1 and checked to balance; then each claim's payment
    pays the payer's invoice and invoicing hears ClaimAdjusted or ClaimDenied. A trace number is
    posted once."""
    raw = await request.body()
    try:
        document = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(415, detail="an X12 document is text (UTF-8 or ASCII)", slug="not-text",
                      errors=[FieldError(field="body", message="not text")]) from None
    if not document.strip():
        raise Problem(422, detail="the body is empty; send the 835", slug="empty-document",
                      errors=[FieldError(field="body", message="empty")])
    advices = await asyncio.to_thread(remittances.check, document)

    async def post(conn: asyncpg.Connection) -> IdempotentResult:
        posted = await remittances.post(conn, document, advices, write.principal.system)
        rows = await conn.fetch(
            "SELECT * FROM remittances WHERE remittance_id = ANY($1::text[]) ORDER BY posted_at, remittance_id",
            [p.remittance_id for p in posted],
        )
        public = RemittancesPublic(items=[_remittance_public(r) for r in rows])
        return IdempotentResult(201, public.model_dump(mode="json"), {})

    return await write.run(RemittanceDocument(document=document), post)


@router.get("/remittances", response_model=RemittancesPublic, tags=["remittances"],
            summary="Remittances posted, newest first")
async def list_remittances(principal: Reader, pool: PoolDep,
                           limit: Annotated[int, Query(ge=1, le=500)] = 50) -> RemittancesPublic:
    rows = await pool.fetch("SELECT * FROM remittances ORDER BY posted_at DESC, remittance_id LIMIT $1", limit)
    return RemittancesPublic(items=[_remittance_public(r) for r in rows])


@router.get("/remittances/{remittance_id}", response_model=RemittancePublic, tags=["remittances"],
            summary="One posted remittance")
async def get_remittance(remittance_id: str, principal: Reader, pool: PoolDep) -> RemittancePublic:
    row = await pool.fetchrow("SELECT * FROM remittances WHERE remittance_id = $1", remittance_id)
    if row is None:
        raise RemittanceNotFound(remittance_id)
    return _remittance_public(row)


@router.get("/remittances/{remittance_id}/x12", tags=["remittances"], response_class=Response,
            responses={200: {"content": {"application/edi-x12": {}}, "description": "The 835 as it arrived"}},
            summary="The 835 document a remittance was posted from")
async def remittance_document(remittance_id: str, principal: Reader, pool: PoolDep) -> Response:
    document = await pool.fetchval(
        "SELECT document FROM remittance_documents WHERE remittance_id = $1", remittance_id,
    )
    if document is None:
        raise RemittanceNotFound(remittance_id)
    return Response(document, media_type="application/edi-x12")


# -- gateways ------------------------------------------------------------------------------------


@router.post("/gateways/{gateway}/notifications", response_model=NotificationOutcome, tags=["gateways"],
             responses=problem_responses(401, 409, 422),
             summary="A card or bank gateway's signed notification")
async def gateway_notification(
    gateway: str, request: Request, gateways: GatewaysDep, pool: PoolDep, clock: ClockDep,
    signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER)] = None,
) -> NotificationOutcome:
    """Authenticated by its HMAC-SHA256 signature (``Payment-Signature: t=<unix>,v1=<hex>`` over
    ``<t>.<body>``) instead of a bearer token. Too old a signature is refused; a notification
    already taken is answered as a duplicate and changes nothing."""
    settings = request.app.state.settings
    # the gateway is named by an unauthenticated URL: only configured ones get their own series
    counter = request.app.state.gateway_notifications
    label = gateway if gateway in settings.gateway_secrets else "unknown"
    body = await request.body()
    try:
        verify(signature, body, settings.gateway_secrets.get(gateway, []), clock.now(),
               settings.gateway_tolerance_seconds)
    except SignatureRefused as refused:
        counter.labels(label, "refused").inc()
        log.warning("refused a notification for gateway %s from %s: %s", gateway,
                    request.client.host if request.client else "unknown", refused)
        raise Problem(401, detail=f"notification refused: {refused}", slug="invalid-signature",
                      errors=[FieldError(field=SIGNATURE_HEADER, message=str(refused))]) from None
    try:
        notification = Notification.model_validate_json(body)
    except ValidationError as invalid:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"]) if e["loc"] else ("body",)} for e in invalid.errors()]
        ) from None
    # what it causes commits with its id: a notification that fails is taken again when resent
    async with pool.acquire() as conn, conn.transaction():
        outcome = await gateways.take(conn, gateway, notification)
    counter.labels(label, outcome).inc()
    return NotificationOutcome(notification_id=notification.id, outcome=outcome)


# -- how to pay ----------------------------------------------------------------------------------


async def _instructions_public(conn: asyncpg.Connection, business_id: str) -> InstructionsPublic:
    row = await conn.fetchrow("SELECT * FROM payment_instructions WHERE business_id = $1", business_id)
    if row is None:
        raise InstructionsNotFound(business_id)
    data = json.loads(row["instructions"])
    return InstructionsPublic(
        business_id=business_id, business_name=data["business_name"], options=data["options"],
        notes=data.get("notes"), published_at=row["published_at"], version=row["version"],
    )


@router.put("/businesses/{business_id}/payment-instructions", response_model=InstructionsPublic,
            tags=["how to pay"], responses=problem_responses(409, 412, 422),
            summary="Publish how a business's customers can pay")
async def publish_instructions(business_id: str, body: InstructionsUpdate, write: Change,
                               ledger: LedgerDep) -> JSONResponse:
    """Card link, bank details, where cheques go: what demands and statements print. Every
    version is published as PaymentInstructionsPublished."""

    async def publish(conn: asyncpg.Connection) -> IdempotentResult:
        await ledger.publish_instructions(
            conn, business_id, business_name=body.business_name, options=body.options, notes=body.notes,
            published_by=write.principal.system, expected_version=write.expected,
        )
        public = await _instructions_public(conn, business_id)
        return IdempotentResult(200, public.model_dump(mode="json"), etag(public.version))

    return await write.run(body, publish)


@router.get("/businesses/{business_id}/payment-instructions", response_model=InstructionsPublic,
            tags=["how to pay"], summary="How a business's customers can pay")
async def get_instructions(business_id: str, principal: Reader, pool: PoolDep) -> JSONResponse:
    async with pool.acquire() as conn:
        public = await _instructions_public(conn, business_id)
    return JSONResponse(public.model_dump(mode="json"), headers=etag(public.version))
