"""Claims to insurers go to their clearinghouse over HTTP (the simulator, its own 999 writer) and
its acknowledgment decides: accepted is InvoiceSent on the x12 channel, rejected is
InvoiceDeliveryFailed naming what the clearinghouse found wrong, unreachable is tried again."""

from __future__ import annotations

from typing import Any

import httpx

from services.invoicing.adapters.claim_submission import ClearinghouseRefused, read_999
from simulators.clearinghouse.background import running_clearinghouse
from tests.integration.invoicing.conftest import (
    RunningInvoicing,
    bill,
    charge,
    cost_share,
    customer_with_coverage,
    invoice,
    invoices_of,
    payer_registered,
    record_charges,
    unique,
)
from tests.polling import eventually

MEMBER = "W123456789"  # the member id customer_with_coverage registers


def electronic_payer(claims_endpoint: str) -> dict[str, Any]:
    payer = payer_registered(unique("acme-"))
    payer["profile"]["connection"]["claims_endpoint"] = claims_endpoint
    return payer


async def insurer_invoice_delivered(invoicing: RunningInvoicing, customer_id: str) -> dict[str, Any]:
    [insurer] = [i for i in await invoices_of(invoicing, customer_id) if i["party_kind"] == "payer"]

    async def delivered() -> dict[str, Any] | None:
        found = await invoice(invoicing, insurer["invoice_id"])
        return found if found["deliveries"] else None

    return await eventually(delivered, timeout=20, message="the claim's submission was recorded")


async def test_a_claim_the_clearinghouse_acknowledges_is_sent(invoicing: RunningInvoicing) -> None:
    async with running_clearinghouse({MEMBER: {"member_id": MEMBER, "given": "Ada", "family": "Lovelace", "plan_name": "Gold PPO"}}) as url:
        customer = await customer_with_coverage(
            invoicing, [cost_share(copay=2500)], payer=electronic_payer(f"{url}/x12/837")
        )
        await record_charges(invoicing, charge(customer.customer_id, unit_price=15000))
        await bill(invoicing, customer.customer_id)

        sent = await insurer_invoice_delivered(invoicing, customer.customer_id)

        [delivery] = sent["deliveries"]
        assert (delivery["channel"], delivery["recipient"]) == ("x12", f"{url}/x12/837")
        assert delivery["reference"].startswith("999 ") and "sent_at" in delivery
        async with httpx.AsyncClient(base_url=url) as clearinghouse:
            assert sent["number"] in (await clearinghouse.get("/claims")).json()


async def test_a_claim_the_clearinghouse_rejects_fails_with_its_reasons(invoicing: RunningInvoicing) -> None:
    async with running_clearinghouse({}) as url:  # it knows no member
        customer = await customer_with_coverage(
            invoicing, [cost_share(copay=2500)], payer=electronic_payer(f"{url}/x12/837")
        )
        await record_charges(invoicing, charge(customer.customer_id, unit_price=15000))
        await bill(invoicing, customer.customer_id)

        failed = await insurer_invoice_delivered(invoicing, customer.customer_id)

    [delivery] = failed["deliveries"]
    assert (delivery["channel"], delivery["bounced"]) == ("x12", False)
    assert "NM1 at segment" in delivery["reason"] and "2010BA" in delivery["reason"] and MEMBER in delivery["reason"]
    assert failed["open_amount"] == failed["total"]  # still owed: staff correct and resubmit


async def test_an_unreachable_clearinghouse_is_tried_again_then_the_claim_fails(invoicing: RunningInvoicing) -> None:
    customer = await customer_with_coverage(
        invoicing, [cost_share(copay=2500)], payer=electronic_payer("http://127.0.0.1:9/x12/837")
    )
    await record_charges(invoicing, charge(customer.customer_id, unit_price=15000))
    await bill(invoicing, customer.customer_id)

    failed = await insurer_invoice_delivered(invoicing, customer.customer_id)

    [delivery] = failed["deliveries"]
    assert delivery["channel"] == "x12" and "cannot connect" in delivery["reason"]
    attempts = await invoicing.pool.fetchval(
        "SELECT attempts FROM deliveries WHERE document_kind = 'claim' AND document_id = $1", failed["invoice_id"]
    )
    assert attempts == invoicing.app.state.settings.delivery_max_attempts


def test_an_answer_that_is_not_a_999_is_refused() -> None:
    try:
        read_999("ISA*00*...")
    except ClearinghouseRefused as refused:
        assert "not valid X12" in str(refused)
    else:
        raise AssertionError("a broken acknowledgment was read")
