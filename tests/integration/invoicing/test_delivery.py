"""Where an issued invoice goes and what becomes of it, through the real SMTP server and Kafka: a
mailbox the server refuses for good is a bounce registration hears of on invoicing.events; a
customer who did not agree to e-mail, or whose e-mail bounced, gets a letter in the print queue;
a payer that takes no electronic claims gets its invoice by e-mail and no 837P."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any

from aiokafka import ConsumerRecord
from pypdf import PdfReader

from shared.kafka import topic_partitions
from tests.integration.invoicing.conftest import (
    NOW,
    RunningInvoicing,
    bill,
    charge,
    cost_share,
    customer_registered,
    customer_with_coverage,
    invoice,
    invoices_of,
    payer_registered,
    record_charges,
    unique,
)
from tests.integration.platform.conftest import TopicTail
from tests.mailbox import REFUSED_MAILBOX
from tests.polling import eventually

INVOICING_EVENTS = "invoicing.events"


@contextlib.asynccontextmanager
async def tailing(bootstrap: str, topic: str) -> AsyncIterator[TopicTail]:
    """``topic`` read from the end offsets it has now: only what is published from here on."""
    tail = await TopicTail.open(bootstrap, await topic_partitions(bootstrap, topic))
    try:
        yield tail
    finally:
        await tail.close()


def keyed(key: str, event_type: str) -> Callable[[ConsumerRecord], bool]:
    """Matches a record under ``key`` whose CloudEvents type is ``event_type``."""

    def matches(record: ConsumerRecord) -> bool:
        return (
            record.key == key.encode()
            and dict(record.headers).get("ce_type") == event_type.encode()
        )

    return matches


def pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


async def own_invoice(
    invoicing: RunningInvoicing, customer_id: str, *, besides: Collection[str] = ()
) -> dict:
    """The customer's own invoice, other than those in ``besides``."""
    [own] = [
        i
        for i in await invoices_of(invoicing, customer_id)
        if i["party_kind"] == "customer" and i["invoice_id"] not in besides
    ]
    return own


async def delivered(invoicing: RunningInvoicing, invoice_id: str) -> dict[str, Any]:
    """The invoice's first delivery outcome, InvoiceSent or InvoiceDeliveryFailed, once recorded."""

    async def first() -> dict[str, Any] | None:
        deliveries = (await invoice(invoicing, invoice_id))["deliveries"]
        return deliveries[0] if deliveries else None

    return await eventually(first, timeout=20, message=f"a delivery of {invoice_id} was recorded")


async def print_job_for(invoicing: RunningInvoicing, invoice_id: str) -> dict[str, Any]:
    async def queued() -> dict[str, Any] | None:
        listed = await invoicing.api.get("/v1/print-queue")
        assert listed.status_code == 200, listed.text
        jobs = [job for job in listed.json()["items"] if job["document_id"] == invoice_id]
        return jobs[0] if jobs else None

    return await eventually(queued, timeout=20, message=f"a letter for {invoice_id} was queued")


async def registered_without_email_consent(invoicing: RunningInvoicing, address: str) -> str:
    """A self-pay customer, as registration publishes them, who agreed to post but not e-mail."""
    customer_id = unique("cus_")
    registration = customer_registered(customer_id, address)
    registration["contact"]["consents"]["email"] = False
    await invoicing.publish("registration.events", "CustomerRegistered", customer_id, registration)
    await eventually(
        lambda: invoicing.pool.fetchval(
            "SELECT 1 FROM customers WHERE customer_id = $1", customer_id
        ),
        timeout=20,
        message=f"invoicing saw customer {customer_id}",
    )
    return customer_id


async def test_an_email_the_server_refuses_for_good_is_a_bounce_published_for_registration(
    invoicing: RunningInvoicing,
    kafka_bootstrap: str,
) -> None:
    customer = await customer_with_coverage(
        invoicing, [cost_share(copay=2500)], email_address=REFUSED_MAILBOX
    )
    await record_charges(invoicing, charge(customer.customer_id, unit_price=15000))

    async with tailing(kafka_bootstrap, INVOICING_EVENTS) as events:
        await bill(invoicing, customer.customer_id)
        own = await own_invoice(invoicing, customer.customer_id)
        failed = await delivered(invoicing, own["invoice_id"])
        [published] = await events.collect(
            keyed(customer.customer_id, "billing.invoicing.InvoiceDeliveryFailed"), 1, timeout=20
        )

    assert failed["channel"] == "email" and failed["recipient"] == REFUSED_MAILBOX
    assert failed["bounced"] is True and failed["contact_point_id"] == "email-1"
    assert "550 5.1.1" in failed["reason"] and "mailbox unavailable" in failed["reason"]
    assert "sent_at" not in failed
    data = json.loads(published.value)
    assert data["invoice_id"] == own["invoice_id"] and data["customer_id"] == customer.customer_id
    assert data["bounced"] is True and data["contact_point_id"] == "email-1"
    assert "550 5.1.1" in data["reason"]
    # a bounce is final: tried once, not queued again, and the invoice stays owed
    queued = await invoicing.pool.fetchrow(
        "SELECT status, attempts FROM deliveries"
        " WHERE document_kind = 'invoice' AND document_id = $1",
        own["invoice_id"],
    )
    assert (queued["status"], queued["attempts"]) == ("failed", 1)
    assert (await invoice(invoicing, own["invoice_id"]))["open_amount"] == 2500


async def test_a_customer_who_did_not_agree_to_email_gets_the_invoice_as_a_letter(
    invoicing: RunningInvoicing,
) -> None:
    address = f"{unique('no-email-')}@example.com"
    customer_id = await registered_without_email_consent(invoicing, address)
    await record_charges(invoicing, charge(customer_id, unit_price=15000))
    await bill(invoicing, customer_id)
    own = await own_invoice(invoicing, customer_id)

    job = await print_job_for(invoicing, own["invoice_id"])

    assert job["document_kind"] == "invoice" and job["printed_at"] is None
    assert job["recipient_name"] == "Ada Lovelace"
    assert job["address_lines"][0] == "12 Analytical Row" and "62701" in job["address_lines"][1]
    letter = await invoicing.api.get(f"/v1/print-queue/{job['job_id']}/pdf")
    assert letter.status_code == 200 and letter.headers["content-type"] == "application/pdf"
    printed = pdf_text(letter.content)
    assert own["number"] in printed and "150.00" in printed and "12 Analytical Row" in printed
    on_file = await invoicing.api.get(f"/v1/invoices/{own['invoice_id']}/pdf")
    assert printed == pdf_text(on_file.content), "the letter is the invoice"
    sent = await delivered(invoicing, own["invoice_id"])
    assert sent["channel"] == "letter" and sent["reference"] == job["job_id"]
    assert sent["contact_point_id"] == "addr-1"
    assert await invoicing.mailbox.messages_to(address) == []

    marked = await invoicing.api.post(f"/v1/print-queue/{job['job_id']}/printed")

    assert marked.status_code == 200, marked.text
    assert marked.json()["printed_at"] == NOW.isoformat().replace("+00:00", "Z")
    waiting = (await invoicing.api.get("/v1/print-queue")).json()["items"]
    assert job["job_id"] not in [j["job_id"] for j in waiting]
    everything = (
        await invoicing.api.get("/v1/print-queue", params={"include_printed": "true"})
    ).json()
    [done] = [j for j in everything["items"] if j["job_id"] == job["job_id"]]
    assert done["printed_at"] == marked.json()["printed_at"]


async def test_once_registration_reports_the_email_bounced_the_next_invoice_goes_by_letter(
    invoicing: RunningInvoicing,
) -> None:
    address = f"{unique('ada')}@example.com"
    customer = await customer_with_coverage(
        invoicing, [cost_share(copay=2500)], email_address=address
    )
    await record_charges(invoicing, charge(customer.customer_id, unit_price=15000))
    await bill(invoicing, customer.customer_id)
    first = await own_invoice(invoicing, customer.customer_id)
    assert (await delivered(invoicing, first["invoice_id"]))["channel"] == "email"

    await invoicing.publish(
        "registration.events",
        "ContactPointBounced",
        customer.customer_id,
        {
            "customer_id": customer.customer_id,
            "contact_point_id": "email-1",
            "channel": "email",
            "reason": "550 5.1.1 mailbox unavailable",
            "bounced_at": NOW.isoformat(),
        },
    )
    await eventually(
        lambda: invoicing.pool.fetchval(
            "SELECT bounced_contact_points ? 'email-1' FROM customers WHERE customer_id = $1",
            customer.customer_id,
        ),
        timeout=20,
        message="invoicing heard the e-mail bounced",
    )
    await record_charges(invoicing, charge(customer.customer_id, "87880", unit_price=4000))
    await bill(invoicing, customer.customer_id)
    second = await own_invoice(invoicing, customer.customer_id, besides={first["invoice_id"]})

    job = await print_job_for(invoicing, second["invoice_id"])

    sent = await delivered(invoicing, second["invoice_id"])
    assert sent["channel"] == "letter" and sent["reference"] == job["job_id"]
    assert sent["contact_point_id"] == "addr-1"
    assert len(await invoicing.mailbox.messages_to(address)) == 1, (
        "only the first invoice was e-mailed"
    )


async def test_a_payer_that_takes_no_electronic_claims_gets_its_invoice_by_email_without_an_837p(
    invoicing: RunningInvoicing,
) -> None:
    payer = payer_registered(
        unique("county-program-"),
        electronic=False,
        kind="government_program",
        name="County Health Program",
    )
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)], payer=payer)
    await record_charges(invoicing, charge(customer.customer_id, unit_price=15000))

    await bill(invoicing, customer.customer_id)

    [to_payer] = [
        i for i in await invoices_of(invoicing, customer.customer_id) if i["party_kind"] == "payer"
    ]
    assert to_payer["status"] == "issued" and to_payer["total"] == 12500
    assert (await invoice(invoicing, to_payer["invoice_id"]))["claim"] is None
    claim = await invoicing.api.get(f"/v1/invoices/{to_payer['invoice_id']}/claim")
    assert claim.status_code == 404
    contact = payer["profile"]["billing_contact"]["email"]

    async def emailed() -> list:
        return [
            m
            for m in await invoicing.mailbox.messages_to(contact)
            if to_payer["number"] in m["Subject"]
        ]

    [message] = await eventually(emailed, timeout=20, message="the payer's invoice was e-mailed")
    [attachment] = list(message.iter_attachments())
    text = pdf_text(attachment.get_content())
    assert to_payer["number"] in text and "125.00" in text and "County Health Program" in text
    sent = await delivered(invoicing, to_payer["invoice_id"])
    assert sent["channel"] == "email" and sent["recipient"] == contact
    assert sent["contact_point_id"] is None


async def test_a_credit_note_goes_where_its_invoice_went(invoicing: RunningInvoicing) -> None:
    address = f"{unique('credited')}@example.com"
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)], email_address=address)
    await record_charges(invoicing, charge(customer.customer_id, unit_price=15000))
    await bill(invoicing, customer.customer_id)
    [own] = [i for i in await invoices_of(invoicing, customer.customer_id) if i["party_kind"] == "customer"]
    await eventually(lambda: invoicing.mailbox.messages_to(address), timeout=20, message="the invoice was mailed")

    credited = await invoicing.api.post(
        f"/v1/invoices/{own['invoice_id']}/credit-notes", json={"reason": "copay waived"}
    )
    assert credited.status_code == 201, credited.text
    note = credited.json()

    async def both_mailed() -> list[Any] | None:
        messages = await invoicing.mailbox.messages_to(address)
        return messages if len(messages) == 2 else None

    _, credit_mail = await eventually(both_mailed, timeout=20, message="the credit note was mailed")
    assert note["number"] in credit_mail["Subject"] and own["number"] in credit_mail["Subject"]
    [attachment] = list(credit_mail.iter_attachments())
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(attachment.get_content())).pages)
    assert note["number"] in text and "-25.00" in text and "copay waived" in text

    async def recorded() -> list[Any] | None:
        return (await invoice(invoicing, own["invoice_id"]))["credit_note_deliveries"] or None

    [sent] = await eventually(recorded, timeout=20, message="CreditNoteSent recorded")
    assert (sent["credit_note_id"], sent["channel"], sent["recipient"]) == (note["credit_note_id"], "email", address)


async def test_a_credit_note_on_an_insurer_claim_is_not_mailed(invoicing: RunningInvoicing) -> None:
    customer = await customer_with_coverage(invoicing, [cost_share(copay=2500)])
    await record_charges(invoicing, charge(customer.customer_id, unit_price=15000))
    await bill(invoicing, customer.customer_id)
    [insurer] = [i for i in await invoices_of(invoicing, customer.customer_id) if i["party_kind"] == "payer"]

    credited = await invoicing.api.post(
        f"/v1/invoices/{insurer['invoice_id']}/credit-notes", json={"reason": "billed in error"}
    )

    assert credited.status_code == 201, credited.text
    assert await invoicing.pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE document_kind = 'credit_note' AND document_id = $1",
        credited.json()["credit_note_id"],
    ) == 0  # it lowers what we expect of the insurer in our books; no letter or e-mail is sent
