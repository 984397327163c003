"""An operator rebuilds payments' read models from its own store and gets what the live service
built, row for row, without appending an event or moving any money again; also while other
transactions are open on the server, as they are when the service keeps running."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from services.payments.rebuild import SOURCES, FromStore, rebuild
from tests.integration.payments.conftest import (
    TODAY,
    RunningPayments,
    customer_payment,
    pay,
    store_settled,
    unique,
)

REMITTANCE = (Path(__file__).parents[2] / "unit" / "payments" / "fixtures" / "835-two-claims.x12").read_text()

SNAPSHOTS = {
    "ledger": """SELECT to_jsonb(p) FROM payments p
                 UNION ALL SELECT to_jsonb(a) FROM allocations a
                 UNION ALL SELECT to_jsonb(r) FROM refunds r ORDER BY 1""",
    "plans": "SELECT to_jsonb(p) FROM plans p ORDER BY plan_id",
    "missed": "SELECT to_jsonb(m) FROM missed_payments m ORDER BY due_item",
    "remittances": "SELECT to_jsonb(r) FROM remittances r ORDER BY remittance_id",
    "instructions": "SELECT to_jsonb(i) FROM payment_instructions i ORDER BY business_id",
}


async def snapshot(payments: RunningPayments, model: str) -> list[Any]:
    return [row[0] for row in await payments.pool.fetch(SNAPSHOTS[model])]


async def answers(payments: RunningPayments, customer_id: str, business_id: str) -> list[Any]:
    """What the API says about the customer, their plans and missed payments, the remittances and
    the business's payment instructions."""
    said = []
    for path in (f"/v1/customers/{customer_id}/balance", f"/v1/customers/{customer_id}/payments",
                 f"/v1/customers/{customer_id}/payment-plans", f"/v1/customers/{customer_id}/missed-payments",
                 "/v1/remittances", f"/v1/businesses/{business_id}/payment-instructions"):
        answer = await payments.api.get(path)
        assert answer.status_code == 200, f"{path}: {answer.text}"
        said.append(answer.json())
    return said


async def test_every_read_model_rebuilt_from_the_store_equals_the_live_one(payments: RunningPayments) -> None:
    customer, payer = unique("cus_"), unique("payer-")  # a payer of its own: its events have its own key
    overdue = await payments.issue_invoice(customer, 6000, due_date=TODAY - timedelta(days=10))
    planned = [await payments.issue_invoice(customer, total, due_date=TODAY + timedelta(days=30))
               for total in (5000, 7000)]
    for number, total in (("PAY-2026-000001", 18150), ("PAY-2026-000002", 26000)):
        await payments.issue_invoice(customer, total, payer_id=payer, number=number)

    # payments: one pays part of the overdue invoice, one is kept and partly refunded, one reversed
    await pay(payments, customer_payment(customer, 2000, allocations=[
        {"invoice_id": overdue.invoice_id, "amount": 2000}]))
    kept = await pay(payments, customer_payment(customer, 1500, allocate=False))
    refunded = await payments.api.post(f"/v1/payments/{kept['payment_id']}/refunds",
                                       json={"amount": 500, "method": "card", "reason": "overpaid"})
    assert refunded.status_code == 201, refunded.text
    bounced = await pay(payments, customer_payment(customer, 1000, method="cheque", allocations=[
        {"invoice_id": overdue.invoice_id, "amount": 1000}]))
    reversed_ = await payments.api.post(f"/v1/payments/{bounced['payment_id']}/reversal",
                                        json={"reason": "bounced_cheque", "reference": "NSF"})
    assert reversed_.status_code == 200, reversed_.text

    # a plan for the two newer invoices, its down payment paid
    plan = await payments.api.post("/v1/payment-plans", json={
        "customer_id": customer, "invoice_ids": [i.invoice_id for i in planned], "currency": "USD",
        "instalments": 3, "frequency": "monthly", "first_due_date": str(TODAY + timedelta(days=7)),
        "down_payment": 2000,
    })
    assert plan.status_code == 201, plan.text
    await pay(payments, customer_payment(customer, 2000, allocations=[
        {"invoice_id": planned[0].invoice_id, "amount": 2000}]))
    counted = await payments.api.get(f"/v1/payment-plans/{plan.json()['plan_id']}")
    assert counted.json()["paid_to_date"] == 2000

    # the payer's 835 pays both of its claims
    posted = await payments.api.post("/v1/remittances", content=REMITTANCE,
                                      headers={"Content-Type": "application/edi-x12"})
    assert posted.status_code == 201, posted.text
    [remittance] = posted.json()["items"]
    assert all(claim["invoice_id"] for claim in remittance["claims"])

    # a missed-payment run after the first instalment fell due: the overdue invoice and the
    # instalment are missed, and the plan defaults (after one missed instalment, as configured)
    run = await payments.api.post("/v1/missed-payment-runs", json={"as_of": str(TODAY + timedelta(days=20))})
    assert run.status_code == 200, run.text
    assert (run.json()["invoices_missed"], run.json()["instalments_missed"], run.json()["plans_defaulted"]) == (
        1, 1, 1)

    # how to pay, published twice
    business = unique("biz_")
    for notes in ("Quote your invoice number", "Quote your invoice number, please"):
        published = await payments.api.put(f"/v1/businesses/{business}/payment-instructions", json={
            "business_name": "Example Community Clinic", "notes": notes,
            "options": [{"method": "card", "label": "Pay online", "url": "https://pay.example"}],
        })
        assert published.status_code == 200, published.text
    assert published.json()["version"] == 2

    from_store = sorted(name for name, source in SOURCES.items() if isinstance(source, FromStore))
    assert from_store == sorted(SNAPSHOTS), "every model rebuilt from the store is compared"
    await store_settled(payments)
    said = await answers(payments, customer, business)
    events = await payments.pool.fetchval("SELECT count(*) FROM events")

    for model in from_store:
        live = await snapshot(payments, model)
        assert live, f"{model} has rows to compare"
        assert await rebuild(model, payments.app.state.settings) >= events
        assert await snapshot(payments, model) == live, model

    assert await answers(payments, customer, business) == said
    assert await payments.pool.fetchval("SELECT count(*) FROM events") == events


async def test_a_rebuild_folds_every_committed_event_while_an_older_transaction_is_open(
    payments: RunningPayments, database_url: str,
) -> None:
    """The service may keep running during a rebuild, and so does everything else on the server.
    A transaction that took its id before a payment was recorded, and is still open when the
    ledger is rebuilt (a long write of another service, a slow request), must not keep that
    committed payment out of the rebuilt ledger: payments' read models are updated only inline,
    so nothing would fold it later."""
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 4000)
    await store_settled(payments)
    elsewhere = await asyncpg.connect(database_url)
    try:
        async with elsewhere.transaction():
            await elsewhere.fetchval("SELECT pg_current_xact_id()")  # it has begun writing
            payment = await pay(payments, customer_payment(customer, 1500))
            live = await snapshot(payments, "ledger")
            await rebuild("ledger", payments.app.state.settings)
            rebuilt = await snapshot(payments, "ledger")
    finally:
        await elsewhere.close()

    found = await payments.api.get(f"/v1/payments/{payment['payment_id']}")
    assert found.status_code == 200, found.text
    balance = await payments.api.get(f"/v1/invoices/{invoice.invoice_id}/balance")
    assert balance.json()["paid"] == 1500
    assert rebuilt == live
