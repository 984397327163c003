"""Billing an encounter to the right parties, through the HTTP API and Kafka: the insurer gets an
invoice and a pyx12-valid 837P, the customer an invoice for what the coverage leaves them (sent by
e-mail with its PDF), and a payer's denial moves the remainder to a new customer invoice."""

from __future__ import annotations

import io

from pypdf import PdfReader

from services.invoicing.adapters.claim_validation import validate_837p
from services.invoicing.adapters.x12_837 import read_claim_summary
from tests.integration.invoicing.conftest import (
    RunningInvoicing,
    bill,
    charge,
    cost_share,
    customer_with_coverage,
    invoice,
    invoices_of,
    record_charges,
    unique,
)
from tests.polling import eventually


async def test_an_encounter_is_billed_to_the_insurer_and_the_copay_to_the_customer(invoicing: RunningInvoicing) -> None:
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)])
    await record_charges(
        invoicing,
        charge(customer.customer_id, "99213", unit_price=15000),
        charge(customer.customer_id, "87880", unit_price=4000),
    )

    billed = await bill(invoicing, customer.customer_id)

    assert billed["waiting"] is None and billed["held"] == []
    invoices = {i["party_kind"]: i for i in await invoices_of(invoicing, customer.customer_id)}
    insurer, own = invoices["payer"], invoices["customer"]
    assert insurer["total"] == 19000 - 2500 and own["total"] == 2500
    assert insurer["number"].startswith("PAY-2026-") and own["number"].startswith("INV-2026-")
    claim = await invoicing.api.get(f"/v1/invoices/{insurer['invoice_id']}/claim")
    assert claim.status_code == 200
    assert validate_837p(claim.text) == []
    summary = read_claim_summary(claim.text)
    assert summary.claim_reference == insurer["number"] and summary.total_charge == 19000


async def test_the_customer_invoice_is_emailed_as_a_pdf(invoicing: RunningInvoicing) -> None:
    address = f"{unique('ada')}@example.com"
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)], email_address=address)
    await record_charges(invoicing, charge(customer.customer_id, "99213", unit_price=15000))
    await bill(invoicing, customer.customer_id)
    [own] = [i for i in await invoices_of(invoicing, customer.customer_id) if i["party_kind"] == "customer"]

    [message] = await eventually(lambda: invoicing.mailbox.messages_to(address), timeout=20,
                                 message="the invoice e-mail arrived")

    [attachment] = list(message.iter_attachments())
    pdf = PdfReader(io.BytesIO(attachment.get_content()))
    text = "".join(page.extract_text() for page in pdf.pages)
    assert own["number"] in text and "25.00" in text and "Ada Lovelace" in text
    sent = await eventually(
        lambda: _delivered(invoicing, own["invoice_id"]), timeout=20, message="InvoiceSent recorded"
    )
    assert sent["channel"] == "email" and sent["recipient"] == address


async def _delivered(invoicing: RunningInvoicing, invoice_id: str) -> dict | None:
    deliveries = (await invoice(invoicing, invoice_id))["deliveries"]
    return deliveries[0] if deliveries else None


async def test_a_partial_denial_moves_the_remainder_to_a_new_customer_invoice(invoicing: RunningInvoicing) -> None:
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)])
    office, strep = await record_charges(
        invoicing,
        charge(customer.customer_id, "99213", unit_price=15000),
        charge(customer.customer_id, "87880", unit_price=4000),
    )
    await bill(invoicing, customer.customer_id)
    [insurer] = [i for i in await invoices_of(invoicing, customer.customer_id) if i["party_kind"] == "payer"]
    office_id, strep_id = office["charge"]["charge_id"], strep["charge"]["charge_id"]

    # payments' ClaimDenied for the strep test (patient responsibility, non-covered), the visit paid
    await invoicing.publish("payments.events", "ClaimDenied", customer.customer_id, {
        "remittance_id": unique("rem_"), "claim_reference": insurer["number"], "payer_claim_number": "PCN-1",
        "payer_id": customer.payer_id, "customer_id": customer.customer_id, "claim_status": "1",
        "currency": "USD", "charge": 19000, "paid": 10000, "patient_responsibility": 4000,
        "claim_adjustments": [],
        "lines": [
            {"line_reference": office_id, "procedure_code": "HC:99213", "charge": 15000, "paid": 10000,
             "allowed": 12500, "adjustments": [{"group": "CO", "reason_code": "45", "amount": 2500},
                                               {"group": "PR", "reason_code": "3", "amount": 2500}],
             "remark_codes": []},
            {"line_reference": strep_id, "procedure_code": "HC:87880", "charge": 4000, "paid": 0,
             "allowed": None, "adjustments": [{"group": "PR", "reason_code": "96", "amount": 4000}],
             "remark_codes": ["N130"]},
        ],
        "payment_date": "2026-03-20", "posted_at": "2026-03-20T10:00:00+00:00",
        "denied_line_references": [strep_id],
    })

    async def transferred() -> dict | None:
        found = [i for i in await invoices_of(invoicing, customer.customer_id) if i["transferred_from"]]
        return found[0] if found else None

    remainder = await eventually(transferred, timeout=20, message="the remainder was billed")
    assert remainder["party_kind"] == "customer" and remainder["total"] == 4000
    assert remainder["transferred_from"] == insurer["invoice_id"]
    original = await invoice(invoicing, insurer["invoice_id"])
    [applied] = original["remittances"]
    assert applied["paid"] == 10000 and applied["written_off"] == 2500 and applied["transferred"] == 4000
    assert original["open_amount"] == 0
