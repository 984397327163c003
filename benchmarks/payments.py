"""Payments: reading a payer's 835, posting remittances, taking payments, finding missed ones.

    .venv/bin/python -m benchmarks.payments            # full run, about 65 s
    .venv/bin/python -m benchmarks.payments --quick    # smoke test, about 3 s; numbers mean nothing

835 reading (no database): `validate_835` then `read_835` on 835s of 20 claims written by the
clearinghouse simulator's `write_835` (two service lines a claim, paid in full, cut to the fee
schedule, or cut with a coinsurance left to the patient, in turn), in documents/s and claims/s,
against stock pyx12, which parses its XML maps again for every document (the baseline, measured in
the same run by putting pyx12's own `load_map_file` back for the measurement); and `read_835` alone.

The app: payments built by its own `create_app` (background workers off) in a fresh schema of the
`bench` database, with its lifespan; invoices are folded into its read model by its own
`InvoicingFeed` projection, without reactions (what the Kafka consumer folds, without Kafka), from
`InvoiceIssued` events built with invoicing's own event models.

Posting remittances: per run, 835s of 50 claims each answering a payer invoice issued for it
(CLP01 is the invoice number), each posted as the API posts it: `Remittances.check` in a worker
thread (pyx12 validation, reading, balancing), then `Remittances.post` in one transaction per
835 (a payment per claim allocated to its invoice, ClaimAdjusted, RemittancePosted, the raw
document kept). The baseline: the same payments taken directly by `Ledger.receive`, each
allocated to its invoice, in one transaction per 50 (no document: no validation, reading, claim
events or RemittancePosted). Claims/s, their ratio, and the share of the posting time spent inside
pyx12 validation. After each run every invoice must have been paid exactly what its claim paid,
each by one payment, and each remittance must have matched all its money, or the benchmark stops.

Taking payments: per run, customers with four open invoices each (issued a day apart), and for
each a payment that pays exactly the three oldest, through `Ledger.receive` allocating oldest
first, one transaction per payment: payments/s with one writer, and with four concurrent writers
(`asyncio.gather`, one process, each on its own customers), with their ratio. The baseline: a bare
asyncpg INSERT of one row per transaction into a plain table, with the same writers. After each run
the three oldest invoices of every customer must be paid in full and the newest untouched.

Missed payments: per run, a fresh schema holding N invoices past due and unpaid (to customers and
to the payer, in turn) and N past due and paid (a hundred a customer, each customer's paid off by
one payment), every table analysed as autovacuum would leave it; then
`MissedPaymentScheduler.run(as_of)` twice. The first run publishes a PaymentMissed for each unpaid
invoice (PaymentMissed/s; every one exactly once, or the benchmark stops), the second finds
nothing new (milliseconds: what the scheduler pays again on every interval). Baselines: for the
first run, a bare one-row INSERT per transaction for each invoice; for the second, a bare query
for the past-due invoices without a PaymentMissed (no balances). Each repetition runs at N and at
N/2, so the ratio of the two second runs shows how the cost of looking again grows: 2x is linear,
4x quadratic.

Method: --reps repetitions; within each, the contenders of a section run back to back, taking
turns at going first. A figure is the median of its runs, a ratio the median of the
per-repetition ratios.

Runs in fresh schemas of the `bench` database (`BENCH_DATABASE_URL`), dropped afterwards. The
app's lifespan starts its Kafka producer, so Kafka must be up on the default address (`make bench`
starts both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI

from benchmarks.reporting import (
    documents_per_second,
    header,
    maps_parsed_per_document,
    median_ratio,
)
from services.invoicing.domain import events as invoicing
from services.payments.adapters.x12_835 import read_835, validate_835
from services.payments.application.feeds import InvoicingFeed
from services.payments.domain.events import (
    Allocation,
    PartyKind,
    PayingParty,
    PaymentChannel,
    PaymentMethod,
)
from services.payments.main import create_app
from services.payments.settings import PaymentsSettings
from shared.clock import FixedClock
from shared.envelope import EventEnvelope
from simulators.clearinghouse.remittance import (
    CasAdjustment,
    ClaimAdjudication,
    LineAdjudication,
    Remittance,
    RemittancePayee,
    RemittancePayer,
    write_835,
)

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://bench:bench@127.0.0.1:5432/bench")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
SERVICE_DATE = date(2026, 2, 16)
PAYER_ID = "acme-health"
PAYER = RemittancePayer(name="ACME HEALTH", identifier="60054")
PAYEE = RemittancePayee(name="EXAMPLE COMMUNITY CLINIC", npi="1234567893")
INSURER = PayingParty(kind=PartyKind.INSURER, name="ACME HEALTH", payer_id=PAYER_ID)
CUSTOMER_INVOICES = (4000, 5000, 6000, 7000)  # a customer's four open invoices, oldest first
PAYMENT = sum(CUSTOMER_INVOICES[:3])  # pays the three oldest exactly


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


# -- 835s ------------------------------------------------------------------------------------------


def adjudication(reference: str, n: int) -> ClaimAdjudication:
    """Claim ``n``: an office visit and a flu shot, paid in full, the visit cut to the fee
    schedule (CO-45), or cut and a coinsurance left to the patient (PR-2), in turn."""
    visit_adjustments: tuple[CasAdjustment, ...] = (
        (), (CasAdjustment("CO", "45", 3000),), (CasAdjustment("CO", "45", 3000), CasAdjustment("PR", "2", 2400)),
    )[n % 3]
    return ClaimAdjudication(
        claim_reference=reference, payer_claim_number=f"PCN{n:08d}", patient_name=("LOVELACE", "ADA"),
        member_id="W123456789",
        lines=(
            LineAdjudication(procedure_code="HC:99213:25", charge=15000,
                             paid=15000 - sum(a.amount for a in visit_adjustments), line_reference=f"{reference}-L1",
                             allowed=15000 - visit_adjustments[0].amount if visit_adjustments else 15000,
                             service_date=SERVICE_DATE, adjustments=visit_adjustments),
            LineAdjudication(procedure_code="HC:G0008", charge=2550, paid=2550, line_reference=f"{reference}-L2",
                             service_date=SERVICE_DATE),
        ),
    )


def remittance_835(references: list[str], trace: str, control_number: int) -> tuple[str, list[int]]:
    """An 835 paying the claims ``references`` by ACH, and what it pays on each."""
    claims = tuple(adjudication(reference, n) for n, reference in enumerate(references))
    remittance = Remittance(payer=PAYER, payee=PAYEE, trace_number=trace, payment_date=TODAY, method="ACH",
                            claims=claims)
    document = write_835(remittance, sender_id="CLEARINGHOUSE", receiver_id="BILLINGPLATFORM",
                         control_number=control_number, created_at=NOW)
    return document, [claim.paid for claim in claims]


CLAIM_CHARGE = adjudication("X", 0).charge


def validated_and_read(document: str) -> int:
    problems = validate_835(document)
    if problems:
        raise SystemExit(f"a benchmark 835 is not valid: {problems[0]}")
    return sum(len(advice.claims) for advice in read_835(document))


def measure_835(claims: int, documents: int, stock_documents: int, reads: int, reps: int) -> dict[str, list[float]]:
    sample = [
        remittance_835([f"PAY-2026-{d * claims + n + 1:06d}" for n in range(claims)], f"EFT{d:06d}", d + 1)[0]
        for d in range(documents)
    ]
    for document in sample:  # also warms the cache of parsed maps
        if validated_and_read(document) != claims:
            raise SystemExit(f"a benchmark 835 does not read back as {claims} claims")
    runs: dict[str, list[float]] = {"cached": [], "stock": [], "read": []}
    for rep in range(reps):
        for contender in ("cached", "stock")[:: 1 if rep % 2 == 0 else -1]:
            if contender == "cached":
                runs["cached"].append(documents_per_second(validated_and_read, sample))
            else:
                with maps_parsed_per_document():
                    runs["stock"].append(documents_per_second(validated_and_read, sample[:stock_documents]))
        runs["read"].append(documents_per_second(read_835, [sample[n % documents] for n in range(reads)]))
    return runs


# -- the app ---------------------------------------------------------------------------------------


def payer_invoice(number: str, customer_id: str, issue_date: date = SERVICE_DATE) -> invoicing.InvoiceIssued:
    """The insurer's invoice for claim ``number``: the visit and the flu shot of `adjudication`."""
    lines = [
        invoicing.InvoiceLine(
            line_id=f"{number}-L{i}", charge_id=unique("chg_"), service_date=SERVICE_DATE,
            code=invoicing.Code(system="HCPCS", code=code), description=description, units=1, unit_price=amount,
            charge_amount=amount, amount=amount,
        )
        for i, (code, description, amount) in enumerate(
            (("99213", "Office visit", 15000), ("G0008", "Flu shot administration", 2550)), start=1
        )
    ]
    return invoicing.InvoiceIssued(
        invoice_id=unique("inv_"), number=number, series="PAY", customer_id=customer_id, bill_id=unique("bill_"),
        party=invoicing.BilledParty(kind=invoicing.PartyKind.PAYER, name="Acme Health", payer_id=PAYER_ID,
                                    payer_kind="insurer", coverage_id=f"cov_{customer_id}",
                                    responsibility=invoicing.Responsibility.PRIMARY),
        lines=lines, total=sum(line.amount for line in lines), currency="USD", issue_date=issue_date,
        due_date=issue_date + timedelta(days=30), payment_terms="Net 30", issued_at=NOW,
    )


def customer_invoice(customer_id: str, total: int, issue_date: date, due_date: date) -> invoicing.InvoiceIssued:
    number = unique("INV-2026-")
    line = invoicing.InvoiceLine(
        line_id=unique("line_"), charge_id=unique("chg_"), service_date=issue_date,
        code=invoicing.Code(system="HCPCS", code="99213"), description="Office visit", units=1, unit_price=total,
        charge_amount=total, amount=total,
    )
    return invoicing.InvoiceIssued(
        invoice_id=unique("inv_"), number=number, series="INV", customer_id=customer_id, bill_id=None,
        party=invoicing.BilledParty(kind=invoicing.PartyKind.CUSTOMER, name="Ada Lovelace",
                                    responsibility=invoicing.Responsibility.CUSTOMER),
        lines=[line], total=total, currency="USD", issue_date=issue_date, due_date=due_date,
        payment_terms="Net 30", issued_at=NOW,
    )


async def fold_invoices(pool: asyncpg.Pool, issued: list[invoicing.InvoiceIssued]) -> None:
    """As the feed consumer folds invoicing's events (without reactions: nothing is paid)."""
    feed = InvoicingFeed(None)
    async with pool.acquire() as conn, conn.transaction():
        for event in issued:
            await feed.apply(conn, EventEnvelope.wrap(event, source=invoicing.SOURCE, subject=event.customer_id,
                                                      time=NOW))


@contextlib.asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    schema = f"bench_payments_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@contextlib.asynccontextmanager
async def payments_app() -> AsyncIterator[FastAPI]:
    """The service as its bootstrap builds it, migrated into a fresh schema, with a plain table
    for the baselines' bare inserts."""
    async with fresh_schema() as schema:
        settings = PaymentsSettings(environment="test", database_url=f"{DSN}?search_path={schema}",
                                    run_background_workers=False)
        app = create_app(settings, clock=FixedClock(NOW))
        async with app.router.lifespan_context(app):
            await app.state.pool.execute(
                "CREATE TABLE bare_rows (row_id text PRIMARY KEY, customer_id text NOT NULL, amount bigint NOT NULL)"
            )
            yield app


async def bare_inserts(pool: asyncpg.Pool, rows: int, writers: int) -> float:
    """Rows/s of ``writers`` concurrent writers each inserting its share of ``rows``, one row per
    transaction, into a plain table."""
    async def writer(count: int) -> None:
        for _ in range(count):
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("INSERT INTO bare_rows VALUES ($1, $2, $3)", uuid.uuid4().hex, "cus_bare", 100)

    started = time.perf_counter()
    await asyncio.gather(*(writer(rows // writers) for _ in range(writers)))
    return rows // writers * writers / (time.perf_counter() - started)


# -- posting remittances ---------------------------------------------------------------------------


@contextlib.contextmanager
def validations_timed(remittances: Any) -> Iterator[list[float]]:
    """The seconds each pyx12 validation of `Remittances.check` takes."""
    durations: list[float] = []
    validate = remittances.validate

    def timed(text: str) -> Any:
        started = time.perf_counter()
        try:
            return validate(text)
        finally:
            durations.append(time.perf_counter() - started)

    remittances.validate = timed
    try:
        yield durations
    finally:
        remittances.validate = validate


async def billed_claims(
    pool: asyncpg.Pool, label: str, documents: int, claims: int
) -> list[list[invoicing.InvoiceIssued]]:
    """``documents`` batches of ``claims`` payer invoices, one customer each."""
    batches = [
        [payer_invoice(f"PAY-{label}-{d:03d}{n:03d}", f"cus_{label}_{d:03d}{n:03d}") for n in range(claims)]
        for d in range(documents)
    ]
    await fold_invoices(pool, [invoice for batch in batches for invoice in batch])
    return batches


async def check_paid(pool: asyncpg.Pool, label: str, expected: dict[str, int], remittances: int | None) -> None:
    """Every invoice paid exactly what its claim paid, by one payment of that amount; every
    remittance's money matched. Otherwise the run is void."""
    rows = await pool.fetch(
        """SELECT i.number, count(a.payment_id) AS payments, COALESCE(sum(a.amount), 0) AS paid,
                  COALESCE(sum(p.amount), 0) AS received, COALESCE(sum(p.allocated), 0) AS allocated
           FROM invoices i LEFT JOIN allocations a USING (invoice_id) LEFT JOIN payments p USING (payment_id)
           WHERE i.number = ANY($1::text[]) GROUP BY i.number""",
        list(expected),
    )
    wrong = [dict(r) for r in rows
             if (r["payments"], r["paid"], r["received"], r["allocated"]) != (1, *[expected[r["number"]]] * 3)]
    if len(rows) != len(expected) or wrong:
        raise SystemExit(f"run {label} is void: {len(rows)} of {len(expected)} invoices found; "
                         f"not paid their claim's payment: {wrong[:3]}")
    if remittances is not None:
        posted = await pool.fetchrow(
            """SELECT count(*) AS remittances, count(*) FILTER (WHERE unmatched_amount <> 0) AS unmatched,
                      COALESCE(sum(payment_amount), 0) AS paid
               FROM remittances WHERE trace_number LIKE $1 || '-%'""",
            label,
        )
        if tuple(posted) != (remittances, 0, sum(expected.values())):
            raise SystemExit(f"run {label} is void: (remittances, with unmatched money, paid) {tuple(posted)}, "
                             f"expected {(remittances, 0, sum(expected.values()))}")


async def timed_posting(
    app: FastAPI, label: str, documents: int, claims: int, validations: list[float]
) -> tuple[float, float]:
    """Claims/s posting ``documents`` 835s as the API does, and the share of that time in pyx12."""
    pool, remittances = app.state.pool, app.state.remittances
    batches = await billed_claims(pool, label, documents, claims)
    written = [remittance_835([i.number for i in batch], f"{label}-{d:03d}", d + 1) for d, batch in enumerate(batches)]
    del validations[:]
    started = time.perf_counter()
    for document, _ in written:
        advices = await asyncio.to_thread(remittances.check, document)
        async with pool.acquire() as conn, conn.transaction():
            await remittances.post(conn, document, advices, "bench")
    elapsed = time.perf_counter() - started
    expected = {i.number: paid for batch, (_, paids) in zip(batches, written, strict=True)
                for i, paid in zip(batch, paids, strict=True)}
    await check_paid(pool, label, expected, documents)
    return documents * claims / elapsed, sum(validations) / elapsed


async def timed_receiving(app: FastAPI, label: str, documents: int, claims: int) -> float:
    """Claims/s taking the same payments with `Ledger.receive`, one transaction per 835's worth."""
    pool, ledger = app.state.pool, app.state.ledger
    batches = await billed_claims(pool, label, documents, claims)
    paids = [adjudication("X", n).paid for n in range(claims)]
    started = time.perf_counter()
    for batch in batches:
        async with pool.acquire() as conn, conn.transaction():
            for invoice, paid in zip(batch, paids, strict=True):
                await ledger.receive(
                    conn, unique("pay_"), customer_id=invoice.customer_id, party=INSURER, method=PaymentMethod.EFT,
                    channel=PaymentChannel.REMITTANCE, amount=paid, fee=0, currency="USD", reference=label,
                    received_on=TODAY, recorded_by="bench",
                    allocations=[Allocation(invoice_id=invoice.invoice_id, invoice_number=invoice.number,
                                            amount=paid)],
                )
    elapsed = time.perf_counter() - started
    await check_paid(pool, label, {i.number: paid for batch in batches for i, paid in zip(batch, paids, strict=True)},
                     None)
    return documents * claims / elapsed


async def measure_posting(app: FastAPI, documents: int, claims: int, reps: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {}
    with validations_timed(app.state.remittances) as validations:
        await timed_posting(app, "warm", 1, 5, validations)  # parses the maps in the worker thread
        for rep in range(reps):
            for contender in ("post", "receive")[:: 1 if rep % 2 == 0 else -1]:
                if contender == "post":
                    rate, validating = await timed_posting(app, f"post{rep}", documents, claims, validations)
                    runs.setdefault("post", []).append(rate)
                    runs.setdefault("validating", []).append(validating)
                else:
                    runs.setdefault("receive", []).append(await timed_receiving(app, f"recv{rep}", documents, claims))
    return runs


# -- taking payments -------------------------------------------------------------------------------


async def customers_with_open_invoices(pool: asyncpg.Pool, label: str, count: int) -> dict[str, list[str]]:
    """``count`` customers, each with four open invoices issued a day apart, oldest first."""
    customers: dict[str, list[str]] = {}
    issued = []
    for n in range(count):
        customer_id = f"cus_{label}_{n:05d}"
        invoices = [
            customer_invoice(customer_id, total, TODAY - timedelta(days=40 - k), TODAY - timedelta(days=10 - k))
            for k, total in enumerate(CUSTOMER_INVOICES)
        ]
        customers[customer_id] = [i.invoice_id for i in invoices]
        issued += invoices
    await fold_invoices(pool, issued)
    return customers


async def check_oldest_paid(pool: asyncpg.Pool, label: str, customers: dict[str, list[str]]) -> None:
    rows = await pool.fetch(
        """SELECT i.invoice_id, i.total, COALESCE(sum(a.amount), 0) AS paid FROM invoices i
           LEFT JOIN allocations a USING (invoice_id) WHERE i.customer_id = ANY($1::text[]) GROUP BY i.invoice_id""",
        list(customers),
    )
    paid = {r["invoice_id"]: (r["total"], r["paid"]) for r in rows}
    wrong = [
        (invoice_id, paid.get(invoice_id))
        for invoices in customers.values() for k, invoice_id in enumerate(invoices)
        if paid.get(invoice_id) != (CUSTOMER_INVOICES[k], CUSTOMER_INVOICES[k] if k < 3 else 0)
    ]
    if wrong:
        raise SystemExit(f"run {label} is void: invoices not paid oldest first ((total, paid)): {wrong[:3]}")


async def timed_payments(app: FastAPI, label: str, payments: int, writers: int) -> float:
    """Payments/s of ``writers`` concurrent writers, each paying its own customers' three oldest
    invoices, one `Ledger.receive` transaction per payment."""
    pool, ledger = app.state.pool, app.state.ledger
    customers = await customers_with_open_invoices(pool, label, payments // writers * writers)
    ids = list(customers)

    async def writer(mine: list[str]) -> None:
        for customer_id in mine:
            async with pool.acquire() as conn, conn.transaction():
                await ledger.receive(
                    conn, unique("pay_"), customer_id=customer_id,
                    party=PayingParty(kind=PartyKind.CUSTOMER, name="Ada Lovelace"), method=PaymentMethod.CARD,
                    channel=PaymentChannel.DESK, amount=PAYMENT, fee=0, currency="USD", reference=unique("auth_"),
                    received_on=TODAY, recorded_by="bench", allocations=None,
                )

    started = time.perf_counter()
    await asyncio.gather(*(writer(ids[w::writers]) for w in range(writers)))
    elapsed = time.perf_counter() - started
    await check_oldest_paid(pool, label, customers)
    return len(ids) / elapsed


async def measure_payments(app: FastAPI, payments: int, bare_rows: int, reps: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {}
    await timed_payments(app, "warm", 20, 4)
    contenders = [("ours", 1), ("ours", 4), ("bare", 1), ("bare", 4)]
    for rep in range(reps):
        for contender, writers in contenders[:: 1 if rep % 2 == 0 else -1]:
            if contender == "ours":
                rate = await timed_payments(app, f"w{writers}r{rep}", payments, writers)
            else:
                rate = await bare_inserts(app.state.pool, bare_rows, writers)
            runs.setdefault(f"{contender} {writers}", []).append(rate)
    return runs


# -- missed payments -------------------------------------------------------------------------------


PAID_PER_CUSTOMER = 100  # paid past-due invoices: this many a customer, paid off by one payment


async def paid_past_due(app: FastAPI, invoices: int) -> None:
    """``invoices`` past-due customer invoices, paid (oldest first, one payment a customer): what
    the scheduler looks at again on every run, and finds paid."""
    pool, ledger = app.state.pool, app.state.ledger
    customers = [f"cus_paid_{c:05d}" for c in range(invoices // PAID_PER_CUSTOMER)]
    await fold_invoices(pool, [
        customer_invoice(customer_id, 1000, TODAY - timedelta(days=90), TODAY - timedelta(days=60))
        for customer_id in customers for _ in range(PAID_PER_CUSTOMER)
    ])
    for customer_id in customers:
        async with pool.acquire() as conn, conn.transaction():
            await ledger.receive(
                conn, unique("pay_"), customer_id=customer_id,
                party=PayingParty(kind=PartyKind.CUSTOMER, name="Ada Lovelace"), method=PaymentMethod.CARD,
                channel=PaymentChannel.DESK, amount=1000 * PAID_PER_CUSTOMER, fee=0, currency="USD",
                reference=unique("auth_"), received_on=TODAY - timedelta(days=70), recorded_by="bench",
                allocations=None,
            )


async def missed_once(invoices: int) -> dict[str, float]:
    """One run of `measure_missed`, in a fresh schema holding ``invoices`` past due and unpaid
    (to customers and to the payer, in turn) and as many past due and paid."""
    async with payments_app() as app:
        pool, scheduler = app.state.pool, app.state.scheduler
        await fold_invoices(pool, [
            payer_invoice(f"PAY-LATE-{n:06d}", f"cus_late_{n:06d}", TODAY - timedelta(days=60)) if n % 2 else
            customer_invoice(f"cus_late_{n:06d}", 9000, TODAY - timedelta(days=60), TODAY - timedelta(days=30))
            for n in range(invoices)
        ])
        await paid_past_due(app, invoices)
        paid = invoices // PAID_PER_CUSTOMER * PAID_PER_CUSTOMER
        analysed = "ANALYZE invoices, allocations, payments, plans, missed_payments"  # as autovacuum leaves them
        await pool.execute(analysed)
        figures: dict[str, float] = {}
        started = time.perf_counter()
        first = await scheduler.run(TODAY)
        figures["first"] = invoices / (time.perf_counter() - started)
        once = await pool.fetchval("SELECT count(DISTINCT due_item) FROM missed_payments")
        if (first.invoices_missed, once) != (invoices, invoices):
            raise SystemExit(f"missed payments: {first.invoices_missed} on the first run, {once} invoices marked; "
                             f"expected {invoices} and {invoices}")
        await pool.execute(analysed)
        started = time.perf_counter()
        again = await scheduler.run(TODAY)
        figures["second"] = time.perf_counter() - started
        started = time.perf_counter()
        candidates = await pool.fetch(
            """SELECT i.invoice_id FROM invoices i WHERE i.due_date < $1
                 AND NOT EXISTS (SELECT 1 FROM missed_payments m WHERE m.due_item = 'invoice:' || i.invoice_id)""",
            TODAY,
        )
        figures["bare second"] = time.perf_counter() - started
        if again.invoices_missed or len(candidates) != paid:
            raise SystemExit(f"missed payments: the second run found {again.invoices_missed} more; the bare query "
                             f"{len(candidates)} past due without a PaymentMissed, expected the {paid} paid")
        figures["bare first"] = await bare_inserts(pool, invoices, 1)
        return figures


async def measure_missed(invoices: int, reps: int) -> dict[str, list[float]]:
    """Each repetition at ``invoices`` and at half as many, taking turns at going first."""
    runs: dict[str, list[float]] = {}
    for rep in range(reps):
        for size in (invoices, invoices // 2)[:: 1 if rep % 2 == 0 else -1]:
            for key, value in (await missed_once(size)).items():
                runs.setdefault(f"{key} {size}", []).append(value)
    return runs


# -- report ----------------------------------------------------------------------------------------


def row(label: str, figure: str) -> None:
    print(f"  {label:<50}{figure}")


async def main(arguments: argparse.Namespace) -> None:
    for line in await header(DSN, ["services/payments", "shared"], ["pyx12", "asyncpg", "pydantic", "fastapi"]):
        print(line)
    reps, claims = arguments.reps, arguments.claims
    x12 = measure_835(claims, arguments.documents, arguments.stock_documents, arguments.reads, reps)
    cached, stock, read = (statistics.median(x12[k]) for k in ("cached", "stock", "read"))
    print(f"835 reading, {arguments.documents} documents of {claims} claims ({arguments.stock_documents} for stock "
          f"pyx12), median of {reps} runs")
    row("validate_835 + read_835 (maps kept per thread)", f"{cached:9.1f} documents/s {cached * claims:8.0f} claims/s")
    row("stock pyx12 (maps parsed per document), baseline", f"{stock:9.1f} documents/s {stock * claims:8.0f} claims/s")
    row("ours/stock", f"{median_ratio(x12['cached'], x12['stock']):9.2f}x")
    row(f"read_835 alone ({arguments.reads} documents)", f"{read:9.0f} documents/s")

    async with payments_app() as app:
        posting = await measure_posting(app, arguments.remittances, arguments.remittance_claims, reps)
        print(f"posting remittances, {arguments.remittances} 835s of {arguments.remittance_claims} claims per run, "
              f"one transaction per 835, median of {reps} runs")
        row("check + post (as the API posts an 835)", f"{statistics.median(posting['post']):9.1f} claims/s")
        row("Ledger.receive, same payments, baseline", f"{statistics.median(posting['receive']):9.1f} claims/s")
        row("posting/receiving", f"{median_ratio(posting['post'], posting['receive']):9.2f}x")
        row("pyx12 validation, share of posting time", f"{statistics.median(posting['validating']):9.0%}")

        taking = await measure_payments(app, arguments.payments, arguments.bare_rows, reps)
        print(f"taking payments, {arguments.payments} payments per run (each pays 3 open invoices oldest first), "
              f"one transaction each, median of {reps} runs")
        row("Ledger.receive, one writer", f"{statistics.median(taking['ours 1']):9.1f} payments/s")
        row("Ledger.receive, four writers", f"{statistics.median(taking['ours 4']):9.1f} payments/s")
        row("four/one", f"{median_ratio(taking['ours 4'], taking['ours 1']):9.2f}x")
        row("bare INSERT, one writer, baseline", f"{statistics.median(taking['bare 1']):9.1f} transactions/s")
        row("bare INSERT, four writers, baseline", f"{statistics.median(taking['bare 4']):9.1f} transactions/s")
        row("four/one (bare)", f"{median_ratio(taking['bare 4'], taking['bare 1']):9.2f}x")
        row("ours/bare, one writer", f"{median_ratio(taking['ours 1'], taking['bare 1']):9.3f}")
        row("ours/bare, four writers", f"{median_ratio(taking['ours 4'], taking['bare 4']):9.3f}")

    missed = await measure_missed(arguments.late_invoices, reps)
    late, half = arguments.late_invoices, arguments.late_invoices // 2
    print(f"missed payments, {late} invoices past due and unpaid, {late} past due and paid (a fresh schema per run; "
          f"and half as many), median of {reps} runs")
    row("first run", f"{statistics.median(missed[f'first {late}']):9.1f} PaymentMissed/s")
    row("bare INSERT per invoice, baseline", f"{statistics.median(missed[f'bare first {late}']):9.1f} transactions/s")
    row("first run/bare", f"{median_ratio(missed[f'first {late}'], missed[f'bare first {late}']):9.3f}")
    row("second run, nothing new", f"{statistics.median(missed[f'second {late}']) * 1000:9.1f} ms")
    row("bare query for past due without PaymentMissed",
        f"{statistics.median(missed[f'bare second {late}']) * 1000:9.1f} ms")
    row("second run/bare", f"{median_ratio(missed[f'second {late}'], missed[f'bare second {late}']):9.1f}x")
    row(f"second run at {half} + {half} invoices", f"{statistics.median(missed[f'second {half}']) * 1000:9.1f} ms")
    row(f"second run, {late}/{half}", f"{median_ratio(missed[f'second {late}'], missed[f'second {half}']):9.2f}x")
    row(f"bare query, {late}/{half}",
        f"{median_ratio(missed[f'bare second {late}'], missed[f'bare second {half}']):9.2f}x")

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=20, help="claims in each 835 read")
    parser.add_argument("--documents", type=int, default=60, help="835s read per run")
    parser.add_argument("--stock-documents", type=int, default=8, help="of those, read with stock pyx12")
    parser.add_argument("--reads", type=int, default=600, help="835s read by read_835 alone per run")
    parser.add_argument("--remittances", type=int, default=10, help="835s posted per run")
    parser.add_argument("--remittance-claims", type=int, default=50, help="claims in each 835 posted")
    parser.add_argument("--payments", type=int, default=1000, help="payments taken per run")
    parser.add_argument("--bare-rows", type=int, default=3000, help="rows of the bare INSERT baselines")
    parser.add_argument("--late-invoices", type=int, default=3000, help="invoices past due per run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke test: tiny sizes, one repetition")
    parsed = parser.parse_args()
    if parsed.quick:
        (parsed.documents, parsed.stock_documents, parsed.reads, parsed.remittances, parsed.remittance_claims,
         parsed.payments, parsed.bare_rows, parsed.late_invoices, parsed.reps) = 4, 1, 40, 1, 20, 20, 100, 200, 1
    asyncio.run(main(parsed))
