"""What an invoice, credit note or statement shows, and where it goes: the printable document
built from its events and what registration and eligibility told us about the party, and the
party's delivery address (an e-mail the customer agreed to, else a postal address)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.invoicing.application.parties import customer_name, customer_record, payer_profile
from services.invoicing.domain.bill import Statement
from services.invoicing.domain.events import (
    CreditNoteIssued,
    DeliveryChannel,
    PartyKind,
)
from services.invoicing.domain.invoice import Invoice
from services.invoicing.domain.printable import (
    PrintableInvoice,
    PrintableStatement,
    PrintedLine,
    PrintedParty,
    StatementItem,
    how_to_pay_lines,
)
from shared.money import format_minor_units


@dataclass(frozen=True)
class Letterhead:
    """The seller block every document starts with, and how to pay: the instructions payments
    published for ``business_id``, or ``how_to_pay`` until it has published any."""

    seller: PrintedParty
    how_to_pay: list[str]
    business_id: str = "clinic"


async def how_to_pay(conn: asyncpg.Connection, letterhead: Letterhead) -> list[str]:
    row = await conn.fetchrow(
        "SELECT options, notes FROM payment_instructions WHERE business_id = $1", letterhead.business_id,
    )
    if row is None:
        return letterhead.how_to_pay
    return how_to_pay_lines(json.loads(row["options"]), row["notes"])


@dataclass(frozen=True)
class Destination:
    channel: DeliveryChannel
    recipient: str  # the e-mail address, or the addressee for a letter
    contact_point_id: str | None
    address_lines: list[str]


class NoUsableContact(Exception):
    """Neither an e-mail the party may receive bills at nor a postal address is on file."""


async def bill_to(conn: asyncpg.Connection, customer_id: str, payer_id: str | None) -> PrintedParty:
    if payer_id is not None:
        profile = await payer_profile(conn, payer_id) or {}
        contact = profile.get("billing_contact") or {}
        return PrintedParty(
            name=profile.get("name", payer_id), address_lines=[contact.get("name", ""), *contact.get("address_lines", [])],
            reference=None, email=contact.get("email"),
        )
    customer = await customer_record(conn, customer_id)
    if customer is None:
        return PrintedParty(name=customer_id, reference=customer_id)
    contact = json.loads(customer["contact"])
    addresses = contact.get("addresses", [])
    return PrintedParty(
        name=customer_name(customer) or customer_id, address_lines=_postal_lines(addresses[0]) if addresses else [],
        reference=f"Customer {customer_id}",
    )


def _postal_lines(address: dict[str, Any]) -> list[str]:
    city_line = " ".join(part for part in (address.get("city"), address.get("region"), address.get("postal_code")) if part)
    return [*address.get("lines", []), city_line, address.get("country", "")]


async def printable_invoice(conn: asyncpg.Connection, invoice: Invoice, letterhead: Letterhead) -> PrintableInvoice:
    issued = invoice.issued
    assert issued is not None
    notes = []
    if issued.party.kind is PartyKind.CUSTOMER:
        notes.append("Amounts are your part of each service, after what your insurance is billed for.")
    if issued.transfer_reason:
        notes.append(issued.transfer_reason)
    if issued.estimate is not None and issued.estimate.exceeded:
        notes.append(
            f"This bill is {format_minor_units(issued.estimate.billed - issued.estimate.estimated, issued.currency)} "
            f"above your Good Faith Estimate of {format_minor_units(issued.estimate.estimated, issued.currency)}; "
            "you may dispute it."
        )
    if invoice.status.value == "voided":
        notes.append("VOID: this invoice was cancelled.")
    return PrintableInvoice(
        kind="invoice", number=issued.number, issue_date=issued.issue_date, due_date=issued.due_date,
        payment_terms=issued.payment_terms, currency=issued.currency, seller=letterhead.seller,
        bill_to=await bill_to(conn, issued.customer_id, issued.party.payer_id),
        lines=[
            PrintedLine(
                description=line.description, code=_code_label(line.code.system, line.code.code, line.code.modifiers),
                service_date=line.service_date, units=line.units, unit_price=line.unit_price, amount=line.amount,
            )
            for line in issued.lines
        ],
        total=issued.total, notes=notes, how_to_pay=await how_to_pay(conn, letterhead) if issued.party.kind is PartyKind.CUSTOMER else [],
    )


async def printable_credit_note(
    conn: asyncpg.Connection, invoice: Invoice, note: CreditNoteIssued, letterhead: Letterhead
) -> PrintableInvoice:
    issued = invoice.issued
    assert issued is not None
    by_line = {line.line_id: line for line in issued.lines}
    return PrintableInvoice(
        kind="credit_note", number=note.number, issue_date=note.issue_date, currency=note.currency,
        seller=letterhead.seller, bill_to=await bill_to(conn, issued.customer_id, issued.party.payer_id),
        lines=[
            PrintedLine(
                description=by_line[line.line_id].description, service_date=by_line[line.line_id].service_date,
                code=_code_label(by_line[line.line_id].code.system, by_line[line.line_id].code.code, []),
                units=by_line[line.line_id].units, unit_price=by_line[line.line_id].unit_price, amount=-line.amount,
            )
            for line in note.lines
        ],
        total=-note.total, notes=[note.reason], related_number=note.invoice_number,
    )


async def printable_statement(
    conn: asyncpg.Connection, statement: Statement, letterhead: Letterhead
) -> PrintableStatement:
    issued = statement.issued
    assert issued is not None
    return PrintableStatement(
        number=issued.number, statement_date=issued.statement_date, currency=issued.currency,
        seller=letterhead.seller, customer=await bill_to(conn, issued.customer_id, None),
        items=[
            StatementItem(
                number=item.number, issue_date=item.issue_date, due_date=item.due_date,
                description=f"Invoice {item.number}", original_amount=item.total, open_amount=item.open,
            )
            for item in issued.items
        ],
        total_open=issued.total_open, how_to_pay=await how_to_pay(conn, letterhead),
    )


def _code_label(system: str, code: str, modifiers: list[str]) -> str:
    return " ".join([system.removeprefix("tariff:"), "-".join([code, *modifiers])])


async def destination(conn: asyncpg.Connection, customer_id: str, payer_id: str | None) -> Destination:
    """Where a document for the party goes: for a customer, an e-mail they consented to and that
    has not bounced, else their first postal address; for a payer, its billing contact."""
    if payer_id is not None:
        profile = await payer_profile(conn, payer_id) or {}
        contact = profile.get("billing_contact") or {}
        if contact.get("email"):
            return Destination(DeliveryChannel.EMAIL, contact["email"], None, [])
        if contact.get("address_lines"):
            return Destination(DeliveryChannel.LETTER, contact.get("name") or profile.get("name", payer_id), None,
                               list(contact["address_lines"]))
        raise NoUsableContact(f"payer {payer_id} has no billing e-mail or address in the directory")
    customer = await customer_record(conn, customer_id)
    if customer is None:
        raise NoUsableContact(f"registration has not told invoicing about customer {customer_id}")
    contact = json.loads(customer["contact"])
    bounced = set(json.loads(customer["bounced_contact_points"]))
    consents = contact.get("consents") or {}
    if consents.get("email"):
        for email in contact.get("emails", []):
            if email.get("id") not in bounced:
                return Destination(DeliveryChannel.EMAIL, email["address"], email.get("id"), [])
    for address in contact.get("addresses", []):
        if address.get("id") not in bounced and consents.get("post", True):
            return Destination(DeliveryChannel.LETTER, customer_name(customer) or customer_id, address.get("id"),
                               _postal_lines(address))
    raise NoUsableContact(f"customer {customer_id} has no e-mail they agreed to receive bills at, and no postal address")
