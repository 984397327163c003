"""Gap-free invoice numbering against the real PostgreSQL: concurrent billing runs (in-process and
over HTTP) bill every encounter exactly once, and each series (INV-2026 for customers, PAY-2026
for payers, CN-2026 for credit notes) hands out consecutive numbers with no gap and no duplicate.
A number taken by a transaction that rolls back is handed back to the next one.

The schema is shared by the module, so each test measures the numbers issued while it ran (the
series' ``last_number`` before and after) and checks the whole series against the invoices and
the events recorded so far."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.invoicing.application.billing import Billing
from services.invoicing.application.numbering import next_number
from services.invoicing.domain.events import CreditNoteIssued, EncounterBilled, InvoiceIssued
from tests.integration.invoicing.conftest import (
    Customer,
    RunningInvoicing,
    charge,
    cost_share,
    customer_with_coverage,
    invoices_of,
    record_charges,
    unique,
)
from tests.polling import eventually

CUSTOMER_SERIES, PAYER_SERIES, CREDIT_NOTE_SERIES = "INV-2026", "PAY-2026", "CN-2026"
COPAY = 2500
PATIENTS = 3

# per patient: the encounters to bill, each a number of charges; then the extra concurrent runs,
# each scoped to one patient (by index) or to everyone (None)
workloads = st.lists(
    st.lists(st.integers(min_value=1, max_value=3), min_size=0, max_size=2),
    min_size=PATIENTS, max_size=PATIENTS,
).filter(lambda encounters: any(encounters))
extra_runs = st.lists(
    st.tuples(st.sampled_from(["api", "in-process"]), st.none() | st.integers(0, PATIENTS - 1)),
    max_size=2,
)


class Abandoned(Exception):
    """Raised inside a transaction to roll it back."""


@pytest.fixture(scope="module")
async def patients(invoicing: RunningInvoicing) -> list[Customer]:
    """Customers with a verified coverage and a $25 copay per visit: each encounter is one invoice
    to the insurer and one to the customer."""
    return [
        await customer_with_coverage(invoicing, [cost_share(copay=COPAY)]) for _ in range(PATIENTS)
    ]


async def last_number(pool: asyncpg.Pool, series: str) -> int:
    return int(await pool.fetchval(
        "SELECT coalesce(max(last_number), 0) FROM invoice_series WHERE series = $1", series
    ))


def numbered(series: str, first: int, last: int) -> list[str]:
    return [f"{series}-{n:06d}" for n in range(first, last + 1)]


async def issued_numbers(pool: asyncpg.Pool, series: str) -> tuple[list[str], list[str]]:
    """The numbers of ``series`` on the invoices read model and in the InvoiceIssued and
    CreditNoteIssued events, sorted, duplicates kept."""
    in_register = await pool.fetch("SELECT number FROM invoices WHERE series = $1", series)
    in_events = await pool.fetch(
        """SELECT data->>'number' AS number FROM events
           WHERE event_type = ANY($1::text[]) AND data->>'series' = $2""",
        [InvoiceIssued.event_type, CreditNoteIssued.event_type], series,
    )
    return sorted(r["number"] for r in in_register), sorted(r["number"] for r in in_events)


async def assert_series_gap_free(pool: asyncpg.Pool, series: str, before: int, issued: int) -> None:
    after = await last_number(pool, series)
    assert after - before == issued, f"{series} went from {before} to {after} for {issued} issued"
    _, in_events = await issued_numbers(pool, series)
    assert in_events == numbered(series, 1, after), f"{series} has a gap or a duplicate"


async def billing_run(
    invoicing: RunningInvoicing, channel: str, customer_id: str | None
) -> list[dict[str, Any]]:
    """One billing run, as an operator's POST or as the scheduled worker calls it."""
    if channel == "api":
        answer = await invoicing.api.post("/v1/billing-runs", json={"customer_id": customer_id})
        assert answer.status_code == 200, answer.text
        return list(answer.json()["encounters"])
    billing: Billing = invoicing.app.state.billing
    outcomes = await billing.billing_run(invoicing.pool, customer_id=customer_id)
    return [vars(outcome) for outcome in outcomes]


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(workload=workloads, extra=extra_runs)
async def test_concurrent_billing_runs_bill_each_encounter_once_with_consecutive_numbers(
    invoicing: RunningInvoicing, patients: list[Customer], workload: list[list[int]],
    extra: list[tuple[str, int | None]],
) -> None:
    charges_of: dict[tuple[str, str], list[str]] = {}
    for patient, encounters in zip(patients, workload, strict=True):
        for charge_count in encounters:
            encounter = unique("enc-")
            recorded = await record_charges(invoicing, *[
                charge(patient.customer_id, unit_price=15000 + 100 * n, encounter=encounter)
                for n in range(charge_count)
            ])
            charges_of[(patient.customer_id, encounter)] = [
                r["charge"]["charge_id"] for r in recorded
            ]
    before = {s: await last_number(invoicing.pool, s) for s in (CUSTOMER_SERIES, PAYER_SERIES)}
    runs = [("in-process", None), ("api", None)] + [
        (channel, None if scope is None else patients[scope].customer_id)
        for channel, scope in extra
    ]

    answers = await asyncio.gather(*[billing_run(invoicing, *run) for run in runs])

    billed = [(o["customer_id"], o["encounter"]) for answer in answers for o in answer]
    assert sorted(billed) == sorted(charges_of), "each encounter is billed by exactly one run"
    assert all(o["waiting"] is None and o["held"] == [] for answer in answers for o in answer)
    all_charges = [c for ids in charges_of.values() for c in ids]
    rows = await invoicing.pool.fetch(
        "SELECT charge_id, status, bill_id FROM charges WHERE charge_id = ANY($1::text[])",
        all_charges,
    )
    bill_of = {r["charge_id"]: r["bill_id"] for r in rows if r["status"] == "billed"}
    assert sorted(bill_of) == sorted(all_charges), "every charge was billed"
    bills = [{bill_of[c] for c in ids} for ids in charges_of.values()]
    assert all(len(b) == 1 for b in bills), "an encounter's charges went onto more than one bill"
    times_billed = Counter(
        charge_id
        for data in await invoicing.pool.fetch(
            "SELECT data FROM events WHERE event_type = $1", EncounterBilled.event_type
        )
        for charge_id in json.loads(data["data"])["charge_ids"]
    )
    assert {c: times_billed[c] for c in all_charges} == dict.fromkeys(all_charges, 1)
    invoices = await invoicing.pool.fetch(
        "SELECT bill_id, party_kind, total FROM invoices WHERE bill_id = ANY($1::text[])",
        [b for [b] in bills],
    )
    parties = Counter((r["bill_id"], r["party_kind"]) for r in invoices)
    assert set(parties.values()) == {1}, "one invoice per party and bill"
    assert len(parties) == 2 * len(bills), "an invoice to the insurer and one to the customer"
    copays = {r["total"] for r in invoices if r["party_kind"] == "customer"}
    assert copays == {COPAY}, "the copay is asked once a visit"
    for series in (CUSTOMER_SERIES, PAYER_SERIES):
        await assert_series_gap_free(invoicing.pool, series, before[series], issued=len(charges_of))
        in_register, in_events = await issued_numbers(invoicing.pool, series)
        assert in_register == in_events


async def test_an_encounter_partly_locked_by_another_transaction_is_billed_on_one_bill(
    invoicing: RunningInvoicing, patients: list[Customer],
) -> None:
    """Pins the interleaving concurrent runs hit now and then: one run has locked the first of an
    encounter's charges and not yet the others when a second run looks at the encounter."""
    patient, encounter = patients[0], unique("enc-")
    recorded = await record_charges(invoicing, *[
        charge(patient.customer_id, code, unit_price=price, encounter=encounter)
        for code, price in (("99213", 15000), ("87880", 4000), ("90686", 3000))
    ])
    charge_ids = [r["charge"]["charge_id"] for r in recorded]
    billing: Billing = invoicing.app.state.billing

    async with invoicing.pool.acquire() as other, other.transaction():
        await other.execute("SELECT 1 FROM charges WHERE charge_id = $1 FOR UPDATE", charge_ids[0])
        run = asyncio.ensure_future(
            billing.billing_run(invoicing.pool, customer_id=patient.customer_id)
        )

        async def finished_or_waiting() -> bool:
            return run.done() or bool(await invoicing.pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                other.get_server_pid(),
            ))

        await eventually(finished_or_waiting, timeout=10, message="the run billed or waited")
    await run
    await billing.billing_run(invoicing.pool, customer_id=patient.customer_id)

    bills = await invoicing.pool.fetch(
        """SELECT DISTINCT bill_id FROM charges
           WHERE charge_id = ANY($1::text[]) AND status = 'billed'""",
        charge_ids,
    )
    own = await invoicing.pool.fetch(
        """SELECT number, total FROM invoices WHERE party_kind = 'customer'
           AND bill_id IN (SELECT bill_id FROM charges WHERE charge_id = ANY($1::text[]))""",
        charge_ids,
    )
    assert len(bills) == 1, f"the encounter went onto {len(bills)} bills"
    assert [r["total"] for r in own] == [COPAY], f"the customer was billed {list(map(tuple, own))}"


async def test_a_number_taken_by_a_transaction_that_rolls_back_is_handed_to_the_next(
    invoicing: RunningInvoicing,
) -> None:
    series = unique("RB") + "-2026"
    async with invoicing.pool.acquire() as conn:
        async with conn.transaction():
            first = await next_number(conn, series)
        with pytest.raises(Abandoned):
            async with conn.transaction():
                abandoned = await next_number(conn, series)
                raise Abandoned
        async with conn.transaction():
            following = await next_number(conn, series)

    assert first == f"{series}-000001"
    assert abandoned == following == f"{series}-000002"
    assert await last_number(invoicing.pool, series) == 2


async def test_a_waiting_transaction_gets_the_number_a_rolled_back_one_held(
    invoicing: RunningInvoicing,
) -> None:
    series = unique("RB") + "-2026"
    async with invoicing.pool.acquire() as conn:
        await next_number(conn, series)  # the series exists: the next number is an update
    holder_took = asyncio.get_running_loop().create_future()
    release = asyncio.Event()

    async def take_then_roll_back() -> str:
        async with invoicing.pool.acquire() as conn:
            with pytest.raises(Abandoned):
                async with conn.transaction():
                    number = await next_number(conn, series)
                    holder_took.set_result(conn.get_server_pid())
                    await release.wait()
                    raise Abandoned
        return number

    async def take_after(holder_pid: int) -> tuple[str, int]:
        async with invoicing.pool.acquire() as conn, conn.transaction():
            number = asyncio.ensure_future(next_number(conn, series))
            waiting_pid = conn.get_server_pid()
            await eventually(
                lambda: invoicing.pool.fetchval(
                    "SELECT $1 = ANY(pg_blocking_pids($2))", holder_pid, waiting_pid
                ),
                timeout=10, message="the second transaction queued behind the first for the series",
            )
            release.set()
            return await number, waiting_pid

    holder = asyncio.ensure_future(take_then_roll_back())
    (waiter_number, _), held_number = await asyncio.gather(take_after(await holder_took), holder)

    assert held_number == waiter_number == f"{series}-000002"
    assert await last_number(invoicing.pool, series) == 2


async def test_concurrent_credit_notes_on_different_invoices_keep_credit_note_numbers_gap_free(
    invoicing: RunningInvoicing, patients: list[Customer],
) -> None:
    own_invoices = []
    for patient in patients:
        for _ in range(2):
            await record_charges(invoicing, charge(patient.customer_id, encounter=unique("enc-")))
        await bill_everything_of(invoicing, patient.customer_id)
        own_invoices += [
            i for i in await invoices_of(invoicing, patient.customer_id)
            if i["party_kind"] == "customer" and i["open_amount"] == COPAY
        ]
    assert len(own_invoices) >= 2 * PATIENTS
    before = await last_number(invoicing.pool, CREDIT_NOTE_SERIES)

    answers = await asyncio.gather(*[
        invoicing.api.post(
            f"/v1/invoices/{i['invoice_id']}/credit-notes", json={"reason": "goodwill"}
        )
        for i in own_invoices
    ])

    assert [a.status_code for a in answers] == [201] * len(own_invoices), [a.text for a in answers]
    notes = [a.json() for a in answers]
    after = before + len(own_invoices)
    assert sorted(n["number"] for n in notes) == numbered(CREDIT_NOTE_SERIES, before + 1, after)
    assert [n["invoice_number"] for n in notes] == [i["number"] for i in own_invoices]
    assert all(n["total"] == COPAY for n in notes)
    await assert_series_gap_free(
        invoicing.pool, CREDIT_NOTE_SERIES, before, issued=len(own_invoices)
    )
    open_now = await invoicing.pool.fetch(
        "SELECT open_amount FROM invoices WHERE invoice_id = ANY($1::text[])",
        [i["invoice_id"] for i in own_invoices],
    )
    assert [r["open_amount"] for r in open_now] == [0] * len(own_invoices)


async def bill_everything_of(invoicing: RunningInvoicing, customer_id: str) -> None:
    answer = await invoicing.api.post("/v1/billing-runs", json={"customer_id": customer_id})
    assert answer.status_code == 200, answer.text
    assert all(o["waiting"] is None for o in answer.json()["encounters"])

