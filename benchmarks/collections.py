"""Collections: opening debts, dunning runs (one that sends, one that finds nothing due), and the
standing queries, at growing numbers of debts.

    .venv/bin/python -m benchmarks.collections            # full run, about 2 minutes
    .venv/bin/python -m benchmarks.collections --quick    # smoke test, a few seconds; numbers mean nothing

Per size N (1,000, 2,000 and 4,000 by default), in a fresh schema of the `bench` database migrated
as the service migrates its own: collections built as its bootstrap builds it, without Kafka (a
pool, `PostgresEventStore`, the debts repository with its inline read models, the default policy
for the clinic and one agency, a fixed clock at 09:30 in Chicago, within contact hours). N
customers are registered (an e-mail address with consent, a postal address, time zone
America/Chicago), each with one customer invoice that fell due yesterday, and the business's
payment instructions are published: registration's, invoicing's and payments' own event models,
wrapped in envelopes and applied by collections' `UpstreamFeed` (with its reactions, as the
consumer applies them, but without Kafka or the consumer's inbox row).

* **opening debts**: a PaymentMissed for each invoice, applied by the feed in one transaction
  each (the reaction reads the invoice, finds the debt's stream empty, appends DebtOpened and
  inserts the debt's row): PaymentMissed/s. Every debt must be open afterwards.
* **first dunning run**: `Collections.run` at that moment, where every debt is due its reminder
  (a DemandIssued by e-mail and a row in the notice queue): debts reviewed/s. Every debt must get
  exactly one DemandIssued, and the notice queue N pending rows.
* **second dunning run**: the same moment again, where nothing is due (what the scheduler pays
  every 15 minutes in the steady state): debts reviewed/s, and its time as a ratio to the first
  run's, measured in the same run (the baseline). It must review every debt and decide nothing.
  Run --reps times (it changes nothing); the figure is the median. One more second run on a pool
  that logs every statement gives the statements per debt and the share of the run spent waiting
  on them.
* **reads**, each the median of --reads calls: the customer standing
  (`GET /v1/customers/{id}/standing`'s handler, over random customers), the overall standing and
  aging (`GET /v1/standing`'s handler, a twentieth as many calls), and one debt
  (`GET /v1/debts/{id}`'s handler: the debt folded, its facts, its notices and placement).
  Baselines: a bare index lookup of the customer's invoices, and a bare sum over all invoices.
* **with history**: then N active payment plans of other customers (three invoices each, none in
  a debt here) and a part payment on every other debt are applied by the feed, and the second run
  (it must still decide nothing) and the reads are measured again.
* **growth**: the per-debt time of each at the largest N over the smallest (1.00 is linear), and
  each read's time (1.00 is flat).

Tables are vacuumed and analysed after each stage of seeding, as autovacuum would leave them. Runs
in fresh schemas of the `bench` database (`BENCH_DATABASE_URL`), dropped afterwards. Needs
PostgreSQL only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from benchmarks.reporting import header
from services.collections.api.routes import customer_standing, get_debt, standing
from services.collections.application.dunning import Collections
from services.collections.application.feeds import UpstreamFeed
from services.collections.application.read_models import INLINE_READ_MODELS
from services.collections.domain.debt import Debt, DebtNotFound
from services.collections.domain.events import COLLECTIONS_EVENTS, SOURCE
from services.collections.domain.policy import Agency, AssignmentRule, DunningPolicy, Policies
from services.collections.main import MIGRATIONS
from services.invoicing.domain import events as invoicing
from services.payments.domain import events as payments
from services.registration.domain import events as registration
from shared.clock import FixedClock
from shared.db import migrate, migrations_in, platform_migrations
from shared.envelope import EventEnvelope
from shared.events import DomainEvent
from shared.eventstore import PostgresEventStore
from shared.eventstore.repository import EventSourcedRepository

DSN = os.environ.get("BENCH_DATABASE_URL", "postgresql://bench:bench@127.0.0.1:5432/bench")
NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)  # 09:30 in Chicago: within contact hours
TODAY = NOW.date()
BUSINESS = "clinic"
POLICIES = Policies(
    businesses={BUSINESS: DunningPolicy()},
    agencies=(Agency(id="northwind", name="Northwind Recovery Services", fee_rate_bp=2500),),
    assignment=(AssignmentRule(agency="northwind"),),
)
SEED_BATCH = 250  # upstream events applied per transaction while seeding (not timed)
PART_PAYMENT = 2_500
TABLES = ("events, customers, invoices, payments, invoice_payments, plans, payment_instructions, debts, "
          "notice_deliveries, verification_tasks, placements")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


# -- collections, built as its bootstrap builds it -------------------------------------------------


def build(pool: asyncpg.Pool) -> Collections:
    clock = FixedClock(NOW)
    store = PostgresEventStore(pool, source=SOURCE, notify_channel="collections_events")
    debts = EventSourcedRepository(
        store, clock, COLLECTIONS_EVENTS, Debt.fold, source=SOURCE,
        inline_projections=INLINE_READ_MODELS, stream_prefix="debt-", not_found=DebtNotFound,
    )
    return Collections(pool, debts, POLICIES, BUSINESS, clock)


@contextlib.asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    schema = f"bench_collections_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(DSN)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield schema
    finally:
        await admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()


@contextlib.asynccontextmanager
async def collections_pool(schema: str, init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
                           ) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(DSN, min_size=2, max_size=20, server_settings={"search_path": schema},
                                     init=init)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


# -- upstream events -------------------------------------------------------------------------------


def wrapped(event: DomainEvent, source: str, subject: str) -> EventEnvelope:
    return EventEnvelope.wrap(event, source=source, subject=subject, time=NOW - timedelta(days=1))


def customer(n: int) -> tuple[EventEnvelope, EventEnvelope, EventEnvelope]:
    """A registered customer, their invoice that fell due yesterday, and its PaymentMissed."""
    customer_id = f"cus_{n:06d}"
    registered = registration.CustomerRegistered(
        customer_id=customer_id, kind=registration.CustomerKind.PERSON,
        person_name=registration.PersonName(given="Ada", family=f"Lovelace{n}"),
        contact=registration.ContactDetails(
            addresses=[registration.PostalAddress(
                id=f"adr_{n:06d}", lines=[f"{n} Analytical Row"], city="Springfield", region="IL",
                postal_code="62704", country="US",
            )],
            phones=[registration.Phone(id=f"tel_{n:06d}", number="+15555550123")],
            emails=[registration.Email(id=f"eml_{n:06d}", address=f"ada{n}@example.com")],
            preferred_channel=registration.Channel.EMAIL,
            consents=registration.Consents(email=True, post=True), time_zone="America/Chicago",
        ),
        registered_at=NOW - timedelta(days=60),
    )
    issue_date, due_date = TODAY - timedelta(days=31), TODAY - timedelta(days=1)
    total = 12_500 + n % 7 * 1_000
    line = invoicing.InvoiceLine(
        line_id=unique("line_"), charge_id=unique("chg_"), service_date=issue_date - timedelta(days=2),
        code=invoicing.Code(system="CPT", code="99213"), description="Office visit", units=1, unit_price=total,
        charge_amount=total, amount=total, diagnoses=["J02.9"],
    )
    issued = invoicing.InvoiceIssued(
        invoice_id=f"inv_{n:06d}", number=f"INV-2026-{n:06d}", series="INV", customer_id=customer_id, bill_id=None,
        party=invoicing.BilledParty(kind=invoicing.PartyKind.CUSTOMER, name=f"Ada Lovelace{n}",
                                    responsibility=invoicing.Responsibility.CUSTOMER),
        lines=[line], total=total, currency="USD", issue_date=issue_date, due_date=due_date, payment_terms="Net 30",
        issued_at=NOW - timedelta(days=31),
    )
    missed = payments.PaymentMissed(
        customer_id=customer_id, item=payments.DueItem.INVOICE, invoice_id=issued.invoice_id,
        invoice_number=issued.number, billed_party="customer", due_date=due_date, amount=total, currency="USD",
        days_overdue=1, as_of=TODAY, detected_at=NOW - timedelta(hours=6),
    )
    return (wrapped(registered, registration.SOURCE, customer_id), wrapped(issued, invoicing.SOURCE, customer_id),
            wrapped(missed, payments.SOURCE, customer_id))


def instructions() -> EventEnvelope:
    published = payments.PaymentInstructionsPublished(
        business_id=BUSINESS, business_name="Example Community Clinic", options=[
            payments.PaymentOption(method=payments.PaymentMethod.CARD, label="Pay online",
                                   url="https://pay.example.com/clinic", reference_hint="your invoice number"),
            payments.PaymentOption(method=payments.PaymentMethod.CHEQUE, label="By cheque",
                                   payable_to="Example Community Clinic",
                                   address_lines=["1 Main Street", "Springfield, IL 62704"]),
        ], published_by="bench", published_at=NOW - timedelta(days=90),
    )
    return wrapped(published, payments.SOURCE, BUSINESS)


def history(n: int) -> list[EventEnvelope]:
    """Customer ``n``'s history: a payment plan agreed by another customer (on invoices of theirs
    that are in no debt here), and, for every other debtor, a part payment of their invoice."""
    other = f"cus_other_{n:06d}"
    plan = payments.PaymentPlanAgreed(
        plan_id=f"pln_{n:06d}", customer_id=other, invoice_ids=[f"inv_other_{n:06d}_{k}" for k in range(3)],
        currency="USD", total=30_000, down_payment=5_000, frequency=payments.Frequency.MONTHLY,
        instalments=[payments.Instalment(sequence=k, due_date=TODAY + timedelta(days=30 * k), amount=5_000)
                     for k in range(6)],
        minimum_instalment=5_000, default_after_missed=2, grace_days=10, agreed_by="bench",
        agreed_at=NOW - timedelta(days=10),
    )
    envelopes = [wrapped(plan, payments.SOURCE, other)]
    if n % 2 == 0:
        customer_id, payment_id = f"cus_{n:06d}", f"pay_{n:06d}"
        envelopes += [wrapped(event, payments.SOURCE, customer_id) for event in (
            payments.PaymentReceived(
                payment_id=payment_id, customer_id=customer_id,
                party=payments.PayingParty(kind=payments.PartyKind.CUSTOMER, name=f"Ada Lovelace{n}"),
                method=payments.PaymentMethod.CARD, channel=payments.PaymentChannel.DESK, amount=PART_PAYMENT,
                currency="USD", received_on=TODAY - timedelta(days=3), recorded_by="front-desk",
                recorded_at=NOW - timedelta(days=3),
            ),
            payments.PaymentAllocated(
                payment_id=payment_id, customer_id=customer_id, allocations=[payments.Allocation(
                    invoice_id=f"inv_{n:06d}", invoice_number=f"INV-2026-{n:06d}", amount=PART_PAYMENT,
                )],
                currency="USD", rule=payments.AllocationRule.EXPLICIT, unallocated=0,
                allocated_at=NOW - timedelta(days=3),
            ),
        )]
    return envelopes


async def seed(pool: asyncpg.Pool, feed: UpstreamFeed, envelopes: list[EventEnvelope]) -> None:
    for start in range(0, len(envelopes), SEED_BATCH):
        async with pool.acquire() as conn, conn.transaction():
            for envelope in envelopes[start:start + SEED_BATCH]:
                await feed.apply(conn, envelope)


# -- statements, counted on a pool of their own ----------------------------------------------------


@dataclass
class Statements:
    """Every statement a pool's connections send (asyncpg's query logger), and the time each took."""

    count: int = 0
    seconds: float = 0.0

    def log(self, record: Any) -> None:
        self.count += 1
        self.seconds += record.elapsed


# -- one size --------------------------------------------------------------------------------------


async def checked_run(collections: Collections, debts: int, label: str, due: bool) -> float:
    """Seconds of one dunning run at NOW; the run is void unless it reviews every debt and issues
    a reminder to each (``due``) or decides nothing."""
    started = time.perf_counter()
    run = await collections.run(NOW)
    elapsed = time.perf_counter() - started
    expected = Counter({"DemandIssued": debts}) if due else Counter()
    if (run.reviewed, run.conflicts, run.failed, run.outcomes) != (debts, 0, 0, expected):
        raise SystemExit(f"{label} is void: reviewed {run.reviewed}, conflicts {run.conflicts}, failed {run.failed}, "
                         f"outcomes {dict(run.outcomes)}; expected {debts} reviewed and {dict(expected)}")
    return elapsed


async def median_seconds(call: Callable[[], Awaitable[object]], times: int) -> float:
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        await call()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations)


async def reads(pool: asyncpg.Pool, collections: Collections, debts: int, calls: int,
                figures: dict[str, float], suffix: str = "") -> None:
    """The read figures: each the median of ``calls`` (the overall standing: of a twentieth)."""
    clock = FixedClock(NOW)
    chosen = random.Random(debts).sample(range(debts), min(calls, debts))
    customers, debt_ids = iter([f"cus_{n:06d}" for n in chosen] * 2), iter([f"inv_{n:06d}" for n in chosen] * 2)
    figures["customer standing" + suffix] = await median_seconds(
        lambda: customer_standing(next(customers), None, pool, clock), len(chosen))  # type: ignore[arg-type]
    figures["bare customer" + suffix] = await median_seconds(
        lambda: pool.fetch("SELECT * FROM invoices WHERE customer_id = $1", next(customers)), len(chosen))
    few = max(3, calls // 20)
    figures["standing" + suffix] = await median_seconds(
        lambda: standing(None, pool, clock), few)  # type: ignore[arg-type]
    figures["bare standing" + suffix] = await median_seconds(
        lambda: pool.fetch("SELECT currency, sum(total) FROM invoices GROUP BY currency"), few)
    figures["debt" + suffix] = await median_seconds(
        lambda: get_debt(next(debt_ids), None, pool, collections), len(chosen))  # type: ignore[arg-type]


async def statements_of_a_run(schema: str, debts: int, figures: dict[str, float], suffix: str = "") -> None:
    """A second run on a pool of its own that logs every statement."""
    statements = Statements()

    async def logged(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(statements.log)

    async with collections_pool(schema, init=logged) as counted:
        seconds = await checked_run(build(counted), debts, "the counted second run", due=False)
    figures["statements per debt" + suffix] = statements.count / debts
    figures["waiting on statements" + suffix] = statements.seconds / seconds


async def one_size(debts: int, reps: int, calls: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    async with fresh_schema() as schema, collections_pool(schema) as pool:
        await migrate(pool, [*platform_migrations(), *migrations_in(MIGRATIONS, "collections")])
        collections = build(pool)
        feed = UpstreamFeed(collections)
        people = [customer(n) for n in range(debts)]
        await seed(pool, feed, [instructions(), *(e for p in people for e in p[:2])])
        await pool.execute(f"VACUUM ANALYZE {TABLES}")  # as autovacuum would leave them

        started = time.perf_counter()
        for _, _, missed in people:
            async with pool.acquire() as conn, conn.transaction():
                await feed.apply(conn, missed)
        figures["opening"] = debts / (time.perf_counter() - started)
        opened = await pool.fetchval("SELECT count(*) FROM debts WHERE status = 'dunning'")
        if opened != debts:
            raise SystemExit(f"opening debts is void: {opened} debts open, expected {debts}")
        await pool.execute(f"VACUUM ANALYZE {TABLES}")

        figures["first"] = await checked_run(collections, debts, "the first dunning run", due=True)
        queued = await pool.fetchval("SELECT count(*) FROM notice_deliveries WHERE status = 'pending'")
        if queued != debts:
            raise SystemExit(f"the first dunning run is void: {queued} notices queued, expected {debts}")
        seconds = [await checked_run(collections, debts, "a second dunning run", due=False) for _ in range(reps)]
        figures["second"] = statistics.median(seconds)
        figures["second/first"] = figures["second"] / figures["first"]
        await statements_of_a_run(schema, debts, figures)
        await reads(pool, collections, debts, calls, figures)

        # some history: as many payment plans of other customers, a part payment on every other debt
        await seed(pool, feed, [e for n in range(debts) for e in history(n)])
        plans = await pool.fetchval("SELECT count(*) FROM plans WHERE status = 'active'")
        paid = await pool.fetchval("SELECT count(*) FROM invoice_payments WHERE amount = $1", PART_PAYMENT)
        if (plans, paid) != (debts, (debts + 1) // 2):
            raise SystemExit(f"the history is void: {plans} active plans, {paid} part payments")
        await pool.execute(f"VACUUM ANALYZE {TABLES}")
        seconds = [await checked_run(collections, debts, "a second run with history", due=False) for _ in range(reps)]
        figures["second+"] = statistics.median(seconds)
        await statements_of_a_run(schema, debts, figures, "+")
        await reads(pool, collections, debts, calls, figures, "+")
        return figures


# -- report ----------------------------------------------------------------------------------------


def row(label: str, figure: str) -> None:
    print(f"  {label:<58}{figure}")


async def main(arguments: argparse.Namespace) -> None:
    for line in await header(DSN, ["services/collections", "shared", "benchmarks/collections.py"],
                             ["asyncpg", "pydantic", "fastapi"]):
        print(line)
    sizes, reps = arguments.sizes, arguments.reps
    results = {debts: await one_size(debts, reps, arguments.reads) for debts in sizes}

    def line(label: str, value: Callable[[dict[str, float], int], str]) -> None:
        print(f"  {label:<44}" + "".join(f"{value(results[n], n):>13}" for n in sizes))

    print(f"a book of N debts, one per customer (a customer invoice due yesterday), a fresh schema per N; "
          f"second runs: median of {reps}, reads: median of {arguments.reads} calls")
    print(f"  {'N':<44}" + "".join(f"{n:>13,}" for n in sizes))
    line("opening debts, PaymentMissed/s", lambda r, n: f"{r['opening']:,.0f}")
    line("first run (every debt due a reminder), debts/s", lambda r, n: f"{n / r['first']:,.0f}")
    line("  its time, s", lambda r, n: f"{r['first']:.2f}")
    line("second run (nothing due), debts/s", lambda r, n: f"{n / r['second']:,.0f}")
    line("  its time, s", lambda r, n: f"{r['second']:.2f}")
    line("  second/first (the baseline)", lambda r, n: f"{r['second/first']:.2f}")
    line("  statements per debt (with the pool's reset)", lambda r, n: f"{r['statements per debt']:.1f}")
    line("  share of its time waiting on statements", lambda r, n: f"{r['waiting on statements']:.0%}")
    line("customer standing, ms", lambda r, n: f"{r['customer standing'] * 1000:.2f}")
    line("  bare lookup of the customer's invoices, ms", lambda r, n: f"{r['bare customer'] * 1000:.2f}")
    line("standing and aging, ms", lambda r, n: f"{r['standing'] * 1000:.1f}")
    line("  bare sum of all invoices, ms", lambda r, n: f"{r['bare standing'] * 1000:.1f}")
    line("one debt (GET /v1/debts/{id}), ms", lambda r, n: f"{r['debt'] * 1000:.2f}")
    print("the same book with history: N active payment plans of other customers, a part payment on every "
          "other debt")
    line("second run (nothing due), debts/s", lambda r, n: f"{n / r['second+']:,.0f}")
    line("  its time, s", lambda r, n: f"{r['second+']:.2f}")
    line("  with history/without", lambda r, n: f"{r['second+'] / r['second']:.2f}")
    line("  statements per debt (with the pool's reset)", lambda r, n: f"{r['statements per debt+']:.1f}")
    line("  share of its time waiting on statements", lambda r, n: f"{r['waiting on statements+']:.0%}")
    line("customer standing, ms", lambda r, n: f"{r['customer standing+'] * 1000:.2f}")
    line("standing and aging, ms", lambda r, n: f"{r['standing+'] * 1000:.1f}")
    line("one debt (GET /v1/debts/{id}), ms", lambda r, n: f"{r['debt+'] * 1000:.2f}")

    small, large = sizes[0], sizes[-1]
    first, last = results[small], results[large]
    print(f"growth from {small:,} to {large:,} debts: time per debt (1.00 is linear); reads: time per call "
          f"(1.00 is flat, {large / small:.2f} grows with N)")
    row("opening a debt", f"{first['opening'] / last['opening']:9.2f}")
    for key, label in (("first", "first run"), ("second", "second run"), ("second+", "second run, with history")):
        row(label, f"{(last[key] / large) / (first[key] / small):9.2f}")
    for key, label in (("customer standing", "customer standing"), ("standing", "standing and aging"),
                       ("debt", "one debt"), ("customer standing+", "customer standing, with history"),
                       ("standing+", "standing and aging, with history"), ("debt+", "one debt, with history")):
        row(label, f"{last[key] / first[key]:9.2f}")
    print(f"at {large:,} debts, against the baselines")
    row("customer standing / bare lookup", f"{last['customer standing'] / last['bare customer']:9.2f}x")
    row("standing and aging / bare sum", f"{last['standing'] / last['bare standing']:9.2f}x")
    row("  with history", f"{last['standing+'] / last['bare standing+']:9.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000], help="debts per size")
    parser.add_argument("--reps", type=int, default=3, help="second runs per size")
    parser.add_argument("--reads", type=int, default=200, help="calls per read figure")
    parser.add_argument("--quick", action="store_true", help="a smoke test: tiny sizes, one repetition")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.sizes, parsed.reps, parsed.reads = [100, 200], 1, 20
    asyncio.run(main(parsed))
