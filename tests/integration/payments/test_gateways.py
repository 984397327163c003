"""Card and bank gateways' signed notifications over HTTP, against the real PostgreSQL and Kafka:
a payment taken once however often it is sent, refunds and chargebacks of it, refusals of what is
not provably the gateway's or is too old, and problems naming what is wrong.

A gateway holds no bearer token: its notifications are posted without one, authenticated by the
``Payment-Signature`` header alone, as the gateway sends them (raw JSON, signed byte for byte)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.payments.adapters.gateway_signature import SIGNATURE_HEADER, sign
from services.payments.application.gateways import gateway_payment_id
from tests.integration.payments.conftest import (
    GATEWAY_SECRET,
    NOW,
    TODAY,
    RunningPayments,
    balance_of,
    customer_balance,
    unique,
)

PROBLEM = "application/problem+json"


@pytest.fixture
async def gateway(payments: RunningPayments) -> AsyncIterator[httpx.AsyncClient]:
    """A client as a gateway is one: the same app, no Authorization header."""
    transport = httpx.ASGITransport(app=payments.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def raw(notification: dict[str, Any]) -> bytes:
    return json.dumps(notification, separators=(",", ":")).encode()


def signed(payments: RunningPayments, body: bytes, secret: str = GATEWAY_SECRET) -> dict[str, str]:
    stamp = int(payments.clock.now().timestamp())
    return {SIGNATURE_HEADER: sign(secret, stamp, body), "Content-Type": "application/json"}


async def deliver(client: httpx.AsyncClient, body: bytes, headers: dict[str, str],
                  gateway_name: str = "cardpay") -> httpx.Response:
    return await client.post(f"/v1/gateways/{gateway_name}/notifications", content=body, headers=headers)


async def notify(payments: RunningPayments, client: httpx.AsyncClient, notification: dict[str, Any],
                 gateway_name: str = "cardpay") -> httpx.Response:
    body = raw(notification)
    return await deliver(client, body, signed(payments, body), gateway_name)


def succeeded(customer_id: str, amount: int, invoice_ids: list[str], reference: str | None = None,
              **data: Any) -> dict[str, Any]:
    return {
        "id": unique("evt_"), "type": "payment.succeeded",
        "data": {"payment_reference": reference or unique("ch_"), "customer_id": customer_id, "amount": amount,
                 "currency": "USD", "method": "card", "invoice_ids": invoice_ids, **data},
    }


def taken(answer: httpx.Response, notification: dict[str, Any], outcome: str = "taken") -> None:
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"notification_id": notification["id"], "outcome": outcome}


async def counted(payments: RunningPayments, outcome: str = "refused", gateway_name: str | None = "cardpay") -> float:
    """``payments_gateway_notifications_total`` for the outcome, of one gateway or all of them."""
    metrics = await payments.api.get("/metrics")
    assert metrics.status_code == 200
    gateway_label = re.escape(gateway_name) if gateway_name else '[^"]*'
    return sum(float(value) for value in re.findall(
        rf'^payments_gateway_notifications_total\{{gateway="{gateway_label}",outcome="{outcome}"\}} (\S+)$',
        metrics.text, re.MULTILINE,
    ))


async def payments_of(payments: RunningPayments, customer_id: str) -> int:
    return await payments.pool.fetchval("SELECT count(*) FROM payments WHERE customer_id = $1", customer_id)


async def recorded(payments: RunningPayments, notification_id: str) -> str | None:
    return await payments.pool.fetchval(
        "SELECT outcome FROM gateway_notifications WHERE gateway = 'cardpay' AND notification_id = $1",
        notification_id,
    )


async def test_a_succeeded_notification_records_a_gateway_payment_paying_the_invoice_it_names(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer = unique("cus_")
    older = await payments.issue_invoice(customer, 2000, due_date=TODAY + timedelta(days=10))
    named = await payments.issue_invoice(customer, 5000, due_date=TODAY + timedelta(days=40))
    notification = succeeded(customer, 5000, [named.invoice_id])

    taken(await notify(payments, gateway, notification), notification)

    paid = await balance_of(payments, named.invoice_id)
    assert (paid["paid"], paid["balance"], paid["standing"]) == (5000, 0, "paid")
    untouched = await balance_of(payments, older.invoice_id)
    assert (untouched["paid"], untouched["standing"]) == (0, "open")
    reference = notification["data"]["payment_reference"]
    payment = (await payments.api.get(f"/v1/payments/{gateway_payment_id('cardpay', reference)}")).json()
    assert (payment["channel"], payment["method"], payment["reference"]) == ("gateway", "card", reference)
    assert payment["allocations"] == [{"invoice_id": named.invoice_id, "amount": 5000}]

    [received] = await payments.events_of(customer, "PaymentReceived", 1)
    assert (received["channel"], received["gateway"], received["amount"], received["reference"]) == (
        "gateway", "cardpay", 5000, reference)
    assert received["recorded_by"] == "gateway:cardpay" and received["received_on"] == TODAY.isoformat()
    [allocated] = await payments.events_of(customer, "PaymentAllocated", 1)
    assert allocated["rule"] == "explicit"
    assert allocated["allocations"] == [{"invoice_id": named.invoice_id, "invoice_number": named.number,
                                         "amount": 5000}]
    assert await recorded(payments, notification["id"]) == "taken"


async def test_a_notification_naming_no_invoice_pays_the_oldest_first(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer = unique("cus_")
    newer = await payments.issue_invoice(customer, 4000, due_date=TODAY + timedelta(days=40))
    older = await payments.issue_invoice(customer, 2500, due_date=TODAY + timedelta(days=10))
    notification = succeeded(customer, 3000, [], method="bank_transfer")

    taken(await notify(payments, gateway, notification), notification)

    assert (await balance_of(payments, older.invoice_id))["standing"] == "paid"
    assert (await balance_of(payments, newer.invoice_id))["paid"] == 500
    [allocated] = await payments.events_of(customer, "PaymentAllocated", 1)
    assert allocated["rule"] == "oldest_first"


async def test_the_same_notification_again_or_the_same_payment_under_another_id_is_a_duplicate(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 3000)
    notification = succeeded(customer, 3000, [invoice.invoice_id])
    body = raw(notification)
    duplicates = await counted(payments, "duplicate")

    taken(await deliver(gateway, body, signed(payments, body)), notification)
    taken(await deliver(gateway, body, signed(payments, body)), notification, "duplicate")
    assert await payments_of(payments, customer) == 1

    resent = {**notification, "id": unique("evt_")}
    taken(await notify(payments, gateway, resent), resent, "duplicate")
    assert await payments_of(payments, customer) == 1
    assert await recorded(payments, resent["id"]) == "duplicate"
    balance = await balance_of(payments, invoice.invoice_id)
    assert (balance["paid"], balance["balance"]) == (3000, 0)
    [usd] = (await customer_balance(payments, customer))["balances"]
    assert usd["credit"] == 0
    assert await counted(payments, "duplicate") == duplicates + 2


@pytest.mark.parametrize("tamper", ["wrong secret", "body changed", "no header", "malformed header"])
async def test_a_notification_not_signed_by_the_gateway_is_refused_and_counted(
    payments: RunningPayments, gateway: httpx.AsyncClient, tamper: str,
) -> None:
    customer = unique("cus_")
    notification = succeeded(customer, 2500, [])
    body = raw(notification)
    headers = signed(payments, body)
    match tamper:
        case "wrong secret":
            headers = signed(payments, body, secret="whsec_an_impostors_guess")
        case "body changed":
            body = raw({**notification, "data": {**notification["data"], "amount": 250000}})
        case "no header":
            del headers[SIGNATURE_HEADER]
        case "malformed header":
            headers[SIGNATURE_HEADER] = "signed-by-cardpay-honest"
    refusals = await counted(payments)

    answer = await deliver(gateway, body, headers)

    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["status"] == 401 and problem["detail"].startswith("notification refused")
    [error] = problem["errors"]
    assert error["field"] == SIGNATURE_HEADER and error["message"]
    assert await payments_of(payments, customer) == 0
    assert await recorded(payments, notification["id"]) is None
    assert await counted(payments) == refusals + 1


async def test_a_captured_notification_replayed_after_the_tolerance_is_refused(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer = unique("cus_")
    notification = succeeded(customer, 1800, [])
    body = raw(notification)
    captured = signed(payments, body)
    taken(await deliver(gateway, body, captured), notification)

    payments.clock.advance(timedelta(minutes=10))
    try:
        replayed = await deliver(gateway, body, captured)
        assert replayed.status_code == 401, replayed.text
        [error] = replayed.json()["errors"]
        assert error["field"] == SIGNATURE_HEADER and "beyond 300 s" in error["message"]
        # an unseen notification captured and replayed late is refused just the same
        unseen = succeeded(customer, 1800, [])
        unseen_body = raw(unseen)
        late = await deliver(gateway, unseen_body, {
            SIGNATURE_HEADER: sign(GATEWAY_SECRET, int(NOW.timestamp()), unseen_body),
            "Content-Type": "application/json",
        })
        assert late.status_code == 401, late.text
    finally:
        payments.clock.set(NOW)
    assert await payments_of(payments, customer) == 1
    assert await recorded(payments, unseen["id"]) is None


async def test_a_refund_at_the_gateway_pays_back_the_payments_credit(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 3000)
    payment = succeeded(customer, 5000, [invoice.invoice_id])
    reference = payment["data"]["payment_reference"]
    taken(await notify(payments, gateway, payment), payment)
    payment_id = gateway_payment_id("cardpay", reference)
    before = (await payments.api.get(f"/v1/payments/{payment_id}")).json()
    assert (before["allocated"], before["unallocated"]) == (3000, 2000)

    too_much = {"id": unique("evt_"), "type": "payment.refunded",
                "data": {"payment_reference": reference, "refund_reference": unique("re_"), "amount": 2001}}
    refusal = await notify(payments, gateway, too_much)
    assert refusal.status_code == 422, refusal.text
    assert refusal.headers["content-type"] == PROBLEM
    assert await recorded(payments, too_much["id"]) is None

    refund_reference = unique("re_")
    refund = {"id": unique("evt_"), "type": "payment.refunded",
              "data": {"payment_reference": reference, "refund_reference": refund_reference, "amount": 2000}}
    taken(await notify(payments, gateway, refund), refund)

    after = (await payments.api.get(f"/v1/payments/{payment_id}")).json()
    assert (after["allocated"], after["refunded"], after["unallocated"]) == (3000, 2000, 0)
    assert [(r["amount"], r["reference"]) for r in after["refunds"]] == [(2000, refund_reference)]
    [issued] = await payments.events_of(customer, "RefundIssued", 1)
    assert (issued["payment_id"], issued["amount"], issued["method"], issued["reference"]) == (
        payment_id, 2000, "card", refund_reference)
    assert issued["refunded_by"] == "gateway:cardpay"
    assert (await balance_of(payments, invoice.invoice_id))["standing"] == "paid"

    # the gateway's second notification of the same refund changes nothing
    again = {**refund, "id": unique("evt_")}
    taken(await notify(payments, gateway, again), again, "duplicate")
    assert (await payments.api.get(f"/v1/payments/{payment_id}")).json()["refunded"] == 2000


async def test_a_chargeback_reverses_the_payment_and_the_invoice_is_owed_again(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 4000)
    payment = succeeded(customer, 4000, [invoice.invoice_id])
    reference = payment["data"]["payment_reference"]
    taken(await notify(payments, gateway, payment), payment)
    assert (await balance_of(payments, invoice.invoice_id))["standing"] == "paid"

    dispute = {"id": unique("evt_"), "type": "payment.disputed",
               "data": {"payment_reference": reference, "reference": "dp_fraudulent"}}
    taken(await notify(payments, gateway, dispute), dispute)

    owed = await balance_of(payments, invoice.invoice_id)
    assert (owed["paid"], owed["balance"], owed["standing"]) == (0, 4000, "open")
    reversed_ = (await payments.api.get(f"/v1/payments/{gateway_payment_id('cardpay', reference)}")).json()
    assert reversed_["reversed"] and reversed_["reversal_reason"] == "chargeback"
    [event] = await payments.events_of(customer, "PaymentReversed", 1)
    assert (event["reason"], event["amount"], event["reference"]) == ("chargeback", 4000, "dp_fraudulent")
    assert event["released"] == [{"invoice_id": invoice.invoice_id, "invoice_number": invoice.number,
                                  "amount": 4000}]

    again = {**dispute, "id": unique("evt_")}
    taken(await notify(payments, gateway, again), again, "duplicate")


async def test_a_returned_bank_transfer_is_a_bank_return(payments: RunningPayments, gateway: httpx.AsyncClient) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 2200)
    payment = succeeded(customer, 2200, [invoice.invoice_id], method="bank_transfer")
    taken(await notify(payments, gateway, payment), payment)
    returned = {"id": unique("evt_"), "type": "payment.returned",
                "data": {"payment_reference": payment["data"]["payment_reference"], "reference": "R01"}}
    taken(await notify(payments, gateway, returned), returned)
    [event] = await payments.events_of(customer, "PaymentReversed", 1)
    assert event["reason"] == "bank_return"
    assert (await balance_of(payments, invoice.invoice_id))["balance"] == 2200


async def test_a_refund_for_a_payment_not_yet_known_is_a_conflict_the_gateway_can_retry(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer = unique("cus_")
    reference = unique("ch_")
    refund = {"id": unique("evt_"), "type": "payment.refunded",
              "data": {"payment_reference": reference, "refund_reference": unique("re_"), "amount": 500}}

    early = await notify(payments, gateway, refund)

    assert early.status_code == 409, early.text
    assert early.headers["content-type"] == PROBLEM
    [error] = early.json()["errors"]
    assert error["field"] == "data.payment_reference"
    assert await recorded(payments, refund["id"]) is None

    payment = succeeded(customer, 500, [], reference=reference)
    taken(await notify(payments, gateway, payment), payment)
    taken(await notify(payments, gateway, refund), refund)
    [issued] = await payments.events_of(customer, "RefundIssued", 1)
    assert issued["amount"] == 500


async def test_a_notification_of_a_type_we_have_no_use_for_is_ignored(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    notification = {"id": unique("evt_"), "type": "customer.card.updated", "data": {"last4": "4242"}}
    taken(await notify(payments, gateway, notification), notification, "ignored")
    assert await recorded(payments, notification["id"]) == "ignored"
    taken(await notify(payments, gateway, notification), notification, "duplicate")


@pytest.mark.parametrize(("change", "field"), [
    ({"amount": "12.50"}, "data.amount"),
    ({"customer_id": None}, "data.customer_id"),
    ({"currency": "usd"}, "data.currency"),
], ids=["amount as a string", "customer_id missing", "currency in lower case"])
async def test_a_malformed_notification_is_a_problem_naming_the_field(
    payments: RunningPayments, gateway: httpx.AsyncClient, change: dict[str, Any], field: str,
) -> None:
    customer = unique("cus_")
    notification = succeeded(customer, 1200, [])
    data = {k: v for k, v in {**notification["data"], **change}.items() if v is not None}
    notification["data"] = data

    answer = await notify(payments, gateway, notification)

    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert await payments_of(payments, customer) == 0
    assert await recorded(payments, notification["id"]) is None


async def test_a_named_invoice_the_payment_cannot_pay_is_a_problem_naming_its_place_in_invoice_ids(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer, someone_else = unique("cus_"), unique("cus_")
    paid_already = await payments.issue_invoice(customer, 1000)
    first = succeeded(customer, 1000, [paid_already.invoice_id])
    taken(await notify(payments, gateway, first), first)
    theirs = await payments.issue_invoice(someone_else, 1500)

    unknown = succeeded(customer, 1500, [paid_already.invoice_id, "inv_never_issued"])
    answer = await notify(payments, gateway, unknown)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["data.invoice_ids[1]"]

    foreign = succeeded(customer, 1500, [paid_already.invoice_id, theirs.invoice_id])
    answer = await notify(payments, gateway, foreign)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["data.invoice_ids[1]"]
    assert await payments_of(payments, customer) == 1
    assert await recorded(payments, foreign["id"]) is None
    assert (await balance_of(payments, theirs.invoice_id))["paid"] == 0

    in_euros = await payments.issue_invoice(customer, 1500, currency="EUR")
    other_currency = succeeded(customer, 1500, [in_euros.invoice_id])
    answer = await notify(payments, gateway, other_currency)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["data.invoice_ids[0]"]
    assert await payments_of(payments, customer) == 1


async def test_a_notification_without_an_id_or_not_json_is_a_problem(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    nameless = await notify(payments, gateway, {"type": "payment.succeeded", "data": {}})
    assert nameless.status_code == 422, nameless.text
    assert [e["field"] for e in nameless.json()["errors"]] == ["id"]

    body = b"id=evt_1&type=payment.succeeded"
    not_json = await deliver(gateway, body, signed(payments, body))
    assert not_json.status_code == 422, not_json.text
    assert [e["field"] for e in not_json.json()["errors"]] == ["body"]


async def test_a_gateway_we_hold_no_secret_for_is_refused(
    payments: RunningPayments, gateway: httpx.AsyncClient,
) -> None:
    customer = unique("cus_")
    notification = succeeded(customer, 1000, [])
    refusals = await counted(payments, gateway_name=None)

    answer = await notify(payments, gateway, notification, gateway_name="paywhere")

    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == PROBLEM
    [error] = answer.json()["errors"]
    assert error["field"] == SIGNATURE_HEADER and "no secret" in error["message"]
    assert await payments_of(payments, customer) == 0
    assert await counted(payments, gateway_name=None) == refusals + 1
