"""The /v1 routes of invoicing: code catalogue, crosswalks, charges, billing runs, invoices
(with their PDF and 837P), voids and credit notes, statements and the print queue. Each parses,
authorises, calls one use case and answers."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi import Body as RequestBody
from fastapi.responses import JSONResponse, Response

from services.invoicing.adapters.pdf import render_invoice, render_statement
from services.invoicing.api.deps import (
    BillingDep,
    Change,
    Creation,
    LetterheadDep,
    Operator,
    PoolDep,
    Reader,
)
from services.invoicing.api.errors import PrintJobNotFound, StatementNotFound
from services.invoicing.api.schemas import (
    BillingRunPublic,
    BillingRunRequest,
    ChargePublic,
    ChargesPublic,
    CodeCheckPublic,
    CodeImportPublic,
    CreditNoteCreate,
    CrosswalkCreate,
    CrosswalkVersionPublic,
    CrosswalkVersionsPublic,
    EncounterPublic,
    InvoicePublic,
    InvoicesPublic,
    InvoiceSummary,
    PrintJobPublic,
    PrintJobsPublic,
    Reversal,
    ReversalPublic,
    StatementPublic,
    StatementRunPublic,
    StatementRunRequest,
    Voiding,
)
from services.invoicing.application.billing import Billing, ChargeNotFound, InvoiceNotFound
from services.invoicing.application.documents import (
    printable_credit_note,
    printable_invoice,
    printable_statement,
)
from services.invoicing.domain.charge import ChargeEntry
from services.invoicing.domain.codes import CodeLookup
from services.invoicing.domain.events import ChargeRecorded
from services.invoicing.domain.invoice import Invoice
from shared.eventstore import ConcurrencyConflict
from shared.http.idempotency import IdempotentResult
from shared.http.problems import PROBLEM_RESPONSES, problem_responses
from shared.http.writes import etag
from shared.rules import RuleViolated

router = APIRouter(prefix="/v1", responses=PROBLEM_RESPONSES)
PDF = {200: {"content": {"application/pdf": {}}, "description": "The document as a PDF"}}


# -- code catalogue ------------------------------------------------------------------------------


@router.put("/code-systems/{system}/codes", response_model=CodeImportPublic, tags=["catalogue"],
            responses=problem_responses(422), summary="Load a code file into the catalogue")
async def import_codes(
    request: Request, system: str, principal: Operator, pool: PoolDep,
    source_name: Annotated[str, Query(min_length=1, max_length=200, description="The file's name")],
    file: Annotated[bytes, RequestBody(media_type="text/csv")],
) -> CodeImportPublic:
    """Replaces the system's codes with the file's (CSV: code,description,valid_from,valid_to):
    HCPCS, ICD-10-CM, CPT from the operator's own licensed file, or a tariff:<name>."""
    async with pool.acquire() as conn, conn.transaction():
        summary = await request.app.state.catalogue.import_file(conn, system, file, source_name, principal.system)
    return CodeImportPublic.model_validate(summary.model_dump())


@router.get("/code-systems/{system}/codes/{code}", response_model=CodeCheckPublic, tags=["catalogue"],
            summary="Whether a code may be charged on a day")
async def check_code(
    request: Request, system: str, code: str, principal: Reader, on: date | None = None
) -> CodeCheckPublic:
    day = on or request.app.state.clock.today()
    [check] = await request.app.state.catalogue.store.check_many([CodeLookup(system, code, day)])
    return CodeCheckPublic(
        system=check.system, code=check.code, on=day, status=check.status.value, message=check.message,
        description=check.entry.description if check.entry and check.is_valid else None,
    )


@router.get("/code-systems", tags=["catalogue"], summary="The code systems in the catalogue")
async def code_systems(request: Request, principal: Reader) -> JSONResponse:
    systems = await request.app.state.catalogue.store.systems()
    return JSONResponse({"items": [s.model_dump(mode="json") for s in systems]})


# -- crosswalks ----------------------------------------------------------------------------------


@router.post("/payers/{payer_id}/crosswalk-versions", status_code=201, response_model=CrosswalkVersionPublic,
             tags=["crosswalks"], responses=problem_responses(409, 422),
             summary="Publish a new version of a payer's crosswalk")
async def publish_crosswalk(payer_id: str, body: CrosswalkCreate, write: Creation, billing: BillingDep) -> JSONResponse:
    """Maps our codes to the payer's codes and modifiers for services from ``effective_from``;
    bills held for want of a mapping are issued when it resolves them."""

    async def publish(conn: asyncpg.Connection) -> IdempotentResult:
        book = await billing.publish_crosswalk(
            conn, payer_id, body.version, body.effective_from, body.effective_to, body.entries,
            write.principal.system,
        )
        latest = book.published[-1]
        public = CrosswalkVersionPublic(
            payer_id=payer_id, version=latest.version, effective_from=latest.effective_from,
            effective_to=latest.effective_to, entries=latest.entries,
        )
        return IdempotentResult(201, public.model_dump(mode="json"), etag(book.version))

    return await write.run(body, publish)


@router.get("/payers/{payer_id}/crosswalk-versions", response_model=CrosswalkVersionsPublic,
            tags=["crosswalks"], summary="Every version of a payer's crosswalk")
async def crosswalk_versions(payer_id: str, principal: Reader, pool: PoolDep, billing: BillingDep) -> CrosswalkVersionsPublic:
    async with pool.acquire() as conn:
        book = await billing.repos.crosswalks.get_or_new(payer_id, connection=conn)
    return CrosswalkVersionsPublic(items=[
        CrosswalkVersionPublic(payer_id=payer_id, version=p.version, effective_from=p.effective_from,
                               effective_to=p.effective_to, entries=p.entries)
        for p in book.published
    ])


# -- charges -------------------------------------------------------------------------------------


CHARGE_COLUMNS = "charge, status, bill_id, version"


def _charge_row_public(row: asyncpg.Record) -> ChargePublic:
    return ChargePublic(
        charge=ChargeRecorded.model_validate_json(row["charge"]), status=row["status"],
        bill_id=row["bill_id"], version=row["version"],
    )


async def _charge_public(conn: asyncpg.Connection, charge_id: str) -> ChargePublic:
    row = await conn.fetchrow(f"SELECT {CHARGE_COLUMNS} FROM charges WHERE charge_id = $1", charge_id)
    if row is None:
        raise ChargeNotFound(charge_id)
    return _charge_row_public(row)


@router.post("/charges", status_code=201, response_model=ChargePublic, tags=["charges"],
             responses=problem_responses(409, 422), summary="Record a service rendered")
async def record_charge(body: ChargeEntry, write: Creation, billing: BillingDep) -> JSONResponse:
    """Codes are checked against the catalogue for the date of service: an unknown, expired or
    malformed code is refused, naming the field."""
    charge_id = f"chg_{uuid.uuid4().hex}"

    async def record(conn: asyncpg.Connection) -> IdempotentResult:
        await billing.record_charge(conn, charge_id, body, write.principal.system)
        public = await _charge_public(conn, charge_id)
        return IdempotentResult(201, public.model_dump(mode="json"), {"Location": f"/v1/charges/{charge_id}"})

    return await write.run(body, record)


@router.get("/charges/{charge_id}", response_model=ChargePublic, tags=["charges"], summary="One charge")
async def get_charge(charge_id: str, principal: Reader, pool: PoolDep) -> ChargePublic:
    async with pool.acquire() as conn:
        return await _charge_public(conn, charge_id)


@router.get("/customers/{customer_id}/charges", response_model=ChargesPublic, tags=["charges"],
            summary="A customer's charges")
async def customer_charges(customer_id: str, principal: Reader, pool: PoolDep) -> ChargesPublic:
    rows = await pool.fetch(
        f"SELECT {CHARGE_COLUMNS} FROM charges WHERE customer_id = $1 ORDER BY service_date, recorded_at",
        customer_id,
    )
    return ChargesPublic(items=[_charge_row_public(row) for row in rows])


@router.post("/charges/{charge_id}/reversal", response_model=ReversalPublic, tags=["charges"],
             responses=problem_responses(404, 409, 422), summary="Reverse a charge")
async def reverse_charge(charge_id: str, body: Reversal, write: Change, billing: BillingDep) -> JSONResponse:
    """Takes the charge back; if it was billed, credit notes take its lines off the open invoices.
    Record the corrected charge with ``corrects`` naming this one."""

    async def reverse(conn: asyncpg.Connection) -> IdempotentResult:
        _, notes = await billing.reverse_charge(conn, charge_id, body.reason, write.principal.system)
        public = ReversalPublic(charge=await _charge_public(conn, charge_id), credit_notes=notes)
        return IdempotentResult(200, public.model_dump(mode="json"), {})

    return await write.run(body, reverse)


# -- billing -------------------------------------------------------------------------------------


@router.post("/billing-runs", response_model=BillingRunPublic, tags=["billing"],
             summary="Bill every encounter with unbilled charges now")
async def billing_run(body: BillingRunRequest, principal: Operator, pool: PoolDep, billing: BillingDep) -> BillingRunPublic:
    """Splits each encounter's charges between its verified coverages in coverage order and the
    customer, and issues one invoice per party (an 837P claim for payers that take them). An
    encounter whose coverage is not verified yet waits, and the answer says why."""
    outcomes = await billing.billing_run(pool, customer_id=body.customer_id)
    return BillingRunPublic(encounters=[EncounterPublic(**vars(o)) for o in outcomes])


# -- invoices ------------------------------------------------------------------------------------


def _invoice_public(invoice: Invoice, received: int) -> InvoicePublic:
    issued, held = invoice.issued, invoice.held
    return InvoicePublic(
        invoice_id=invoice.invoice_id, version=invoice.version, status=invoice.status.value,
        number=invoice.number, customer_id=invoice.customer_id,
        bill_id=issued.bill_id if issued else (held.bill_id if held else None), party=invoice.party,
        lines=invoice.lines or (list(held.lines) if held else []), total=invoice.total,
        open_amount=invoice.open_amount, received_by_payments=received,
        currency=issued.currency if issued else (held.currency if held else None),
        issue_date=issued.issue_date if issued else None, due_date=issued.due_date if issued else None,
        payment_terms=issued.payment_terms if issued else None, hold_reasons=invoice.hold_reasons,
        transferred_from=issued.transferred_from if issued else None,
        transfer_reason=issued.transfer_reason if issued else None, claim=issued.claim if issued else None,
        estimate=issued.estimate if issued else None, flagged=invoice.flagged,
        credit_notes=invoice.credit_notes, remittances=invoice.remittance_events, deliveries=invoice.deliveries,
        credit_note_deliveries=invoice.credit_note_deliveries,
    )


async def _load_invoice(conn: asyncpg.Connection, billing: Billing, invoice_id: str) -> InvoicePublic:
    invoice = await billing.invoice(conn, invoice_id)
    received = await conn.fetchval("SELECT paid FROM invoice_payments WHERE invoice_id = $1", invoice_id)
    return _invoice_public(invoice, received or 0)


@router.get("/invoices", response_model=InvoicesPublic, tags=["invoices"], summary="Invoices, newest first")
async def list_invoices(
    principal: Reader, pool: PoolDep, customer_id: str | None = None, status: str | None = None,
    party_kind: str | None = None, payer_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> InvoicesPublic:
    rows = await pool.fetch(
        """SELECT * FROM invoices
           WHERE ($1::text IS NULL OR customer_id = $1) AND ($2::text IS NULL OR status = $2)
             AND ($3::text IS NULL OR party_kind = $3) AND ($4::text IS NULL OR payer_id = $4)
           ORDER BY updated_at DESC, invoice_id LIMIT $5 OFFSET $6""",
        customer_id, status, party_kind, payer_id, limit, offset,
    )
    return InvoicesPublic(items=[
        InvoiceSummary(**{**{k: r[k] for k in InvoiceSummary.model_fields if k != "hold_reasons"},
                          "hold_reasons": json.loads(r["hold_reasons"])})
        for r in rows
    ])


@router.get("/invoices/{invoice_id}", response_model=InvoicePublic, tags=["invoices"], summary="One invoice")
async def get_invoice(invoice_id: str, principal: Reader, pool: PoolDep, billing: BillingDep) -> JSONResponse:
    async with pool.acquire() as conn:
        public = await _load_invoice(conn, billing, invoice_id)
    return JSONResponse(public.model_dump(mode="json"), headers=etag(public.version))


@router.get("/invoices/{invoice_id}/pdf", tags=["invoices"], responses=PDF, response_class=Response,
            summary="The invoice as a PDF")
async def invoice_pdf(invoice_id: str, principal: Reader, pool: PoolDep, billing: BillingDep,
                      letterhead: LetterheadDep) -> Response:
    async with pool.acquire() as conn:
        invoice = await billing.invoice(conn, invoice_id)
        if invoice.issued is None:  # a voided invoice still prints, marked void
            raise RuleViolated("invoice_id", f"invoice {invoice_id} is held, not issued: {'; '.join(invoice.hold_reasons)}")
        document = await printable_invoice(conn, invoice, letterhead)
    return Response(render_invoice(document), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{document.number}.pdf"'})


@router.get("/invoices/{invoice_id}/claim", tags=["invoices"], response_class=Response,
            responses={200: {"content": {"application/edi-x12": {}}, "description": "The X12 837P interchange"}},
            summary="The 837P claim of an invoice to a payer")
async def invoice_claim(invoice_id: str, principal: Reader, pool: PoolDep) -> Response:
    text = await pool.fetchval(
        "SELECT x12 FROM claim_documents WHERE invoice_id = $1 ORDER BY created_at DESC LIMIT 1", invoice_id
    )
    if text is None:
        raise InvoiceNotFound(f"{invoice_id} (no claim was produced for it)")
    return Response(text, media_type="application/edi-x12")


@router.post("/invoices/{invoice_id}/void", response_model=InvoicePublic, tags=["invoices"],
             responses=problem_responses(404, 409, 412, 422), summary="Void an invoice")
async def void_invoice(invoice_id: str, body: Voiding, write: Change, billing: BillingDep) -> JSONResponse:
    """Cancels an invoice nothing was remitted or credited against; otherwise issue a credit note."""

    async def void(conn: asyncpg.Connection) -> IdempotentResult:
        invoice = await billing.invoice(conn, invoice_id)
        if write.expected is not None and write.expected != invoice.version:
            raise ConcurrencyConflict(invoice_id, write.expected)
        await billing.void(conn, invoice_id, body.reason, write.principal.system)
        public = await _load_invoice(conn, billing, invoice_id)
        return IdempotentResult(200, public.model_dump(mode="json"), etag(public.version))

    return await write.run(body, void)


@router.post("/invoices/{invoice_id}/credit-notes", status_code=201, tags=["invoices"],
             responses=problem_responses(404, 409, 422), summary="Issue a credit note against an invoice")
async def credit_invoice(invoice_id: str, body: CreditNoteCreate, write: Creation, billing: BillingDep) -> JSONResponse:
    """Lowers what is owed on an invoice, line by line, with a numbered credit note; the invoice
    itself is never edited."""

    async def credit(conn: asyncpg.Connection) -> IdempotentResult:
        note = await billing.credit(conn, invoice_id, body.lines, body.reason, write.principal.system)
        return IdempotentResult(201, note.model_dump(mode="json"), {
            "Location": f"/v1/invoices/{invoice_id}/credit-notes/{note.credit_note_id}/pdf"})

    return await write.run(body, credit)


@router.get("/invoices/{invoice_id}/credit-notes/{credit_note_id}/pdf", tags=["invoices"], responses=PDF,
            response_class=Response, summary="A credit note as a PDF")
async def credit_note_pdf(invoice_id: str, credit_note_id: str, principal: Reader, pool: PoolDep,
                          billing: BillingDep, letterhead: LetterheadDep) -> Response:
    async with pool.acquire() as conn:
        invoice = await billing.invoice(conn, invoice_id)
        note = next((n for n in invoice.credit_notes if n.credit_note_id == credit_note_id), None)
        if note is None:
            raise InvoiceNotFound(f"{invoice_id} has no credit note {credit_note_id}")
        document = await printable_credit_note(conn, invoice, note, letterhead)
    return Response(render_invoice(document), media_type="application/pdf")


# -- statements ----------------------------------------------------------------------------------


@router.post("/statement-runs", response_model=StatementRunPublic, tags=["statements"],
             summary="Issue statements of open items now")
async def statement_run(request: Request, body: StatementRunRequest, principal: Operator, pool: PoolDep,
                        billing: BillingDep) -> StatementRunPublic:
    """One statement per customer owing something on the date (at most one per customer and date);
    each is delivered like an invoice."""
    day = body.statement_date or request.app.state.clock.today()
    return StatementRunPublic(statement_ids=await billing.statement_run(pool, day, body.customer_id))


@router.get("/statements/{statement_id}", response_model=StatementPublic, tags=["statements"],
            summary="One statement")
async def get_statement(statement_id: str, principal: Reader, pool: PoolDep, billing: BillingDep) -> StatementPublic:
    async with pool.acquire() as conn:
        statement = await billing.repos.statements.get_or_new(statement_id, connection=conn)
    if statement.issued is None:
        raise StatementNotFound(statement_id)
    return StatementPublic(statement=statement.issued, deliveries=statement.deliveries)


@router.get("/statements/{statement_id}/pdf", tags=["statements"], responses=PDF, response_class=Response,
            summary="A statement as a PDF")
async def statement_pdf(statement_id: str, principal: Reader, pool: PoolDep, billing: BillingDep,
                        letterhead: LetterheadDep) -> Response:
    async with pool.acquire() as conn:
        statement = await billing.repos.statements.get_or_new(statement_id, connection=conn)
        if statement.issued is None:
            raise StatementNotFound(statement_id)
        document = await printable_statement(conn, statement, letterhead)
    return Response(render_statement(document), media_type="application/pdf")


# -- print queue ---------------------------------------------------------------------------------


def _job(row: asyncpg.Record) -> PrintJobPublic:
    return PrintJobPublic(
        job_id=row["job_id"], document_kind=row["document_kind"], document_id=row["document_id"],
        recipient_name=row["recipient_name"], address_lines=json.loads(row["address_lines"]),
        queued_at=row["queued_at"], printed_at=row["printed_at"],
    )


@router.get("/print-queue", response_model=PrintJobsPublic, tags=["print queue"],
            summary="Letters waiting to be printed and posted")
async def print_queue(principal: Operator, pool: PoolDep, include_printed: bool = False) -> PrintJobsPublic:
    rows = await pool.fetch(
        """SELECT job_id, document_kind, document_id, recipient_name, address_lines, queued_at, printed_at
           FROM print_queue WHERE $1 OR printed_at IS NULL ORDER BY queued_at""",
        include_printed,
    )
    return PrintJobsPublic(items=[_job(r) for r in rows])


@router.get("/print-queue/{job_id}/pdf", tags=["print queue"], responses=PDF, response_class=Response,
            summary="The letter to print")
async def print_job_pdf(job_id: str, principal: Operator, pool: PoolDep) -> Response:
    pdf = await pool.fetchval("SELECT pdf FROM print_queue WHERE job_id = $1", job_id)
    if pdf is None:
        raise PrintJobNotFound(job_id)
    return Response(bytes(pdf), media_type="application/pdf")


@router.post("/print-queue/{job_id}/printed", response_model=PrintJobPublic, tags=["print queue"],
             summary="Mark a letter printed and posted")
async def mark_printed(request: Request, job_id: str, principal: Operator, pool: PoolDep) -> PrintJobPublic:
    row = await pool.fetchrow(
        """UPDATE print_queue SET printed_at = coalesce(printed_at, $2) WHERE job_id = $1
           RETURNING job_id, document_kind, document_id, recipient_name, address_lines, queued_at, printed_at""",
        job_id, request.app.state.clock.now(),
    )
    if row is None:
        raise PrintJobNotFound(job_id)
    return _job(row)
