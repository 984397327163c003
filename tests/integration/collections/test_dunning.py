"""Dunning through Kafka and HTTP: a customer invoice that payments reports missed becomes a debt;
dunning runs on the injected clock send the policy's notices in order, each after the one before
has had its deadline, deliver them, and stop when the debt is paid."""

from __future__ import annotations

from datetime import timedelta

from tests.integration.collections.conftest import NOW, RunningCollections
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
