"""Customer statements through the HTTP API: a statement run issues one statement of open items
per customer owing something on the date (none for a customer who owes nothing, none twice for
the same date, however many runs race), its PDF shows the number, the open invoices and the
total, it is e-mailed and recorded as sent, and a credit note that clears an invoice, or a payment
payments allocated to it, takes it off the next statement. Invoices are issued on 2 March 2026 (the app's fixed clock)."""

from __future__ import annotations

import asyncio
import io
from email.message import EmailMessage
from typing import Any

from pypdf import PdfReader

from services.payments.domain.events import (
    Allocation,
    PaymentAllocated,
    PaymentInstructionsPublished,
    PaymentOption,
    PaymentReversed,
)
from tests.integration.invoicing.conftest import (
    NOW,
    Customer,
    RunningInvoicing,
    charge,
    cost_share,
    customer_with_coverage,
    invoices_of,
    record_charges,
    unique,
)
from tests.polling import eventually

COPAY = 2500


async def billed_customer(
    invoicing: RunningInvoicing, prices: list[int], cost_shares: list[dict[str, Any]],
) -> tuple[Customer, str, list[dict[str, Any]]]:
    """A customer billed for one encounter per price: the customer, their e-mail address and
    their own invoices in the order they were numbered (not necessarily the order of prices)."""
    address = f"{unique('stmt')}@example.com"
    customer = await customer_with_coverage(invoicing, cost_shares, email_address=address)
    for price in prices:
        await record_charges(
            invoicing, charge(customer.customer_id, unit_price=price, encounter=unique("enc-"))
        )
    await bill_everything_of(invoicing, customer)
    own = [i for i in await invoices_of(invoicing, customer.customer_id)
           if i["party_kind"] == "customer"]
    assert len(own) == len(prices)
    return customer, address, sorted(own, key=lambda i: i["number"])


async def bill_everything_of(invoicing: RunningInvoicing, customer: Customer) -> None:
    billed = await invoicing.api.post(
        "/v1/billing-runs", json={"customer_id": customer.customer_id}
    )
    assert billed.status_code == 200, billed.text
    assert all(o["waiting"] is None for o in billed.json()["encounters"]), billed.text


async def only_line_of(invoicing: RunningInvoicing, invoice_id: str) -> str:
    answer = await invoicing.api.get(f"/v1/invoices/{invoice_id}")
    assert answer.status_code == 200, answer.text
    [line] = answer.json()["lines"]
    return str(line["line_id"])


async def credit(
    invoicing: RunningInvoicing, invoice_id: str, lines: dict[str, int] | None = None
) -> None:
    answer = await invoicing.api.post(
        f"/v1/invoices/{invoice_id}/credit-notes", json={"reason": "goodwill", "lines": lines}
    )
    assert answer.status_code == 201, answer.text


async def statement_run(
    invoicing: RunningInvoicing, statement_date: str, customer: Customer | None = None
) -> list[dict[str, Any]]:
    """The statements a run issued (of everyone, or of one customer), as GET shows them."""
    answer = await invoicing.api.post("/v1/statement-runs", json={
        "statement_date": statement_date, "customer_id": customer and customer.customer_id,
    })
    assert answer.status_code == 200, answer.text
    return [await statement(invoicing, i) for i in answer.json()["statement_ids"]]


async def statement(invoicing: RunningInvoicing, statement_id: str) -> dict[str, Any]:
    answer = await invoicing.api.get(f"/v1/statements/{statement_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def of(customer: Customer, statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        s["statement"] for s in statements if s["statement"]["customer_id"] == customer.customer_id
    ]


async def last_statement_number(invoicing: RunningInvoicing) -> int:
    return int(await invoicing.pool.fetchval(
        "SELECT coalesce(max(last_number), 0) FROM invoice_series WHERE series = 'ST-2026'"
    ))


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def test_a_statement_run_issues_one_statement_of_open_items_per_customer_and_date(
    invoicing: RunningInvoicing,
) -> None:
    # 20% coinsurance: the customer owes 30.00 of a 150.00 visit and 8.00 of a 40.00 test
    owing, _, own = await billed_customer(
        invoicing, [15000, 4000], [cost_share(coinsurance_bp=2000)]
    )
    [visit] = [i for i in own if i["total"] == 3000]
    visit_line = await only_line_of(invoicing, visit["invoice_id"])
    await credit(invoicing, visit["invoice_id"], {visit_line: 500})
    settled, _, [settled_invoice] = await billed_customer(
        invoicing, [15000], [cost_share(copay=COPAY)]
    )
    await credit(invoicing, settled_invoice["invoice_id"])

    too_early = await statement_run(invoicing, "2026-03-01", owing)
    first_run = await statement_run(invoicing, "2026-03-31")
    second_run = await statement_run(invoicing, "2026-03-31")

    assert too_early == [], "no statement lists invoices issued after its date"
    [issued] = of(owing, first_run)
    assert of(settled, first_run) == [], "a customer who owes nothing gets no statement"
    assert second_run == [], "a second run for the same date issues no statement"
    assert issued["number"].startswith("ST-2026-") and issued["statement_date"] == "2026-03-31"
    assert [(i["invoice_id"], i["number"], i["total"], i["open"]) for i in issued["items"]] == [
        (i["invoice_id"], i["number"], i["total"], 2500 if i is visit else i["total"]) for i in own
    ]
    assert all(i["due_date"] == "2026-04-01" for i in issued["items"])
    assert issued["total_open"] == 2500 + 800 and issued["currency"] == "USD"
    assert await invoicing.pool.fetchval(
        "SELECT count(*) FROM statements WHERE customer_id = $1", owing.customer_id
    ) == 1


async def test_the_statement_pdf_shows_its_number_the_open_invoices_and_the_total(
    invoicing: RunningInvoicing,
) -> None:
    customer, _, (first, second) = await billed_customer(
        invoicing, [15000, 4000], [cost_share(copay=COPAY)]
    )

    [issued] = of(customer, await statement_run(invoicing, "2026-04-30", customer))

    pdf = await invoicing.api.get(f"/v1/statements/{issued['statement_id']}/pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert issued["number"] in text and "Ada Lovelace" in text
    assert first["number"] in text and second["number"] in text
    assert "50.00" in text


async def test_the_statement_is_emailed_as_a_pdf_and_recorded_as_sent(
    invoicing: RunningInvoicing,
) -> None:
    customer, address, [own] = await billed_customer(invoicing, [15000], [cost_share(copay=COPAY)])

    [issued] = of(customer, await statement_run(invoicing, "2026-05-31", customer))

    async def statement_mail() -> list[EmailMessage]:
        received = await invoicing.mailbox.messages_to(address)
        return [m for m in received if str(m["Subject"]).startswith("Statement")]

    [message] = await eventually(statement_mail, timeout=20, message="the statement e-mail arrived")
    assert issued["number"] in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    text = pdf_text(attachment.get_content())
    assert issued["number"] in text and own["number"] in text and "25.00" in text

    async def deliveries() -> list[dict[str, Any]]:
        return list((await statement(invoicing, issued["statement_id"]))["deliveries"])

    [sent] = await eventually(deliveries, timeout=20, message="StatementSent recorded")
    assert sent["channel"] == "email" and sent["recipient"] == address
    assert await invoicing.pool.fetchval(
        "SELECT delivery FROM statements WHERE statement_id = $1", issued["statement_id"]
    ) == "sent"


async def test_a_credit_note_that_clears_an_invoice_takes_it_off_the_next_statement(
    invoicing: RunningInvoicing,
) -> None:
    customer, _, (cleared, kept) = await billed_customer(
        invoicing, [15000, 4000], [cost_share(copay=COPAY)]
    )
    [before] = of(customer, await statement_run(invoicing, "2026-06-30", customer))
    assert [i["number"] for i in before["items"]] == [cleared["number"], kept["number"]]

    await credit(invoicing, cleared["invoice_id"])
    [after] = of(customer, await statement_run(invoicing, "2026-07-31", customer))

    assert [(i["number"], i["open"]) for i in after["items"]] == [(kept["number"], COPAY)]
    assert after["total_open"] == COPAY
    assert after["number"] != before["number"]


async def test_concurrent_statement_runs_issue_one_statement_per_customer_with_consecutive_numbers(
    invoicing: RunningInvoicing,
) -> None:
    customers = [
        (await billed_customer(invoicing, [15000], [cost_share(copay=COPAY)]))[0] for _ in range(2)
    ]
    before = await last_statement_number(invoicing)

    runs = await asyncio.gather(*[
        invoicing.api.post("/v1/statement-runs", json={"statement_date": "2026-08-31"})
        for _ in range(3)
    ])

    assert [r.status_code for r in runs] == [200] * 3, [r.text for r in runs]
    issued = [await statement(invoicing, i) for r in runs for i in r.json()["statement_ids"]]
    owners = [s["statement"]["customer_id"] for s in issued]
    assert sorted(owners) == sorted(set(owners)), "a customer got two statements for one date"
    assert all(len(of(customer, issued)) == 1 for customer in customers)
    after = await last_statement_number(invoicing)
    assert after - before == len(issued)
    assert sorted(s["statement"]["number"] for s in issued) == [
        f"ST-2026-{n:06d}" for n in range(before + 1, after + 1)
    ]


async def test_a_statement_never_adds_up_amounts_owed_in_different_currencies(
    invoicing: RunningInvoicing,
) -> None:
    # the payer said the coverage is inactive, so the customer owes 150.00 USD for one visit and
    # 40.00 EUR for another
    address = f"{unique('stmt')}@example.com"
    customer = await customer_with_coverage(invoicing, email_address=address, verified=False)
    await invoicing.publish("eligibility.events", "EligibilityRejected", customer.customer_id, {
        "check_id": unique("chk_"), "customer_id": customer.customer_id,
        "coverage_id": customer.coverage_id, "payer_id": customer.payer_id,
        "service_date": "2026-03-02", "verified_on": "2026-03-02",
        "reasons": [{"source": "inactive", "code": "inactive", "description": "Inactive",
                     "follow_up_action": None, "loop": "2110C"}],
        "coverage_from": None, "coverage_to": None, "method": "x12", "exchange_id": "x12_test",
        "recorded_by": None, "payer_reference": None, "rejected_at": "2026-03-02T09:30:00+00:00",
    })
    await eventually(lambda: invoicing.pool.fetchval(
        "SELECT outcome = 'rejected' FROM verifications WHERE coverage_id = $1", customer.coverage_id),
        timeout=20, message="invoicing heard the coverage is inactive")
    await record_charges(
        invoicing,
        charge(customer.customer_id, unit_price=15000, encounter=unique("enc-")),
        charge(customer.customer_id, unit_price=4000, encounter=unique("enc-"), currency="EUR"),
    )
    await bill_everything_of(invoicing, customer)
    own = await invoices_of(invoicing, customer.customer_id)
    owed = {i["number"]: (i["open_amount"], i["currency"]) for i in own}
    assert sorted(owed.values()) == [(4000, "EUR"), (15000, "USD")]

    issued = of(customer, await statement_run(invoicing, "2026-09-30", customer))

    listed = [(i["number"], (i["open"], s["currency"])) for s in issued for i in s["items"]]
    assert dict(listed) == owed and len(listed) == len(owed), (
        f"each open invoice is listed once, under its own currency; issued: {issued}"
    )
    assert all(s["total_open"] == sum(i["open"] for i in s["items"]) for s in issued)


async def test_payments_take_what_was_paid_off_the_statement(invoicing: RunningInvoicing) -> None:
    customer, _, (paid, partly) = await billed_customer(invoicing, [15000, 16000], [cost_share(copay=COPAY)])
    payment_id = unique("pay_")

    async def payments_published(event: Any) -> None:
        await invoicing.publish("payments.events", event.event_type.rsplit(".", 1)[-1], customer.customer_id,
                                event.to_data())

    await payments_published(PaymentAllocated(
        payment_id=payment_id, customer_id=customer.customer_id, currency="USD", rule="oldest_first",
        allocations=[Allocation(invoice_id=paid["invoice_id"], invoice_number=paid["number"], amount=2500),
                     Allocation(invoice_id=partly["invoice_id"], invoice_number=partly["number"], amount=1000)],
        unallocated=0, allocated_at=NOW,
    ))

    async def received() -> bool:
        answer = (await invoicing.api.get(f"/v1/invoices/{partly['invoice_id']}")).json()
        return answer["received_by_payments"] == 1000

    await eventually(received, timeout=20, message="invoicing heard of the payment")
    [issued] = of(customer, await statement_run(invoicing, "2026-06-30", customer))
    assert [(i["invoice_id"], i["open"]) for i in issued["items"]] == [(partly["invoice_id"], 1500)]
    assert issued["total_open"] == 1500

    # the payment bounced: both are owed again on the next statement
    await payments_published(PaymentReversed(
        payment_id=payment_id, customer_id=customer.customer_id, amount=3500, currency="USD",
        reason="bounced_cheque", released=[
            Allocation(invoice_id=paid["invoice_id"], invoice_number=paid["number"], amount=2500),
            Allocation(invoice_id=partly["invoice_id"], invoice_number=partly["number"], amount=1000)],
        reversed_by="front-desk", reversed_at=NOW,
    ))

    async def reversed_() -> bool:
        answer = (await invoicing.api.get(f"/v1/invoices/{paid['invoice_id']}")).json()
        return answer["received_by_payments"] == 0

    await eventually(reversed_, timeout=20, message="invoicing heard of the reversal")
    [next_one] = of(customer, await statement_run(invoicing, "2026-07-31", customer))
    assert next_one["total_open"] == 5000


async def test_invoices_and_statements_print_how_to_pay_as_payments_published_it(invoicing: RunningInvoicing) -> None:
    customer, _, [own] = await billed_customer(invoicing, [15000], [cost_share(copay=COPAY)])
    before = pdf_text((await invoicing.api.get(f"/v1/invoices/{own['invoice_id']}/pdf")).content)
    assert "pay.clinic.example" in before  # the configured lines, until payments publishes some

    published = PaymentInstructionsPublished(
        business_id="clinic", business_name="Example Community Clinic", published_by="billing", published_at=NOW,
        options=[
            PaymentOption(method="card", label="Pay online", url="https://pay.example/c/9f2"),
            PaymentOption(method="bank_transfer", label="Bank transfer", account_name="Example Community Clinic",
                          routing_number="011000015", account_number="123456789",
                          reference_hint="your invoice number"),
        ],
        notes="Questions? Call 217-555-0100.",
    )
    await invoicing.publish("payments.events", "PaymentInstructionsPublished", "clinic", published.to_data())

    async def reprinted() -> str | None:
        text = pdf_text((await invoicing.api.get(f"/v1/invoices/{own['invoice_id']}/pdf")).content)
        return text if "pay.example/c/9f2" in text else None

    text = await eventually(reprinted, timeout=20, message="the invoice prints payments' instructions")
    assert "routing 011000015, account 123456789" in text and "quote your invoice number" in text
    assert "pay.clinic.example" not in text
    [issued] = of(customer, await statement_run(invoicing, "2026-08-31", customer))
    statement = pdf_text((await invoicing.api.get(f"/v1/statements/{issued['statement_id']}/pdf")).content)
    assert "pay.example/c/9f2" in statement and "217-555-0100" in statement
