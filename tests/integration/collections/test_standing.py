"""The standing read model from invoicing's and payments' events: balances per invoice and per
customer with days past due and aging buckets; a payment plan in good standing pauses dunning and
a defaulted one resumes it; and an upstream event that breaks its contract is dead-lettered while
the consumer goes on."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from aiokafka import AIOKafkaConsumer

from services.invoicing.domain import events as invoicing
from services.payments.domain import events as payments
from shared.envelope import EventEnvelope
from tests.integration.collections.conftest import NOW, RunningCollections
from tests.polling import eventually


async def test_a_customers_invoices_age_into_buckets_by_days_past_due(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    customer_id = await collections.register()
    today = NOW.date()
    for days_past_due, total in ((-3, 1_000), (0, 2_000), (1, 3_000), (31, 4_000), (61, 5_000), (95, 6_000),
                                 (121, 7_000)):
        await collections.invoice(customer_id, total, issue_date=today - timedelta(days=days_past_due + 30),
                                  due_date=today - timedelta(days=days_past_due))
    paid = await collections.invoice(customer_id, 8_000, due_date=today - timedelta(days=10))
    await collections.pay(paid, 8_000)
    partly = await collections.invoice(customer_id, 9_000, due_date=today - timedelta(days=45))
    await collections.pay(partly, 2_500)

    answer = await collections.api.get(f"/v1/customers/{customer_id}/standing")
    assert answer.status_code == 200, answer.text
    standing = answer.json()
    assert paid.invoice_id not in [i["invoice_id"] for i in standing["invoices"]]
    partial = next(i for i in standing["invoices"] if i["invoice_id"] == partly.invoice_id)
    assert (partial["payments"], partial["balance"], partial["days_past_due"], partial["bucket"]) == (
        2_500, 6_500, 45, "31-60",
    )
    [usd] = standing["aging"]
    assert usd["buckets"] == {
        "current": 3_000, "1-30": 3_000, "31-60": 4_000 + 6_500, "61-90": 5_000, "91-120": 6_000, "120+": 7_000,
    }
    assert usd["total"] == sum(usd["buckets"].values())

    a_month_on = await collections.api.get(
        f"/v1/customers/{customer_id}/standing", params={"as_of": (today + timedelta(days=30)).isoformat()},
    )
    assert a_month_on.json()["aging"][0]["buckets"]["current"] == 0

    overall = (await collections.api.get("/v1/standing")).json()
    usd_total = next(a for a in overall["aging"] if a["currency"] == "USD")
    assert usd_total["buckets"]["120+"] >= 7_000 and overall["customers"] >= 1


async def test_a_plan_in_good_standing_pauses_dunning_and_a_default_resumes_it(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    debt_id, issued = await collections.debt_in_arrears(30_000)
    plan_id = f"plan_{uuid.uuid4().hex[:10]}"
    await collections.from_payments(payments.PaymentPlanAgreed(
        plan_id=plan_id, customer_id=issued.customer_id, invoice_ids=[issued.invoice_id], currency="USD",
        total=30_000, down_payment=10_000, frequency=payments.Frequency.MONTHLY,
        instalments=[payments.Instalment(sequence=i, due_date=NOW.date() + timedelta(days=30 * i), amount=10_000)
                     for i in range(3)],
        minimum_instalment=2_500, default_after_missed=1, grace_days=0, agreed_by="desk", agreed_at=NOW,
    ), issued.customer_id)

    async def paused() -> bool:
        return (await collections.debt(debt_id))["paused_by_plan"]

    await eventually(paused, timeout=20, message="the plan paused dunning")
    await collections.run()
    assert (await collections.debt(debt_id))["notices"] == []

    await collections.from_payments(payments.PaymentPlanDefaulted(
        plan_id=plan_id, customer_id=issued.customer_id, missed_instalments=[0], outstanding=30_000, currency="USD",
        defaulted_at=NOW,
    ), issued.customer_id)

    async def resumed() -> bool:
        return not (await collections.debt(debt_id))["paused_by_plan"]

    await eventually(resumed, timeout=20, message="the default resumed dunning")
    await collections.run()
    assert [n["step"] for n in (await collections.debt(debt_id))["notices"]] == ["reminder"]


async def test_an_event_breaking_its_contract_is_dead_lettered_and_the_feed_goes_on(
    collections: RunningCollections,
) -> None:
    customer_id = await collections.register()
    broken = invoicing.InvoiceVoided(
        invoice_id="inv_x", number="INV-X", customer_id=customer_id, reason="dup", voided_by="desk", voided_at=NOW,
    )
    envelope_data = broken.to_data()
    del envelope_data["invoice_id"]  # what collections needs to read it
    envelope = EventEnvelope.wrap(broken, source=invoicing.SOURCE, subject=customer_id, time=NOW)
    await collections.producer.send_and_wait(
        invoicing.TOPIC, value=json.dumps(envelope_data).encode(), key=envelope.kafka_key(),
        headers=envelope.kafka_headers(),
    )
    after = await collections.invoice(customer_id, 1_500)  # the consumer carried on
    assert after.customer_id == customer_id

    reader = AIOKafkaConsumer(
        "collections.feeds.dlq", bootstrap_servers=collections.bootstrap, group_id=None,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await reader.start()
    try:
        found: list[dict[str, bytes]] = []

        async def dead_lettered() -> bool:
            for records in (await reader.getmany(timeout_ms=300)).values():
                for record in records:
                    headers = dict(record.headers)
                    if headers.get("ce_id") == str(envelope.id).encode():
                        found.append(headers)
            return bool(found)

        await eventually(dead_lettered, timeout=20, message="the broken event reached collections.feeds.dlq")
    finally:
        await reader.stop()
    assert b"invoice_id" in found[0]["dlq_reason"]
