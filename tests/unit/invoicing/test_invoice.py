"""The invoice aggregate: an issued invoice is never edited; credits never exceed what is open,
line by line; a remittance counts once; a voided invoice takes nothing more."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.invoicing.domain.events import (
    BilledParty,
    Code,
    CreditedLine,
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceLine,
    InvoiceVoided,
    PartyKind,
    RemittanceApplied,
    RemittedLineOutcome,
    Responsibility,
)
from services.invoicing.domain.invoice import Invoice, InvoiceStatus
from shared.rules import RuleViolated

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def issued(*amounts: int) -> Invoice:
    lines = [
        InvoiceLine(line_id=f"l{i}", charge_id=f"c{i}", service_date=date(2026, 3, 2),
                    code=Code(system="CPT", code="99213"), description="visit", units=Decimal(1),
                    unit_price=amount, charge_amount=amount, amount=amount)
        for i, amount in enumerate(amounts, 1)
    ]
    return Invoice.fold("inv_1", [InvoiceIssued(
        invoice_id="inv_1", number="INV-2026-000001", series="INV-2026", customer_id="cus_1", bill_id="b1",
        party=BilledParty(kind=PartyKind.CUSTOMER, name="Ada", responsibility=Responsibility.CUSTOMER),
        lines=lines, total=sum(amounts), currency="USD", issue_date=date(2026, 3, 2), due_date=date(2026, 4, 1),
        payment_terms="Net 30", issued_at=NOW,
    )])


def credit_note(invoice: Invoice, **amounts: int) -> CreditNoteIssued:
    return CreditNoteIssued(
        credit_note_id="cn", number="CN-2026-000001", series="CN-2026", invoice_id=invoice.invoice_id,
        invoice_number="INV-2026-000001", customer_id="cus_1",
        lines=[CreditedLine(line_id=k, amount=v) for k, v in amounts.items()], total=sum(amounts.values()),
        currency="USD", reason="goodwill", issued_by="desk", issue_date=date(2026, 3, 3), issued_at=NOW,
    )


def test_credits_lower_what_is_open_line_by_line_and_never_below_zero() -> None:
    invoice = issued(15000, 4000)
    assert [(c.line_id, c.amount) for c in invoice.credit_lines({"l2": 1000})] == [("l2", 1000)]
    invoice.apply(credit_note(invoice, l2=1000))
    assert (invoice.open_amount, invoice.open_on_line("l2"), invoice.total) == (18000, 3000, 19000)
    with pytest.raises(RuleViolated) as refused:
        invoice.credit_lines({"l2": 3001})
    assert refused.value.field == "lines"
    assert [(c.line_id, c.amount) for c in invoice.credit_lines(None)] == [("l1", 15000), ("l2", 3000)]


def test_nothing_open_cannot_be_credited_and_negative_credits_are_refused() -> None:
    invoice = issued(2500)
    invoice.apply(credit_note(invoice, l1=2500))
    for amounts in (None, {"l1": 1}, {"l1": -5}):
        with pytest.raises(RuleViolated):
            invoice.credit_lines(amounts)


def test_a_remittance_settles_its_lines_and_counts_once() -> None:
    invoice = issued(12500, 4000)
    applied = RemittanceApplied(
        invoice_id="inv_1", customer_id="cus_1", remittance_id="rem_1", claim_reference="INV-2026-000001",
        denied=True, lines=[RemittedLineOutcome(line_id="l2", expected=4000, paid=0, written_off=0, transferred=4000)],
        paid=0, written_off=0, transferred=4000, transferred_to="inv_2", applied_at=NOW,
    )
    invoice.apply(applied)
    assert (invoice.open_amount, invoice.open_on_line("l2"), invoice.remittances) == (12500, 0, {"rem_1"})
    with pytest.raises(RuleViolated):
        invoice.may_void()  # something happened to it: a credit note is the way now


def test_a_voided_invoice_owes_nothing_and_takes_no_credit() -> None:
    invoice = issued(2500)
    invoice.may_void()
    invoice.apply(InvoiceVoided(invoice_id="inv_1", number="INV-2026-000001", customer_id="cus_1",
                                reason="duplicate", voided_by="desk", voided_at=NOW))
    assert (invoice.status, invoice.open_amount, invoice.total) == (InvoiceStatus.VOIDED, 0, 2500)
    with pytest.raises(RuleViolated):
        invoice.credit_lines(None)
