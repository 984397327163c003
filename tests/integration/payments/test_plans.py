"""Payment plans and the missed-payment scheduler against the real PostgreSQL and Kafka, with the
business date moved by the injected clock.

The module's app defaults a plan after one missed instalment (PAYMENTS_PLAN_DEFAULT_AFTER_MISSED=1)
and asks instalments of at least 10.00."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer

from tests.integration.payments.conftest import (
    NOW,
    TODAY,
    RunningPayments,
    balance_of,
    customer_balance,
    customer_payment,
    pay,
    unique,
)
from tests.polling import eventually


async def events_until(payments: RunningPayments, key: str, marker: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event payments published under ``key``, in order, up to the payment ``marker``'s
    PaymentReceived: one partition per key, so nothing published before it can come after it."""
    reader = AIOKafkaConsumer(
        "payments.events", bootstrap_servers=payments.bootstrap, group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await reader.start()
    try:
        found: list[tuple[str, dict[str, Any]]] = []

        async def scan() -> bool:
            for records in (await reader.getmany(timeout_ms=300)).values():
                for record in records:
                    if record.key == key.encode():
                        kind = dict(record.headers)["ce_type"].decode().rsplit(".", 1)[-1]
                        found.append((kind, json.loads(record.value)))
            return any(data.get("payment_id") == marker for _, data in found)

        await eventually(scan, timeout=20, message=f"{marker} for {key} on payments.events")
        return found[: next(i for i, (_, data) in enumerate(found) if data.get("payment_id") == marker) + 1]
    finally:
        await reader.stop()


async def agree(payments: RunningPayments, customer: str, **terms: Any) -> dict[str, Any]:
    answer = await payments.api.post("/v1/payment-plans", json={
        "customer_id": customer, "currency": "USD", "instalments": 3, "frequency": "monthly",
        "first_due_date": (TODAY + timedelta(days=7)).isoformat(), **terms,
    })
    assert answer.status_code == 201, answer.text
    return answer.json()


async def test_a_missed_second_instalment_is_reported_once_then_the_plan_defaults(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 30000, due_date=TODAY + timedelta(days=120))
    plan = await agree(payments, customer)
    assert [(i["sequence"], i["due_date"], i["amount"]) for i in plan["instalments"]] == [
        (1, "2026-03-09", 10000), (2, "2026-04-09", 10000), (3, "2026-05-09", 10000)]
    assert (await balance_of(payments, invoice.invoice_id))["standing"] == "in_plan"

    await pay(payments, customer_payment(customer, 10000))  # the first instalment, on time
    after_first = (await payments.api.get(f"/v1/payment-plans/{plan['plan_id']}")).json()
    assert [i["status"] for i in after_first["instalments"]] == ["paid", "due", "due"]

    try:
        payments.clock.set(NOW + timedelta(days=50))  # 2026-04-21: the second is twelve days late
        first_run = await payments.api.post("/v1/missed-payment-runs", json={})
        assert first_run.status_code == 200, first_run.text
        # (invoices_missed is left out: it counts every invoice the module's app heard of on Kafka)
        assert {k: v for k, v in first_run.json().items() if k != "invoices_missed"} == {
            "as_of": "2026-04-21", "instalments_missed": 1, "plans_defaulted": 1, "plans_completed": 0}
        # the scheduler again, twice at once, as after a restart with two processes running
        again = await asyncio.gather(
            payments.api.post("/v1/missed-payment-runs", json={}),
            payments.app.state.scheduler.run(date(2026, 4, 21)),
        )
        assert again[0].json()["instalments_missed"] == 0 and again[1].instalments_missed == 0
    finally:
        payments.clock.set(NOW)

    marker = await pay(payments, customer_payment(customer, 100, allocate=False))  # after all the runs published
    published = await events_until(payments, customer, marker["payment_id"])
    missed = [data for kind, data in published if kind == "PaymentMissed"]
    assert len(missed) == 1
    [notice] = missed
    assert (notice["item"], notice["plan_id"], notice["instalment"]) == ("instalment", plan["plan_id"], 2)
    assert (notice["amount"], notice["days_overdue"], notice["due_date"]) == (10000, 12, "2026-04-09")
    defaulted = [data for kind, data in published if kind == "PaymentPlanDefaulted"]
    assert len(defaulted) == 1 and defaulted[0]["missed_instalments"] == [2]
    assert defaulted[0]["outstanding"] == 20000
    assert await payments.pool.fetchval(
        "SELECT count(*) FROM events WHERE stream_id = $1 AND event_type = 'billing.payments.PaymentMissed'",
        f"plan-{plan['plan_id']}",
    ) == 1

    ended = (await payments.api.get(f"/v1/payment-plans/{plan['plan_id']}")).json()
    assert ended["status"] == "defaulted" and ended["missed"] == [2]
    assert (await balance_of(payments, invoice.invoice_id))["standing"] == "partially_paid"  # no plan now


async def test_payments_pay_the_current_instalment_and_the_last_completes_the_plan(payments: RunningPayments) -> None:
    customer = unique("cus_")
    await payments.issue_invoice(customer, 12001, due_date=TODAY + timedelta(days=30))
    plan = await agree(payments, customer, instalments=2, frequency="biweekly", down_payment=2001)
    assert [(i["sequence"], i["amount"], i["due_date"]) for i in plan["instalments"]] == [
        (0, 2001, "2026-03-02"), (1, 5000, "2026-03-09"), (2, 5000, "2026-03-23")]

    await pay(payments, customer_payment(customer, 7001))
    midway = (await payments.api.get(f"/v1/payment-plans/{plan['plan_id']}")).json()
    assert [i["status"] for i in midway["instalments"]] == ["paid", "paid", "due"]
    assert (midway["paid_to_date"], midway["outstanding"]) == (7001, 5000)

    await pay(payments, customer_payment(customer, 5000))
    done = (await payments.api.get(f"/v1/payment-plans/{plan['plan_id']}")).json()
    assert done["status"] == "completed"
    [applied_first, applied_last] = await payments.events_of(customer, "PlanPaymentApplied", 2)
    assert applied_first["instalments_paid"] == [0, 1] and applied_last["instalments_paid"] == [2]
    [completed] = await payments.events_of(customer, "PaymentPlanCompleted", 1)
    assert completed["paid"] == 12001
    [usd] = (await customer_balance(payments, customer))["balances"]
    assert usd["owed"] == 0


async def test_a_plan_is_refused_where_it_cannot_hold(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 2500)
    claim = await payments.issue_invoice(customer, 9000, payer_id="acme-health")

    small = await payments.api.post("/v1/payment-plans", json={
        "customer_id": customer, "currency": "USD", "instalments": 5, "first_due_date": "2026-03-10"})
    assert small.status_code == 422
    assert small.json()["errors"][0]["field"] == "instalments"
    assert "at most 2" in small.json()["errors"][0]["message"]

    payer_invoice = await payments.api.post("/v1/payment-plans", json={
        "customer_id": customer, "currency": "USD", "instalments": 2, "first_due_date": "2026-03-10",
        "invoice_ids": [claim.invoice_id]})
    assert payer_invoice.status_code == 422 and payer_invoice.json()["errors"][0]["field"] == "invoice_ids"

    backdated = await payments.api.post("/v1/payment-plans", json={
        "customer_id": customer, "currency": "USD", "instalments": 2, "first_due_date": "2026-02-10"})
    assert backdated.status_code == 422 and backdated.json()["errors"][0]["field"] == "first_due_date"

    quote = await payments.api.post("/v1/payment-plans/quote", json={
        "customer_id": customer, "currency": "USD", "instalments": 2, "first_due_date": "2026-03-10"})
    assert quote.status_code == 200, quote.text
    assert [i["amount"] for i in quote.json()["instalments"]] == [1250, 1250]
    assert await payments.pool.fetchval("SELECT count(*) FROM plans WHERE customer_id = $1", customer) == 0

    await agree(payments, customer, instalments=2, invoice_ids=[invoice.invoice_id])
    twice = await payments.api.post("/v1/payment-plans", json={
        "customer_id": customer, "currency": "USD", "instalments": 2, "first_due_date": "2026-03-10",
        "invoice_ids": [invoice.invoice_id]})
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "invoice_ids"


async def test_an_invoice_past_due_is_reported_once_with_its_days_overdue(payments: RunningPayments) -> None:
    customer = unique("cus_")
    late = await payments.issue_invoice(customer, 4200, due_date=date(2026, 3, 20))
    await pay(payments, customer_payment(customer, 1200))
    on_time = await payments.issue_invoice(customer, 1000, due_date=date(2026, 4, 30))

    for _ in range(2):
        run = await payments.api.post("/v1/missed-payment-runs", json={"as_of": "2026-04-01"})
        assert run.status_code == 200, run.text
    [notice] = await payments.events_of(customer, "PaymentMissed", 1)
    assert (notice["item"], notice["invoice_id"], notice["billed_party"]) == ("invoice", late.invoice_id, "customer")
    assert (notice["amount"], notice["days_overdue"], notice["as_of"]) == (3000, 12, "2026-04-01")
    listed = (await payments.api.get(f"/v1/customers/{customer}/missed-payments")).json()["items"]
    assert [m["invoice_id"] for m in listed] == [late.invoice_id]
    assert on_time.invoice_id not in {m["invoice_id"] for m in listed}
    standing = await balance_of(payments, late.invoice_id)
    assert standing["standing"] == "partially_paid"  # today (the clock's) it is not yet due
    assert (await payments.api.get(f"/v1/invoices/{late.invoice_id}/balance",
                                   params={"as_of": "2026-04-01"})).json()["standing"] == "overdue"
