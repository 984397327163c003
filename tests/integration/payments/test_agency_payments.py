"""What a collection agency collects reaches payments from collections' events on Kafka only: each
AgencyPaymentReported is the agency's payment, gross with its fee, recorded once however often it
arrives. It pays the invoice the agency collected on up to what that invoice still asks; the rest,
or all of it when the invoice is not open (or not known), is the customer's credit.

The reports are published as collections' relay publishes them (CloudEvents binary mode, key =
customer id), their payloads held to collections' published JSON Schema."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer

from services.payments.rebuild import rebuild
from shared.envelope import EventEnvelope
from shared.kafka import records_until_end, topic_partitions
from tests.contract_readers import published_schema
from tests.integration.payments.conftest import (
    NOW,
    TODAY,
    RunningPayments,
    balance_of,
    customer_balance,
    customer_payment,
    pay,
    store_settled,
    unique,
)
from tests.polling import eventually

TOPIC = "collections.events"
SOURCE = "/billing/collections"
REPORTED = "billing.collections.AgencyPaymentReported"
AGENCY = {"agency_id": "agy_northwind", "agency_name": "Northwind Recovery"}
COLLECTED_ON = TODAY - timedelta(days=1)


def agency_report(customer_id: str, invoice_id: str, amount: int, fee: int, **overrides: Any) -> dict[str, Any]:
    """An AgencyPaymentReported payload as collections publishes it."""
    data = {
        "report_id": unique("rep_"), "placement_id": unique("plc_"), "debt_id": unique("debt_"),
        "customer_id": customer_id, "invoice_id": invoice_id, **AGENCY, "amount": amount, "fee": fee,
        "currency": "USD", "collected_on": str(COLLECTED_ON), "reference": unique("NWR-"),
        "reported_at": NOW.isoformat(), **overrides,
    }
    schema = published_schema(REPORTED)
    assert set(schema["required"]) <= set(data) <= set(schema["properties"]), "the payload fits the contract"
    return data


async def report(payments: RunningPayments, data: dict[str, Any], event_id: uuid.UUID | None = None) -> EventEnvelope:
    envelope = EventEnvelope(
        id=event_id or uuid.uuid4(), type=REPORTED, source=SOURCE, subject=data["customer_id"], time=NOW,
        schema_version=1, data=data,
    )
    await payments.producer.send_and_wait(
        TOPIC, value=envelope.kafka_value(), key=envelope.kafka_key(), headers=envelope.kafka_headers(),
    )
    return envelope


async def payments_of(payments: RunningPayments, customer_id: str, count: int) -> list[dict[str, Any]]:
    """The customer's payments, once there are ``count``."""

    async def found() -> list[dict[str, Any]]:
        answer = await payments.api.get(f"/v1/customers/{customer_id}/payments")
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        return items if len(items) >= count else []

    return await eventually(found, message=f"{count} payments of {customer_id}")


async def dead_letters_of(payments: RunningPayments, customer_id: str) -> list[dict[str, bytes]]:
    """The headers of what the feeds consumer dead-lettered for the customer so far. A report
    published after a refused one on the customer's partition is applied only once the refused
    one is on the dead-letter topic, so seeing the later one's payment means this is complete."""
    reader = AIOKafkaConsumer(bootstrap_servers=payments.bootstrap, group_id=None, enable_auto_commit=False)
    partitions = await topic_partitions(payments.bootstrap, "payments.feeds.dlq")
    await reader.start()
    try:
        reader.assign(partitions)
        await reader.seek_to_beginning(*partitions)
        return [dict(r.headers) async for r in records_until_end(reader, partitions) if r.key == customer_id.encode()]
    finally:
        await reader.stop()


def usd(balance: dict[str, Any]) -> dict[str, Any]:
    [found] = [b for b in balance["balances"] if b["currency"] == "USD"]
    return found


async def test_an_agency_payment_pays_the_invoice_gross_and_states_the_agencys_fee(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 10000)
    assert usd(await customer_balance(payments, customer))["owed"] == 10000
    data = agency_report(customer, invoice.invoice_id, 4000, 1000)
    await report(payments, data)

    [payment] = await payments_of(payments, customer, 1)
    payment_id = f"pay_agency_{data['report_id']}"
    assert payment["payment_id"] == payment_id
    assert payment["party"] == {"kind": "collection_agency", "name": "Northwind Recovery", "payer_id": None,
                                "agency_id": "agy_northwind"}
    assert (payment["channel"], payment["method"], payment["amount"], payment["fee"], payment["currency"]) == (
        "agency", "other", 4000, 1000, "USD")
    assert (payment["received_on"], payment["reference"]) == (str(COLLECTED_ON), data["reference"])
    assert payment["allocations"] == [{"invoice_id": invoice.invoice_id, "amount": 4000}]
    assert (payment["allocated"], payment["unallocated"]) == (4000, 0)

    balance = usd(await customer_balance(payments, customer))
    assert (balance["owed"], balance["credit"]) == (6000, 0)
    paid = await balance_of(payments, invoice.invoice_id)
    assert (paid["paid"], paid["balance"], paid["standing"]) == (4000, 6000, "partially_paid")

    [received] = await payments.events_of(customer, "PaymentReceived", 1, where=lambda e: e["payment_id"] == payment_id)
    assert (received["amount"], received["fee"], received["channel"], received["recorded_by"]) == (
        4000, 1000, "agency", "agency:agy_northwind")
    assert received["party"]["kind"] == "collection_agency" and received["party"]["agency_id"] == "agy_northwind"
    [allocated] = await payments.events_of(customer, "PaymentAllocated", 1, where=lambda e: e["payment_id"] == payment_id)
    assert allocated["allocations"] == [{"invoice_id": invoice.invoice_id, "invoice_number": invoice.number,
                                         "amount": 4000}]
    assert (allocated["rule"], allocated["unallocated"]) == ("explicit", 0)


async def test_a_report_delivered_twice_records_one_payment(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 5000)
    first = agency_report(customer, invoice.invoice_id, 2000, 400)
    envelope = await report(payments, first)
    await report(payments, first, envelope.id)  # the same event again: the inbox absorbs it
    await report(payments, first)  # the same report as a new event: its payment exists already
    then = agency_report(customer, invoice.invoice_id, 1000, 0)  # after them on the customer's partition
    await report(payments, then)

    found = await payments_of(payments, customer, 2)
    assert sorted(p["payment_id"] for p in found) == sorted(
        f"pay_agency_{d['report_id']}" for d in (first, then))
    assert all(p["version"] == 2 for p in found), "each received and allocated once"
    assert await dead_letters_of(payments, customer) == [], "a report taken before is no poison"
    paid = await balance_of(payments, invoice.invoice_id)
    assert (paid["paid"], paid["balance"]) == (3000, 2000)


async def test_more_than_the_invoice_asks_leaves_credit(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 3000)
    data = agency_report(customer, invoice.invoice_id, 5000, 750)
    await report(payments, data)

    [payment] = await payments_of(payments, customer, 1)
    assert payment["allocations"] == [{"invoice_id": invoice.invoice_id, "amount": 3000}]
    assert (payment["amount"], payment["fee"], payment["unallocated"]) == (5000, 750, 2000)
    assert (await balance_of(payments, invoice.invoice_id))["standing"] == "paid"
    balance = usd(await customer_balance(payments, customer))
    assert (balance["owed"], balance["credit"], balance["net"]) == (0, 2000, -2000)
    [allocated] = await payments.events_of(
        customer, "PaymentAllocated", 1, where=lambda e: e["payment_id"] == payment["payment_id"])
    assert (allocated["allocations"][0]["amount"], allocated["unallocated"]) == (3000, 2000)


async def test_a_payment_for_an_invoice_no_longer_open_is_credit(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 2500)
    await pay(payments, customer_payment(customer, 2500))  # the customer paid us directly meanwhile
    await report(payments, agency_report(customer, invoice.invoice_id, 2500, 500))

    agency = [p for p in await payments_of(payments, customer, 2) if p["party"]["kind"] == "collection_agency"]
    assert [(p["allocations"], p["unallocated"]) for p in agency] == [([], 2500)]
    assert usd(await customer_balance(payments, customer))["credit"] == 2500


async def test_a_payment_for_an_unknown_customer_and_invoice_is_their_credit(payments: RunningPayments) -> None:
    customer = unique("cus_")
    await report(payments, agency_report(customer, unique("inv_"), 1800, 200, currency="EUR"))

    [payment] = await payments_of(payments, customer, 1)
    assert (payment["allocations"], payment["currency"], payment["unallocated"]) == ([], "EUR", 1800)
    assert [(b["currency"], b["credit"]) for b in (await customer_balance(payments, customer))["balances"]] == [
        ("EUR", 1800)]


async def test_a_report_payments_refuses_is_dead_lettered_and_the_consumer_goes_on(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 4000)
    refused = agency_report(customer, invoice.invoice_id, 1000, 1000)  # the agency kept it all
    await report(payments, refused)
    await report(payments, agency_report(customer, invoice.invoice_id, 1000, 100))

    [payment] = await payments_of(payments, customer, 1)
    assert payment["payment_id"] != f"pay_agency_{refused['report_id']}"
    [dead] = await dead_letters_of(payments, customer)
    assert dead["dlq_original_topic"] == TOPIC.encode() and b"fee" in dead["dlq_reason"]


async def test_rebuilding_the_invoices_takes_no_agency_payment_again(payments: RunningPayments) -> None:
    """The feeds rebuild replaces the consumer group's inbox with invoicing's events only; a
    report delivered again afterwards still finds its payment."""
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 8000)
    data = agency_report(customer, invoice.invoice_id, 3000, 600)
    envelope = await report(payments, data)
    [payment] = await payments_of(payments, customer, 1)
    await store_settled(payments)
    events = await payments.pool.fetchval("SELECT count(*) FROM events")

    assert await rebuild("feeds", payments.app.state.settings) > 0
    assert await payments.pool.fetchval("SELECT count(*) FROM events") == events
    assert (await balance_of(payments, invoice.invoice_id))["paid"] == 3000

    await report(payments, data, envelope.id)
    await report(payments, agency_report(customer, invoice.invoice_id, 500, 0))
    found = await payments_of(payments, customer, 2)
    assert [p["version"] for p in found if p["payment_id"] == payment["payment_id"]] == [2]
    assert (await balance_of(payments, invoice.invoice_id))["paid"] == 3500
