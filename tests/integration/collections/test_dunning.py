"""Dunning through Kafka and HTTP: a customer invoice that payments reports missed becomes a debt;
dunning runs on the injected clock send the policy's notices in order, each after the one before
has had its deadline, deliver them, and stop when the debt is paid."""

from __future__ import annotations

from datetime import timedelta

from services.payments.domain import events as payments
from tests.integration.collections.conftest import NOW, RunningCollections, unique
from tests.polling import eventually


async def test_a_missed_invoice_opens_a_debt_with_its_itemization(collections: RunningCollections) -> None:
    debt_id, issued = await collections.debt_in_arrears(12_500)
    debt = await collections.debt(debt_id)
    assert debt["status"] == "dunning"
    assert debt["invoice_number"] == issued.number
    assert debt["itemization"] == {
        "itemization_date": NOW.date().isoformat(), "currency": "USD", "original_amount": 12_500, "payments": 0,
        "adjustments": 0, "balance": 12_500,
    }
    assert debt["days_past_due"] == 1


async def test_notices_follow_the_policy_in_order_and_paying_in_full_ends_dunning(
    collections: RunningCollections,
) -> None:
    collections.clock.set(NOW)
    debt_id, issued = await collections.debt_in_arrears(12_500)

    await collections.run()  # one day past due: the reminder, by e-mail
    debt = await collections.debt(debt_id)
    assert [n["step"] for n in debt["notices"]] == ["reminder"]
    assert debt["notices"][0]["channel"] == "email"

    async def reminder_mailed() -> bool:
        return (await collections.debt(debt_id))["notices"][0]["status"] == "sent"

    await eventually(reminder_mailed, timeout=10, message="the reminder was mailed")
    mailed = [m for m in collections.mail.sent if debt["notices"][0]["recipient"] in m.to]
    assert len(mailed) == 1 and "125.00" in mailed[0].text

    await collections.run()  # nothing new is due the same day
    assert [n["step"] for n in (await collections.debt(debt_id))["notices"]] == ["reminder"]

    await collections.run(NOW + timedelta(days=14))  # 15 days past due, but the reminder's deadline is today
    assert [n["step"] for n in (await collections.debt(debt_id))["notices"]] == ["reminder"]
    await collections.run(NOW + timedelta(days=15))
    debt = await collections.debt(debt_id)
    assert [n["step"] for n in debt["notices"]] == ["reminder", "first_demand"]
    assert debt["notices"][1]["channel"] == "letter"

    await collections.pay(issued, 12_500)
    debt = await collections.debt(debt_id)
    assert debt["status"] == "settled"
    await collections.run(NOW + timedelta(days=40))
    assert [n["step"] for n in (await collections.debt(debt_id))["notices"]] == ["reminder", "first_demand"]
    assert (await collections.history(debt_id))[-1] in ("DebtSettled", "NoticeSent")


async def test_a_missed_payment_heard_before_its_invoice_opens_the_debt_when_the_invoice_arrives(
    collections: RunningCollections,
) -> None:
    collections.clock.set(NOW)
    customer_id = await collections.register()
    invoice_id = unique("inv_")
    due = NOW.date() - timedelta(days=1)
    await collections.from_payments(payments.PaymentMissed(
        customer_id=customer_id, item=payments.DueItem.INVOICE, invoice_id=invoice_id, invoice_number="INV-EARLY",
        billed_party="customer", due_date=due, amount=7_700, currency="USD", days_overdue=1, as_of=NOW.date(),
        detected_at=NOW,
    ), customer_id)

    async def waiting() -> bool:
        return bool(await collections.pool.fetchval(
            "SELECT 1 FROM missed_awaiting_invoice WHERE invoice_id = $1", invoice_id,
        ))

    await eventually(waiting, timeout=20, message="the missed payment waits for its invoice")
    issued = await collections.invoice(customer_id, 7_700, due_date=due)
    assert issued.invoice_id != invoice_id  # the harness numbers its own; publish the one payments missed
    early = issued.model_copy(update={"invoice_id": invoice_id, "number": "INV-EARLY"})
    await collections.from_invoicing(early, customer_id)

    async def opened() -> bool:
        return bool(await collections.pool.fetchval("SELECT 1 FROM debts WHERE debt_id = $1", invoice_id))

    await eventually(opened, timeout=20, message="the debt opened when its invoice arrived")
    debt = await collections.debt(invoice_id)
    assert debt["invoice_number"] == "INV-EARLY" and debt["itemization"]["balance"] == 7_700


async def test_a_debt_that_cannot_be_reviewed_does_not_stop_the_run(collections: RunningCollections) -> None:
    collections.clock.set(NOW)
    broken_id, _ = await collections.debt_in_arrears(time_zone="Mars/Olympus_Mons")  # no such time zone
    fine_id, _ = await collections.debt_in_arrears()
    run = await collections.run()
    assert run["failed"] >= 1
    assert [n["step"] for n in (await collections.debt(fine_id))["notices"]] == ["reminder"]
    assert (await collections.debt(broken_id))["notices"] == []
