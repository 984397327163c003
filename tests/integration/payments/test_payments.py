"""Payments over HTTP against the real PostgreSQL, with invoices learned from Kafka: allocation
oldest first and explicit, credit, refunds, reversals, agency fees, and what invoicing's later
credit notes and write-offs do to payments already made."""

from __future__ import annotations

from datetime import timedelta

from services.invoicing.domain import events as invoicing
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


async def test_a_payment_pays_the_oldest_invoices_first_and_the_rest_is_credit(payments: RunningPayments) -> None:
    customer = unique("cus_")
    newer = await payments.issue_invoice(customer, 4000, due_date=TODAY + timedelta(days=40))
    older = await payments.issue_invoice(customer, 2500, due_date=TODAY + timedelta(days=10))

    first = await pay(payments, customer_payment(customer, 3000))
    assert {a["invoice_id"]: a["amount"] for a in first["allocations"]} == {
        older.invoice_id: 2500, newer.invoice_id: 500}
    assert (await balance_of(payments, older.invoice_id))["standing"] == "paid"
    partly = await balance_of(payments, newer.invoice_id)
    assert (partly["paid"], partly["balance"], partly["standing"]) == (500, 3500, "partially_paid")

    second = await pay(payments, customer_payment(customer, 5000))
    assert second["allocated"] == 3500 and second["unallocated"] == 1500
    [usd] = (await customer_balance(payments, customer))["balances"]
    assert (usd["owed"], usd["credit"], usd["net"], usd["standing"]) == (0, 1500, -1500, "credit")

    allocated = await payments.events_of(customer, "PaymentAllocated", 2)
    assert [a["rule"] for a in allocated] == ["oldest_first", "oldest_first"]


async def test_credit_pays_the_next_invoice_and_a_refund_pays_back_what_is_left(payments: RunningPayments) -> None:
    customer = unique("cus_")
    payment = await pay(payments, customer_payment(customer, 6000))
    assert payment["unallocated"] == 6000

    invoice = await payments.issue_invoice(customer, 4500)
    settled = await eventually(
        lambda: _paid(payments, invoice.invoice_id, 4500), message="the new invoice paid from credit"
    )
    assert settled["standing"] == "paid"

    too_much = await payments.api.post(f"/v1/payments/{payment['payment_id']}/refunds",
                                       json={"amount": 1600, "method": "card", "reason": "overpaid"})
    assert too_much.status_code == 422
    assert too_much.headers["content-type"] == "application/problem+json"
    assert too_much.json()["errors"][0]["field"] == "amount"

    refunded = await payments.api.post(f"/v1/payments/{payment['payment_id']}/refunds",
                                       json={"amount": 1500, "method": "card", "reason": "overpaid"})
    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["unallocated"] == 0 and refunded.json()["refunded"] == 1500
    [usd] = (await customer_balance(payments, customer))["balances"]
    assert (usd["owed"], usd["credit"], usd["standing"]) == (0, 0, "settled")
    [refund] = await payments.events_of(customer, "RefundIssued", 1)
    assert refund["amount"] == 1500


async def _paid(payments: RunningPayments, invoice_id: str, amount: int) -> dict | None:  # type: ignore[type-arg]
    balance = await balance_of(payments, invoice_id)
    return balance if balance["paid"] == amount else None


async def test_explicit_allocations_are_checked_field_by_field(payments: RunningPayments) -> None:
    customer, someone_else = unique("cus_"), unique("cus_")
    mine = await payments.issue_invoice(customer, 2000)
    theirs = await payments.issue_invoice(someone_else, 2000)

    over = await payments.api.post("/v1/payments", json=customer_payment(
        customer, 5000, allocations=[{"invoice_id": mine.invoice_id, "amount": 2500}]))
    assert over.status_code == 422
    assert over.json()["errors"][0]["field"] == "allocations[0].amount"

    foreign = await payments.api.post("/v1/payments", json=customer_payment(
        customer, 5000, allocations=[{"invoice_id": mine.invoice_id, "amount": 1000},
                                     {"invoice_id": theirs.invoice_id, "amount": 1000}]))
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "allocations[1].invoice_id"

    bad = await payments.api.post("/v1/payments", json=customer_payment(customer, -5, currency="usd"))
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"amount", "currency"}
    # nothing was recorded by the refusals
    assert await payments.pool.fetchval("SELECT count(*) FROM payments WHERE customer_id = $1", customer) == 0

    kept = await pay(payments, customer_payment(customer, 5000, allocate=False))
    assert kept["allocations"] == []
    named = await payments.api.post(f"/v1/payments/{kept['payment_id']}/allocations",
                                    json={"allocations": [{"invoice_id": mine.invoice_id, "amount": 1200}]})
    assert named.status_code == 200, named.text
    assert named.json()["allocations"] == [{"invoice_id": mine.invoice_id, "amount": 1200}]
    assert (await balance_of(payments, mine.invoice_id))["balance"] == 800


async def test_the_same_idempotency_key_records_one_payment(payments: RunningPayments) -> None:
    customer = unique("cus_")
    body = customer_payment(customer, 1000)
    first = await pay(payments, body, **{"Idempotency-Key": "till-7-receipt-1"})
    again = await payments.api.post("/v1/payments", json=body, headers={"Idempotency-Key": "till-7-receipt-1"})
    assert again.status_code == 201 and again.json()["payment_id"] == first["payment_id"]
    assert await payments.pool.fetchval("SELECT count(*) FROM payments WHERE customer_id = $1", customer) == 1


async def test_a_bounced_cheque_makes_its_invoices_owed_again(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 3000)
    cheque = await pay(payments, customer_payment(customer, 3000, method="cheque", reference="cheque 1042"))
    assert (await balance_of(payments, invoice.invoice_id))["standing"] == "paid"

    reversed_ = await payments.api.post(f"/v1/payments/{cheque['payment_id']}/reversal",
                                        json={"reason": "bounced_cheque", "reference": "NSF 2026-03-04"})
    assert reversed_.status_code == 200, reversed_.text
    assert reversed_.json()["reversed"] and reversed_.json()["unallocated"] == 0
    assert (await balance_of(payments, invoice.invoice_id))["balance"] == 3000
    again = await payments.api.post(f"/v1/payments/{cheque['payment_id']}/reversal", json={"reason": "chargeback"})
    assert again.status_code == 422
    [event] = await payments.events_of(customer, "PaymentReversed", 1)
    assert event["released"] == [{"invoice_id": invoice.invoice_id, "invoice_number": invoice.number, "amount": 3000}]


async def test_a_collection_agency_pays_net_of_its_fee(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 10000)
    body = customer_payment(customer, 10000, method="bank_transfer", fee=2500,
                            party={"kind": "collection_agency", "name": "Recovery Partners", "agency_id": "agency-1"})
    collected = await pay(payments, body)
    assert (collected["channel"], collected["amount"], collected["fee"]) == ("agency", 10000, 2500)
    assert (await balance_of(payments, invoice.invoice_id))["balance"] == 0

    nameless = await payments.api.post("/v1/payments", json={
        **body, "party": {"kind": "collection_agency", "name": "Recovery Partners"}})
    assert nameless.status_code == 422 and nameless.json()["errors"][0]["field"] == "party"
    no_fee_for_customers = await payments.api.post("/v1/payments", json=customer_payment(customer, 100, fee=10))
    assert no_fee_for_customers.status_code == 422
    assert no_fee_for_customers.json()["errors"][0]["field"] == "fee"


async def test_a_credit_note_after_payment_gives_the_excess_back_as_credit(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 5000)
    paid = await pay(payments, customer_payment(customer, 5000))
    credit = invoicing.CreditNoteIssued(
        credit_note_id=unique("cn_"), number=unique("CN-2026-"), series="CN", invoice_id=invoice.invoice_id,
        invoice_number=invoice.number, customer_id=customer,
        lines=[invoicing.CreditedLine(line_id=invoice.lines[0].line_id, amount=2000)], total=2000,
        currency="USD", reason="goodwill", issued_by="billing", issue_date=TODAY, issued_at=NOW,
    )
    await payments.publish(credit, customer)
    await eventually(lambda: _paid(payments, invoice.invoice_id, 3000), message="the excess released")
    payment = (await payments.api.get(f"/v1/payments/{paid['payment_id']}")).json()
    assert (payment["allocated"], payment["unallocated"]) == (3000, 2000)
    [released] = await payments.events_of(customer, "AllocationReleased", 1)
    assert released["amount"] == 2000 and released["invoice_id"] == invoice.invoice_id


async def test_a_payer_pays_its_own_invoices_and_not_the_customers(payments: RunningPayments) -> None:
    customer = unique("cus_")
    own = await payments.issue_invoice(customer, 2500)
    claim = await payments.issue_invoice(customer, 9000, payer_id="acme-health")
    cheque = await pay(payments, customer_payment(
        customer, 9000, method="cheque", party={"kind": "insurer", "name": "Acme Health", "payer_id": "acme-health"}))
    assert cheque["allocations"] == [{"invoice_id": claim.invoice_id, "amount": 9000}]
    [usd] = (await customer_balance(payments, customer))["balances"]
    assert (usd["owed"], usd["with_payers"]) == (2500, 0)
    assert (await balance_of(payments, own.invoice_id))["standing"] == "open"


async def test_unknown_payment_is_a_problem_naming_it(payments: RunningPayments) -> None:
    missing = await payments.api.get("/v1/payments/pay_nope")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "payment_id"
    refund = await payments.api.post("/v1/payments/pay_nope/refunds", json={"amount": 1, "method": "card", "reason": "x"})
    assert refund.status_code == 404


async def test_staff_apply_the_credit_left_by_a_credit_note_to_the_other_open_invoices(payments: RunningPayments) -> None:
    customer = unique("cus_")
    credited = await payments.issue_invoice(customer, 2000, due_date=TODAY + timedelta(days=5))
    paid = await pay(payments, customer_payment(customer, 2000))
    still_open = await payments.issue_invoice(customer, 1500, due_date=TODAY + timedelta(days=9))
    await payments.publish(invoicing.CreditNoteIssued(
        credit_note_id=unique("cn_"), number=unique("CN-2026-"), series="CN", invoice_id=credited.invoice_id,
        invoice_number=credited.number, customer_id=customer,
        lines=[invoicing.CreditedLine(line_id=credited.lines[0].line_id, amount=2000)], total=2000,
        currency="USD", reason="billed in error", issued_by="billing", issue_date=TODAY, issued_at=NOW,
    ), customer)
    await eventually(lambda: _paid(payments, credited.invoice_id, 0), message="the credit note released the payment")
    assert (await balance_of(payments, still_open.invoice_id))["balance"] == 1500  # credit is not spent by itself

    applied = await payments.api.post(f"/v1/customers/{customer}/credit-applications", json={"currency": "USD"},
                                      headers={"Idempotency-Key": f"apply-{customer}"})
    assert applied.status_code == 200, applied.text
    assert applied.json() == {"customer_id": customer, "currency": "USD", "applied": 1500, "credit_left": 500}
    assert (await balance_of(payments, still_open.invoice_id))["standing"] == "paid"
    payment = (await payments.api.get(f"/v1/payments/{paid['payment_id']}")).json()
    assert payment["allocations"] == [{"invoice_id": still_open.invoice_id, "amount": 1500}]
    [credit_rule] = await payments.events_of(customer, "PaymentAllocated", 1, where=lambda e: e["rule"] == "credit")
    assert credit_rule["allocations"][0]["amount"] == 1500
