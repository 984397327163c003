"""Invoicing: the cost of a pyx12-validated 837P, and how fast encounters are billed.

    .venv/bin/python -m benchmarks.invoicing            # full run, about 2 minutes
    .venv/bin/python -m benchmarks.invoicing --quick    # smoke test, about 10 s; numbers mean nothing

837P (no database): `validate_837p` on claims written by `build_837p` (primary, dependent and
secondary claims of 2 to 5 service lines, shaped like the unit tests' fixture), in documents/s,
against stock pyx12, which parses its XML maps again for every document (the baseline, measured
in the same run by putting pyx12's own `load_map_file` back for the measurement); and
`build_837p` alone.

Billing: the invoicing app built by its own `create_app` (background workers off, a mailer that
sends nothing) in a fresh schema, upstream facts folded into its read models by its own feed
projection (what the Kafka consumer does, without Kafka): customers, each with a verified primary
coverage at an insurer taking electronic claims and a $25 copay. Per run, two charges are recorded
for every customer (one encounter each), then `Billing.billing_run` bills every encounter: the
split, an invoice to the insurer with its pyx12-validated 837P, a copay invoice to the customer,
gap-free numbers, events and read models, one transaction per encounter. Reported as
encounters/s for one run (the baseline) and for two concurrent runs sharing the work, with their
ratio; after each run every encounter must have been billed exactly once and every invoice series
must be gap-free, or the benchmark stops. Also the share of a single run's time spent in 837P
validation, and how often a billing transaction was waiting on a lock (pg_stat_activity sampled
every 10 ms).

Billing across processes: one process against two processes billing the same database at the
same time (as two replicas of the service would), each the app on the same schema running one
`billing_run`; encounters/s over the slower process's time, and the ratio.

Method: --reps repetitions; within each, both contenders of a section run back to back, taking
turns at going first. A figure is the median of its runs, a ratio the median of the
per-repetition ratios.

Runs in a fresh schema of the `bench` database (`BENCH_DATABASE_URL`), dropped afterwards. The
app's lifespan starts its Kafka producer, so Kafka must be up on the default address (`make bench`
starts both).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
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
from services.invoicing.adapters.claim_validation import validate_837p
from services.invoicing.adapters.upstream_events import (
    CoverageAdded,
    CustomerRegistered,
    EligibilityVerified,
    PayerRegistered,
)
from services.invoicing.adapters.x12_837 import build_837p
from services.invoicing.application import claims as claims_module
from services.invoicing.application.delivery import OutgoingMail
from services.invoicing.application.feeds import UpstreamFeed
from services.invoicing.domain.charge import ChargeEntry
from services.invoicing.domain.claim import (
    BillingProvider,
    ClaimAddress,
    ClaimPatient,
    ClaimPayer,
    ClaimPerson,
    ClaimSubscriber,
    OtherPayer,
    ProfessionalClaim,
    RenderingProvider,
    ServiceLine,
)
from services.invoicing.main import create_app
from services.invoicing.settings import InvoicingSettings
from shared.clock import FixedClock
from shared.envelope import EventEnvelope

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://bench:bench@127.0.0.1:5432/bench")
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
SERVICE_DATE = NOW.date()
CODES = ROOT / "services" / "invoicing" / "codes"
PAYER_ID = "acme-health"
COPAY = 2500

# -- 837P ------------------------------------------------------------------------------------------

CLINIC = BillingProvider(
    name="EXAMPLE COMMUNITY CLINIC", npi="1234567893", tax_id="12-3456789",
    address=ClaimAddress(lines=["123 MAIN ST", "SUITE 4"], city="SPRINGFIELD", state="IL",
                         postal_code="62701-1234"),
    contact_name="BILLING OFFICE", contact_phone="(217) 555-0100", contact_email="billing@example.org",
)
HOME = ClaimAddress(lines=["9 ELM ST"], city="SPRINGFIELD", state="IL", postal_code="62704")
ADA = ClaimPerson(given_name="ADA", family_name="LOVELACE", date_of_birth=date(1985, 12, 10), gender="F",
                  address=HOME)
BYRON = ClaimPerson(given_name="BYRON", family_name="LOVELACE", date_of_birth=date(2015, 3, 1), gender="M",
                    address=HOME)
ACME = ClaimPayer(name="ACME HEALTH", payer_identifier="60054", responsibility="P")
BOLT = ClaimPayer(name="BOLT MUTUAL", payer_identifier="BM001", responsibility="S", claim_filing_indicator="12")
# (procedure, modifiers, charge in cents, diagnosis pointers)
PROCEDURES = [
    ("99213", ["25"], 12500, [1, 2]), ("G0008", [], 2550, [2]), ("90686", ["SL"], 3100, [2]),
    ("87880", [], 4000, [1]), ("J1100", [], 1800, [1]),
]


def sample_claim(n: int) -> ProfessionalClaim:
    """Claim ``n`` of a varied set: a primary, a dependent's or a secondary claim (in turn), of 2
    to 5 service lines, as the unit tests' fixture writes them."""
    lines = [
        ServiceLine(line_reference=f"INV-{n}-L{i}", procedure_code=code, modifiers=modifiers, charge=charge,
                    units=1, service_date=SERVICE_DATE, diagnosis_pointers=pointers)
        for i, (code, modifiers, charge, pointers) in enumerate(PROCEDURES[: 2 + n % 4], start=1)
    ]
    shape = n % 3
    return ProfessionalClaim(
        control_number=1000 + n, sender_id="BILLINGPLATFORM", sender_name="BILLING PLATFORM",
        receiver_id="CLEARINGHOUSE", receiver_name="CLEARINGHOUSE INC", created_at=NOW,
        billing_provider=CLINIC,
        subscriber=ClaimSubscriber(person=ADA, member_id="W123456789", group_number="GRP-77"),
        patient=ClaimPatient(person=BYRON, relationship="19") if shape == 1 else None,
        payer=BOLT if shape == 2 else ACME,
        other_payers=[OtherPayer(payer=ACME, member_id="W123456789")] if shape == 2 else [],
        claim_reference=f"PAY-2026-{n:06d}", diagnoses=["J06.9", "Z23"],
        rendering_provider=RenderingProvider(given_name="GRACE", family_name="HOPPER", npi="1245319599"),
        lines=lines,
    )


def must_be_valid(document: str) -> None:
    problems = validate_837p(document)
    if problems:
        raise SystemExit(f"a benchmark claim is not valid: {problems[0]}")


def measure_837p(claims: int, stock_claims: int, builds: int, reps: int) -> dict[str, list[float]]:
    sample = [sample_claim(n) for n in range(claims)]
    documents = [build_837p(claim) for claim in sample]
    for document in documents:  # also warms the adapter's cache of parsed maps
        must_be_valid(document)
    runs: dict[str, list[float]] = {"cached": [], "stock": [], "build": []}
    for rep in range(reps):
        for contender in ("cached", "stock")[:: 1 if rep % 2 == 0 else -1]:
            if contender == "cached":
                runs["cached"].append(documents_per_second(must_be_valid, documents))
            else:
                with maps_parsed_per_document():
                    runs["stock"].append(documents_per_second(must_be_valid, documents[:stock_claims]))
        runs["build"].append(documents_per_second(build_837p, [sample[n % claims] for n in range(builds)]))
    return runs


# -- billing ---------------------------------------------------------------------------------------


class DiscardingMailer:
    """Delivery does not run here (no background workers); the app still wants a mailer."""

    async def send(self, message: OutgoingMail) -> str:
        return "discarded"


def upstream(reader: type, subject: str, data: dict[str, Any]) -> EventEnvelope:
    service = reader.TYPE.split(".")[1]
    return EventEnvelope(id=uuid.uuid4(), type=reader.TYPE, source=f"/billing/{service}", subject=subject,
                         time=NOW, schema_version=1, data=data)


def payer_registered() -> EventEnvelope:
    return upstream(PayerRegistered, PAYER_ID, {
        "payer_id": PAYER_ID, "registered_at": NOW.isoformat(),
        "profile": {
            "name": "Acme Health", "kind": "insurer", "code_system": "HCPCS",
            "connection": {"method": "x12", "endpoint": "http://127.0.0.1:9/x12/270", "payer_identifier": "60054",
                           "receiver_id": "CLEARINGHOUSE", "timeout_seconds": 10.0},
            "billing_contact": {"name": "Acme Claims", "email": "claims@payer.example", "phone": None,
                                "address_lines": ["PO Box 1", "Springfield, IL 62701"]},
        },
    })


def customer_facts(customer_id: str) -> list[EventEnvelope]:
    """Registered, with a primary coverage at the payer, verified with a $25 copay."""
    coverage_id = f"cov_{customer_id}"
    return [
        upstream(CustomerRegistered, customer_id, {
            "customer_id": customer_id, "kind": "person", "person_name": {"given": "Ada", "family": "Lovelace"},
            "organisation_name": None, "date_of_birth": "1985-12-10",
            "contact": {
                "addresses": [{"id": "addr-1", "use": "home", "lines": ["12 Analytical Row"], "city": "Springfield",
                               "region": "IL", "postal_code": "62701", "country": "US"}],
                "phones": [], "emails": [{"id": "email-1", "use": "home", "address": "ada@example.com"}],
                "preferred_channel": "email", "consents": {"email": True, "sms": False, "phone": True, "post": True},
                "time_zone": "America/Chicago",
            },
            "concern_notes": [], "flags": [], "possible_duplicate_of": [], "registered_at": NOW.isoformat(),
        }),
        upstream(CoverageAdded, customer_id, {
            "customer_id": customer_id, "coverage_id": coverage_id, "added_at": NOW.isoformat(),
            "terms": {
                "payer_id": PAYER_ID, "payer_kind": "insurer", "member_id": "W123456789", "group_number": "GRP-77",
                "plan_name": "Gold PPO", "priority": "primary",
                "subscriber": {"relationship": "self", "name": None, "date_of_birth": None},
                "effective_from": "2026-01-01", "effective_to": None,
            },
        }),
        upstream(EligibilityVerified, customer_id, {
            "check_id": f"chk_{customer_id}", "customer_id": customer_id, "coverage_id": coverage_id,
            "payer_id": PAYER_ID, "service_date": SERVICE_DATE.isoformat(), "verified_on": SERVICE_DATE.isoformat(),
            "valid_until": "2026-04-01", "plan_name": "Gold PPO", "coverage_from": "2026-01-01",
            "coverage_to": "2026-12-31", "group_number": "GRP-77", "currency": "USD",
            "cost_shares": [{
                "service_type": "30", "in_network": True, "copay": COPAY, "coinsurance_bp": None,
                "deductible": None, "deductible_remaining": None, "out_of_pocket_max": None,
                "out_of_pocket_remaining": None, "covered": True, "deductible_scope": "30",
                "out_of_pocket_scope": "30",
            }],
            "benefits": [], "notices": [], "method": "x12", "exchange_id": "x12_bench", "recorded_by": None,
            "payer_reference": None, "verified_at": NOW.isoformat(),
        }),
    ]


def encounter_charges(customer_id: str, encounter: str) -> list[ChargeEntry]:
    """A clinic visit for a cold and a flu shot, as the unit tests' fixture claims them."""
    common = {
        "customer_id": customer_id, "service_date": SERVICE_DATE, "encounter": encounter,
        "diagnoses": [{"system": "ICD-10-CM", "code": "J06.9"}, {"system": "ICD-10-CM", "code": "Z23"}],
        "rendering_provider": {"given_name": "Grace", "family_name": "Hopper", "npi": "1245319599"},
    }
    return [
        ChargeEntry.model_validate({**common, "procedure": {"system": "HCPCS", "code": "G0463"},
                                    "unit_price": 15000, "diagnosis_pointers": [1]}),
        ChargeEntry.model_validate({**common, "procedure": {"system": "HCPCS", "code": "G0008"},
                                    "unit_price": 2550, "diagnosis_pointers": [2]}),
    ]


@contextlib.asynccontextmanager
async def invoicing_app(schema: str) -> AsyncIterator[FastAPI]:
    """The service as its bootstrap builds it, migrated into ``schema``, its catalogue loaded
    from the shipped HCPCS and ICD-10-CM files and the payer in its directory."""
    settings = InvoicingSettings(environment="test", database_url=f"{DSN}?search_path={schema}",
                                 run_background_workers=False)
    app = create_app(settings, clock=FixedClock(NOW), mailer=DiscardingMailer())
    async with app.router.lifespan_context(app):
        async with app.state.pool.acquire() as conn, conn.transaction():
            for system, name in (("HCPCS", "hcpcs.csv"), ("ICD-10-CM", "icd-10-cm.csv")):
                await app.state.catalogue.import_file(conn, system, (CODES / name).read_bytes(), name, "bench")
            await UpstreamFeed(None).apply(conn, payer_registered())
        yield app


async def register_customers(pool: asyncpg.Pool, customers: list[str]) -> None:
    feed = UpstreamFeed(None)  # folds only: nothing is billed or released
    async with pool.acquire() as conn, conn.transaction():
        for customer_id in customers:
            for event in customer_facts(customer_id):
                await feed.apply(conn, event)


async def record_encounters(app: FastAPI, customers: list[str], label: str, concurrency: int = 8) -> None:
    """Two charges for every customer, one encounter each, recorded as the API records them:
    through `Billing.record_charge`, one transaction per encounter."""
    billing, pool = app.state.billing, app.state.pool
    pending = iter(customers)

    async def recorder() -> None:
        for customer_id in pending:
            async with pool.acquire() as conn, conn.transaction():
                for entry in encounter_charges(customer_id, f"{label}/{customer_id}"):
                    await billing.record_charge(conn, uuid.uuid4().hex, entry, "bench")

    await asyncio.gather(*(recorder() for _ in range(concurrency)))


# Run as its own process: in the benchmark's, the validating thread holds the GIL for tens of
# milliseconds at a time and would delay the samples exactly when billing is busiest.
LOCK_SAMPLER = """
import asyncio, sys, asyncpg

async def sample(dsn):
    conn = await asyncpg.connect(dsn)
    stop = asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    samples = waiting = 0
    print("sampling", flush=True)
    while not stop.done():
        samples += 1
        waiting += await conn.fetchval(
            "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'")
        await asyncio.sleep(0.01)
    print(samples, waiting)

asyncio.run(sample(sys.argv[1]))
"""


@contextlib.asynccontextmanager
async def lock_waits_sampled() -> AsyncIterator[list[float]]:
    """Yields a list that gets, when the block ends, the share of pg_stat_activity samples (one
    every 10 ms) in which some backend of this database was waiting on a lock."""
    sampler = await asyncio.create_subprocess_exec(
        sys.executable, "-c", LOCK_SAMPLER, DSN, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert sampler.stdout is not None
    await sampler.stdout.readline()
    share: list[float] = []
    try:
        yield share
    finally:
        answer, _ = await sampler.communicate(b"")  # closing its stdin stops it
        samples, waiting = (int(n) for n in answer.split())
        share.append(waiting / samples if samples else 0.0)


@contextlib.contextmanager
def validations_timed() -> Iterator[list[float]]:
    """The seconds each 837P validation of the billing run takes (the claims use case calls
    `ensure_valid_837p` in a worker thread)."""
    durations: list[float] = []
    validate = claims_module.ensure_valid_837p

    def timed(text: str) -> None:
        started = time.perf_counter()
        try:
            validate(text)
        finally:
            durations.append(time.perf_counter() - started)

    claims_module.ensure_valid_837p = timed
    try:
        yield durations
    finally:
        claims_module.ensure_valid_837p = validate


async def check_billed_once(pool: asyncpg.Pool, label: str, encounters: int, outcomes: list[Any]) -> None:
    """Every encounter of the run billed exactly once, to the insurer with a claim and to the
    customer, and every invoice series gap-free; otherwise the run is void."""
    issued = [outcome for outcome in outcomes if outcome.bill_id]
    waiting = [outcome.waiting for outcome in outcomes if outcome.waiting]
    row = await pool.fetchrow(
        """SELECT count(DISTINCT c.encounter) AS encounters, count(DISTINCT c.bill_id) AS bills,
                  count(*) FILTER (WHERE c.status <> 'billed') AS unbilled
           FROM charges c WHERE c.encounter LIKE $1 || '/%'""",
        label,
    )
    invoices = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE party_kind = 'payer' AND claim_document_id IS NOT NULL) AS claims,
                  count(*) FILTER (WHERE party_kind = 'customer' AND total = $2) AS copays,
                  count(*) AS invoices
           FROM invoices WHERE bill_id IN (SELECT bill_id FROM charges WHERE encounter LIKE $1 || '/%')""",
        label, COPAY,
    )
    gaps = await pool.fetch(
        """SELECT series, count(*) AS issued, max(split_part(number, '-', 3)::int) AS last FROM invoices
           WHERE number IS NOT NULL GROUP BY series HAVING count(*) <> max(split_part(number, '-', 3)::int)"""
    )
    expected = (encounters, encounters, 0, encounters, encounters, 2 * encounters)
    found = (row["encounters"], row["bills"], row["unbilled"], invoices["claims"], invoices["copays"],
             invoices["invoices"])
    if found != expected or len(issued) != encounters or waiting or gaps:
        raise SystemExit(
            f"run {label} is void: (encounters, bills, unbilled charges, claims, copay invoices, invoices) "
            f"{found}, expected {expected}; {len(issued)} outcomes with a bill; waiting: {waiting[:3]}; "
            f"series with gaps: {[dict(g) for g in gaps]}"
        )


async def timed_billing(
    app: FastAPI, customers: list[str], label: str, runs: int, validations: list[float]
) -> tuple[float, float, float]:
    """Bills the run's encounters with ``runs`` concurrent billing runs: encounters/s, the share
    of that time spent validating 837Ps, and the share of it in which a transaction waited on a lock."""
    await record_encounters(app, customers, label)
    billing, pool = app.state.billing, app.state.pool
    del validations[:]
    async with lock_waits_sampled() as lock_waits:
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(billing.billing_run(pool) for _ in range(runs)))
        elapsed = time.perf_counter() - started
    await check_billed_once(pool, label, len(customers), [o for run in outcomes for o in run])
    return len(customers) / elapsed, sum(validations) / elapsed, lock_waits[0]


async def measure_billing(encounters: int, reps: int) -> dict[str, list[float]]:
    schema = f"bench_invoicing_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    runs: dict[str, list[float]] = {}
    try:
        async with invoicing_app(schema) as app:
            customers = [f"cus_{n:05d}" for n in range(encounters)]
            await register_customers(app.state.pool, customers)
            with validations_timed() as validations:
                await timed_billing(app, customers[:10], "warm-up", 1, validations)
                for rep in range(reps):
                    for contender, concurrent_runs in (("single", 1), ("two", 2))[:: 1 if rep % 2 == 0 else -1]:
                        rate, validating, lock_waits = await timed_billing(
                            app, customers, f"{contender}-{rep}", concurrent_runs, validations
                        )
                        runs.setdefault(contender, []).append(rate)
                        runs.setdefault(f"{contender} validating", []).append(validating)
                        runs.setdefault(f"{contender} lock waits", []).append(lock_waits)
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
    return runs


# -- billing across processes ----------------------------------------------------------------------


async def bill_as_a_process(schema: str, start_at: float) -> None:
    """One billing process of `measure_processes`: the app on ``schema``, one billing run once
    every process is up, its figures as JSON on stdout."""
    async with invoicing_app(schema) as app:
        while time.time() < start_at:
            await asyncio.sleep(0.005)  # the processes start billing together
        started = time.perf_counter()
        outcomes = await app.state.billing.billing_run(app.state.pool)
        elapsed = time.perf_counter() - started
    print(json.dumps({"billed": sum(1 for o in outcomes if o.bill_id), "seconds": elapsed}))


async def measure_processes(encounters: int, reps: int) -> dict[str, list[float]]:
    """Encounters/s billed by one process against two processes on the same database, as two
    replicas of the service would bill: the limit is then the number lock and the cores, not one
    interpreter."""
    schema = f"bench_invoicing_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    runs: dict[str, list[float]] = {}
    try:
        for rep in range(reps):
            for processes in (1, 2)[:: 1 if rep % 2 == 0 else -1]:
                label = f"p{processes}-{rep}"
                async with invoicing_app(schema) as app:
                    customers = [f"cus_{label}_{n:05d}" for n in range(encounters)]
                    await register_customers(app.state.pool, customers)
                    await record_encounters(app, customers, label)
                start_at = time.time() + 10  # long enough for every process to be up
                billers = [
                    await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "benchmarks.invoicing", "--bill-schema", schema,
                        "--start-at", str(start_at), stdout=asyncio.subprocess.PIPE,
                    )
                    for _ in range(processes)
                ]
                results = [json.loads((await p.communicate())[0].decode().strip().splitlines()[-1])
                           for p in billers]
                billed = sum(r["billed"] for r in results)
                if billed != encounters:
                    raise SystemExit(f"{label}: {billed} of {encounters} encounters billed")
                runs.setdefault(str(processes), []).append(billed / max(r["seconds"] for r in results))
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
    return runs


# -- report ----------------------------------------------------------------------------------------


async def main(arguments: argparse.Namespace) -> None:
    for line in await header(DSN, ["services/invoicing", "shared"], ["pyx12", "asyncpg", "pydantic", "fastapi"]):
        print(line)
    x12 = measure_837p(arguments.claims, arguments.stock_claims, arguments.builds, arguments.reps)
    cached, stock, build = (statistics.median(x12[k]) for k in ("cached", "stock", "build"))
    print(f"837P, {arguments.claims} claims of 2-5 lines ({arguments.stock_claims} for stock pyx12), "
          f"median of {arguments.reps} runs")
    print(f"  validate_837p (maps kept per thread)    {cached:8.1f} documents/s")
    print(f"  stock pyx12 (maps parsed per document) {stock:8.1f} documents/s")
    print(f"  validate_837p/stock                    {median_ratio(x12['cached'], x12['stock']):8.2f}x")
    print(f"  build_837p alone ({arguments.builds} documents)     {build:9.0f} documents/s")

    billing = await measure_billing(arguments.encounters, arguments.reps)
    single, two = (statistics.median(billing[k]) for k in ("single", "two"))
    print(f"billing, {arguments.encounters} encounters per run (2 charges each; an insurer invoice with its "
          f"837P and a copay invoice), median of {arguments.reps} runs")
    print(f"  one billing run (baseline)       {single:8.1f} encounters/s")
    print(f"  two concurrent billing runs      {two:8.1f} encounters/s")
    print(f"  two/one                          {median_ratio(billing['two'], billing['single']):8.2f}x")
    print(f"  837P validation, share of time   {statistics.median(billing['single validating']):8.0%}"
          " (one run)")
    print(f"  waiting on a lock, share of time {statistics.median(billing['single lock waits']):8.0%} (one run), "
          f"{statistics.median(billing['two lock waits']):.0%} (two runs)")

    processes = await measure_processes(arguments.encounters, arguments.reps)
    print(f"billing across processes, {arguments.encounters} encounters per run, median of {arguments.reps} runs")
    print(f"  one process (baseline)           {statistics.median(processes['1']):8.1f} encounters/s")
    print(f"  two processes, one database      {statistics.median(processes['2']):8.1f} encounters/s")
    print(f"  two/one                          {median_ratio(processes['2'], processes['1']):8.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=60, help="claims validated per run")
    parser.add_argument("--stock-claims", type=int, default=15, help="of those, validated by stock pyx12")
    parser.add_argument("--builds", type=int, default=3000, help="claims written by build_837p per run")
    parser.add_argument("--encounters", type=int, default=200, help="encounters billed per run")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke test: tiny sizes, one repetition")
    parser.add_argument("--bill-schema", help=argparse.SUPPRESS)  # one process of measure_processes
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    parsed = parser.parse_args()
    if parsed.bill_schema:
        asyncio.run(bill_as_a_process(parsed.bill_schema, parsed.start_at))
        raise SystemExit(0)
    if parsed.quick:
        parsed.claims, parsed.stock_claims, parsed.builds, parsed.encounters, parsed.reps = 6, 3, 200, 20, 1
    asyncio.run(main(parsed))
