"""What payments learns from invoicing's events on Kafka: what each invoice asks after
write-offs, transfers and voids, and what becomes of payments already made; a malformed event is
dead-lettered with its reason and the consumer goes on."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer

from services.invoicing.domain import events as invoicing
from shared.envelope import EventEnvelope
from tests.integration.payments.conftest import (
    NOW,
    RunningPayments,
    balance_of,
    customer_payment,
    invoice_issued,
    pay,
    unique,
)
from tests.polling import eventually


async def test_a_remittance_write_off_and_transfer_settle_what_the_payer_did_not_pay(payments: RunningPayments) -> None:
    customer = unique("cus_")
    claim = await payments.issue_invoice(customer, 10000, payer_id="acme-health")
    await pay(payments, customer_payment(
        customer, 6000, method="cheque", party={"kind": "insurer", "name": "Acme Health", "payer_id": "acme-health"}))
    await payments.publish(invoicing.RemittanceApplied(
        invoice_id=claim.invoice_id, customer_id=customer, remittance_id=unique("rem_"), claim_reference=claim.number,
        denied=False, lines=[invoicing.RemittedLineOutcome(
            line_id=claim.lines[0].line_id, expected=10000, paid=6000, written_off=1000, transferred=3000,
            reasons=["CO-45", "PR-2"])],
        paid=6000, written_off=1000, transferred=3000, transferred_to=unique("inv_"), applied_at=NOW,
    ), customer)

    async def settled() -> dict | None:  # type: ignore[type-arg]
        balance = await balance_of(payments, claim.invoice_id)
        return balance if balance["owed"] == 6000 else None

    balance = await eventually(settled, message="the write-off and transfer reached payments")
    assert (balance["written_off"], balance["transferred"], balance["balance"], balance["standing"]) == (
        1000, 3000, 0, "paid")


async def test_a_void_after_payment_gives_the_money_back_as_credit(payments: RunningPayments) -> None:
    customer = unique("cus_")
    invoice = await payments.issue_invoice(customer, 2200)
    payment = await pay(payments, customer_payment(customer, 2200))
    await payments.publish(invoicing.InvoiceVoided(
        invoice_id=invoice.invoice_id, number=invoice.number, customer_id=customer, reason="billed twice",
        voided_by="billing", voided_at=NOW,
    ), customer)

    async def credited() -> dict | None:  # type: ignore[type-arg]
        answer = (await payments.api.get(f"/v1/payments/{payment['payment_id']}")).json()
        return answer if answer["unallocated"] == 2200 else None

    await eventually(credited, message="the void released the allocation")
    voided = await balance_of(payments, invoice.invoice_id)
    assert (voided["standing"], voided["paid"], voided["balance"]) == ("voided", 0, 0)


async def test_a_malformed_event_is_dead_lettered_and_the_consumer_goes_on(payments: RunningPayments) -> None:
    customer = unique("cus_")
    good = invoice_issued(customer, 1234)
    broken = {k: v for k, v in good.to_data().items() if k != "total"}
    envelope = EventEnvelope(
        id=uuid.uuid4(), type=invoicing.InvoiceIssued.event_type, source=invoicing.SOURCE, subject=customer,
        time=NOW, schema_version=1, data=broken,
    )
    await payments.producer.send_and_wait(invoicing.TOPIC, value=envelope.kafka_value(), key=envelope.kafka_key(),
                                          headers=envelope.kafka_headers())
    await payments.issue_invoice(customer, 4321)  # published after the broken one, still applied

    reader = AIOKafkaConsumer("payments.feeds.dlq", bootstrap_servers=payments.bootstrap, group_id=None,
                              auto_offset_reset="earliest", enable_auto_commit=False)
    await reader.start()
    try:
        found: list[dict[str, bytes]] = []

        async def dead_letter() -> bool:
            for records in (await reader.getmany(timeout_ms=300)).values():
                found.extend(dict(r.headers) for r in records if r.key == customer.encode())
            return bool(found)

        await eventually(dead_letter, message="the broken event on payments.feeds.dlq")
    finally:
        await reader.stop()
    assert b"total" in found[0]["dlq_reason"] and found[0]["dlq_original_topic"] == b"invoicing.events"
    assert await payments.pool.fetchval("SELECT count(*) FROM invoices WHERE customer_id = $1", customer) == 1
