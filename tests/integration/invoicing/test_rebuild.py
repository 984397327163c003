"""An operator rebuilds invoicing's read models from the log and gets what the live service
built, without billing, delivering or moving any remittance on again."""

from __future__ import annotations

from typing import Any

from services.invoicing.rebuild import MODELS, rebuild
from tests.integration.invoicing.conftest import (
    RunningInvoicing,
    bill,
    charge,
    cost_share,
    customer_with_coverage,
    invoices_of,
    record_charges,
)
from tests.polling import eventually

SNAPSHOTS = {
    "invoices": """SELECT to_jsonb(i) FROM invoices i WHERE customer_id = ANY($1)
                   UNION ALL SELECT to_jsonb(s) FROM statements s WHERE customer_id = ANY($1)
                   UNION ALL
                   SELECT jsonb_build_object('kind', document_kind, 'id', document_id, 'status', status)
                   FROM deliveries WHERE customer_id = ANY($1) ORDER BY 1""",
    "charges": "SELECT to_jsonb(c) FROM charges c WHERE customer_id = ANY($1) ORDER BY charge_id",
    "crosswalks": "SELECT to_jsonb(c) FROM crosswalks c ORDER BY payer_id, version",
    "feeds": """SELECT to_jsonb(c) FROM customers c WHERE customer_id = ANY($1)
                UNION ALL SELECT to_jsonb(v) FROM coverages v WHERE customer_id = ANY($1)
                UNION ALL SELECT to_jsonb(v) FROM verifications v WHERE customer_id = ANY($1) ORDER BY 1""",
}


async def snapshot(invoicing: RunningInvoicing, model: str, customers: list[str]) -> list[Any]:
    query = SNAPSHOTS[model]
    arguments = [customers] if "$1" in query else []
    return [tuple(row) for row in await invoicing.pool.fetch(query, *arguments)]


async def test_every_read_model_rebuilt_from_the_log_equals_the_live_one(invoicing: RunningInvoicing) -> None:
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)])
    await record_charges(invoicing, charge(customer.customer_id, "99213", unit_price=15000),
                         charge(customer.customer_id, "87880", unit_price=4000))
    await bill(invoicing, customer.customer_id)
    own = next(i for i in await invoices_of(invoicing, customer.customer_id) if i["party_kind"] == "customer")
    await eventually(lambda: invoicing.pool.fetchval(
        "SELECT status = 'sent' FROM deliveries WHERE document_id = $1", own["invoice_id"]),
        timeout=20, message="the customer invoice was delivered")
    statement = await invoicing.api.post("/v1/statement-runs", json={"customer_id": customer.customer_id})
    assert statement.status_code == 200
    [statement_id] = statement.json()["statement_ids"]
    await eventually(lambda: invoicing.pool.fetchval(
        "SELECT status = 'sent' FROM deliveries WHERE document_id = $1", statement_id),
        timeout=20, message="the statement was delivered")  # nothing in flight while comparing
    published = await invoicing.api.post(f"/v1/payers/{customer.payer_id}/crosswalk-versions", json={
        "effective_from": "2026-01-01", "entries": [
            {"system": "CPT", "code": "99213", "payer_system": "HCPCS", "payer_code": "G0463", "modifiers": []}],
    })
    assert published.status_code == 201, published.text
    mails_before = len(invoicing.mailbox.envelopes)
    customers = [customer.customer_id]

    for model in MODELS:
        live = await snapshot(invoicing, model, customers)
        assert live, f"{model} has rows to compare"
        await rebuild(model, invoicing.app.state.settings)
        assert await snapshot(invoicing, model, customers) == live, model

    assert await invoicing.app.state.billing.billing_run(invoicing.pool, customer_id=customer.customer_id) == []
    assert len(invoicing.mailbox.envelopes) == mails_before
