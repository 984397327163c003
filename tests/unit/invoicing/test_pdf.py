"""Invoices, credit notes and statements rendered to PDF and read back with pypdf: what a
customer would find in the file (the number, who is billed, every line, the total, page numbers),
and exact money formatting."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from services.invoicing.adapters.pdf import render_invoice, render_statement
from services.invoicing.domain.printable import (
    PrintableInvoice,
    PrintableStatement,
    PrintedLine,
    PrintedParty,
    StatementItem,
)
from shared.money import format_minor_units as format_money

CLINIC = PrintedParty(
    name="Riverside Family Clinic",
    address_lines=["12 Mill Road", "Springfield, IL 62701"],
    tax_id="36-1234567",
    email="billing@riverside.example",
)
ADA = PrintedParty(
    name="Ada Lovelace",
    address_lines=["5 Analytical Way", "Springfield, IL 62702"],
    reference="CUS-000042",
    email="ada@example.com",
)


def line(number: int, amount: int = 12_500, **overrides: Any) -> PrintedLine:
    fields: dict[str, Any] = {
        "description": f"Flu vaccine administration {number}",
        "code": "HCPCS G0008",
        "service_date": date(2026, 3, 2),
        "units": Decimal(1),
        "unit_price": amount,
        "amount": amount,
    }
    return PrintedLine(**(fields | overrides))


def invoice(**overrides: Any) -> PrintableInvoice:
    lines = [line(1), line(2, units=Decimal("2.50"), unit_price=1_000, amount=2_500)]
    fields: dict[str, Any] = {
        "kind": "invoice",
        "number": "INV-2026-000001",
        "issue_date": date(2026, 3, 5),
        "due_date": date(2026, 4, 4),
        "payment_terms": "Net 30",
        "currency": "USD",
        "seller": CLINIC,
        "bill_to": ADA,
        "lines": lines,
        "total": 15_000,
        "notes": ["Remainder of CLM-2026-000004 after the payer's denial"],
        "how_to_pay": [
            "Pay online at https://pay.riverside.example with reference INV-2026-000001"
        ],
    }
    return PrintableInvoice(**(fields | overrides))


def statement(**overrides: Any) -> PrintableStatement:
    fields: dict[str, Any] = {
        "number": "ST-2026-000007",
        "statement_date": date(2026, 4, 30),
        "currency": "USD",
        "seller": CLINIC,
        "customer": ADA,
        "items": [
            StatementItem(
                number="INV-2026-000001",
                issue_date=date(2026, 3, 5),
                due_date=date(2026, 4, 4),
                description="Flu vaccine administration",
                original_amount=15_000,
                open_amount=5_000,
            ),
            StatementItem(
                number="INV-2026-000009",
                issue_date=date(2026, 4, 12),
                due_date=None,
                description="Office visit",
                original_amount=123_456,
                open_amount=123_456,
            ),
        ],
        "total_open": 128_456,
        "how_to_pay": ["Bank transfer to account 000123456, routing 021000021"],
        "notes": ["INV-2026-000001 is past due."],
    }
    return PrintableStatement(**(fields | overrides))


def read(pdf: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(pdf))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in read(pdf).pages)


# -- money ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "printed"),
    [
        (123_456, "USD", "1,234.56"),
        (5, "USD", "0.05"),
        (100_000_000, "USD", "1,000,000.00"),
        (500, "JPY", "500"),
        (1_234_567, "JPY", "1,234,567"),
        (1_234_567, "BHD", "1,234.567"),
        (5, "BHD", "0.005"),
        (-1_250, "USD", "-12.50"),
        (-5, "USD", "-0.05"),
        (-1_500, "JPY", "-1,500"),
        (0, "USD", "0.00"),
        (0, "JPY", "0"),
        (0, "BHD", "0.000"),
    ],
)
def test_amounts_print_with_the_currencys_exact_decimals(
    amount: int, currency: str, printed: str
) -> None:
    assert format_money(amount, currency) == printed


def test_an_amount_in_a_currency_we_do_not_bill_in_is_refused() -> None:
    with pytest.raises(ValueError, match="XTS is not a currency we bill in"):
        format_money(100, "XTS")


def test_a_document_in_a_currency_we_do_not_bill_in_is_refused_before_printing() -> None:
    with pytest.raises(ValidationError, match="XTS is not a currency we bill in"):
        invoice(currency="XTS")


# -- invoices ------------------------------------------------------------------------------------


def test_an_invoice_shows_its_number_dates_parties_lines_and_total() -> None:
    pdf = render_invoice(invoice())

    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for expected in [
        "INVOICE",
        "INV-2026-000001",
        "2026-03-05",  # issued
        "2026-04-04",  # due
        "Net 30",
        "Riverside Family Clinic",
        "Tax ID: 36-1234567",
        "Ada Lovelace",
        "5 Analytical Way",
        "Reference: CUS-000042",
        "Flu vaccine administration 1",
        "HCPCS G0008",
        "2.5",  # units, as a person writes them
        "10.00",  # unit price
        "125.00",
        "USD 150.00",
        "Remainder of CLM-2026-000004 after the payer's denial",
        "Pay online at https://pay.riverside.example",
        "Page 1 of 1",
    ]:
        assert expected in text, expected


def test_a_long_invoice_runs_over_pages_repeating_the_table_headings() -> None:
    lines = [line(n, amount=10_000 + n) for n in range(1, 61)]
    total = sum(item.amount for item in lines)
    pdf = render_invoice(invoice(lines=lines, total=total))

    pages = [page.extract_text() for page in read(pdf).pages]
    assert len(pages) > 1
    text = "\n".join(pages)
    for n, printed in enumerate(lines, start=1):  # each row: description, units, price, amount
        amount = format_money(printed.amount, "USD")
        assert f"Flu vaccine administration {n} 1 {amount} {amount}" in text
    pages_with_lines = [page for page in pages if "Flu vaccine administration" in page]
    assert len(pages_with_lines) > 1
    headings = "Date Code Description Units Unit price Amount"
    assert all(headings in page for page in pages_with_lines)
    assert all(f"Page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1))
    assert f"USD {format_money(total, 'USD')}" in pages[-1]
    assert "Ada Lovelace" in pages[0]
    assert "Riverside Family Clinic - Invoice INV-2026-000001" in pages[1]  # the running head


def test_the_pdf_metadata_names_the_document_and_its_seller() -> None:
    metadata = read(render_invoice(invoice())).metadata

    assert metadata is not None
    assert metadata.title == "Invoice INV-2026-000001"
    assert metadata.author == "Riverside Family Clinic"


def test_rendering_the_same_invoice_twice_gives_the_same_file() -> None:
    first = render_invoice(invoice())

    assert render_invoice(invoice()) == first
    assert read(first).metadata.creation_date.date() == date(2026, 3, 5)  # type: ignore[union-attr]


def test_a_credit_note_shows_the_negative_amounts_and_the_invoice_it_credits() -> None:
    credit_note = invoice(
        kind="credit_note",
        number="CN-2026-000003",
        due_date=None,
        payment_terms=None,
        related_number="INV-2026-000001",
        lines=[line(1, amount=-1_250, description="Goodwill credit for the waiting time")],
        total=-1_250,
        notes=[],
        how_to_pay=[],
    )

    pdf = render_invoice(credit_note)

    text = text_of(pdf)
    assert "CREDIT NOTE" in text
    assert "CN-2026-000003" in text
    assert "Credits invoice INV-2026-000001" in text
    assert "Goodwill credit for the waiting time" in text
    assert "Total credited USD -12.50" in text
    assert "Due date" not in text
    metadata = read(pdf).metadata
    assert metadata is not None and metadata.title == "Credit note CN-2026-000003"


def test_amounts_in_a_currency_without_minor_units_print_whole() -> None:
    pdf = render_invoice(
        invoice(currency="JPY", lines=[line(1, amount=1_234_500)], total=1_234_500)
    )

    assert "JPY 1,234,500" in text_of(pdf)


def test_lines_without_dates_or_codes_leave_those_columns_out() -> None:
    pdf = render_invoice(invoice(lines=[line(1, code=None, service_date=None)], total=12_500))

    text = text_of(pdf)
    assert "Flu vaccine administration 1" in text
    assert "Code" not in text
    assert "\nDate" not in text


def test_names_outside_latin_1_are_folded_to_plain_letters_not_refused() -> None:
    polish = PrintedParty(
        name="Łukasz Żółć", address_lines=["ul. Żelazna 5", "00-855 Warszawa"], reference="C-9"
    )
    pdf = render_invoice(
        invoice(
            seller=CLINIC.model_copy(update={"name": "Ośrodek Zdrowia Łódź"}),
            bill_to=polish,
            notes=["Zahlung an José Müller — €12 fällig", "Иван Петров"],
        )
    )

    text = text_of(pdf)
    assert "Lukasz Zolc" in text
    assert "ul. Zelazna 5" in text
    assert "Osrodek Zdrowia Lodz" in text
    # words the fonts can print keep their accents, and Windows-1252's euro and dash
    assert "Zahlung an José Müller — €12 fällig" in text
    assert "???? ??????" in text  # a script with no Latin letters to fold to
    metadata = read(pdf).metadata
    assert metadata is not None and metadata.author == "Ośrodek Zdrowia Łódź"


def test_letter_paper_is_available_for_customers_who_print_on_it() -> None:
    a4 = read(render_invoice(invoice())).pages[0].mediabox
    letter = read(render_invoice(invoice(), paper="Letter")).pages[0].mediabox

    assert (round(float(a4.width)), round(float(a4.height))) == (595, 842)
    assert (round(float(letter.width)), round(float(letter.height))) == (612, 792)


# -- statements ----------------------------------------------------------------------------------


def test_a_statement_lists_each_open_item_and_what_is_open_in_total() -> None:
    pdf = render_statement(statement())

    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for expected in [
        "STATEMENT",
        "ST-2026-000007",
        "2026-04-30",
        "Ada Lovelace",
        "INV-2026-000001",
        "INV-2026-000009",
        "Office visit",
        "150.00",  # original
        "50.00",  # open
        "Total open USD 1,284.56",
        "INV-2026-000001 is past due.",
        "Bank transfer to account 000123456",
    ]:
        assert expected in text, expected
    metadata = read(pdf).metadata
    assert metadata is not None
    assert metadata.title == "Statement ST-2026-000007"
    assert metadata.author == "Riverside Family Clinic"


def test_a_statement_with_nothing_open_says_so() -> None:
    text = text_of(render_statement(statement(items=[], total_open=0, notes=[])))

    assert "Nothing is open on this date." in text
    assert "Total open USD 0.00" in text


def test_a_long_statement_runs_over_pages() -> None:
    items = [
        StatementItem(
            number=f"INV-2026-{n:06d}",
            issue_date=date(2026, 1, 1),
            due_date=date(2026, 1, 31),
            description="Monthly care plan",
            original_amount=5_000,
            open_amount=5_000,
        )
        for n in range(1, 81)
    ]
    pdf = render_statement(statement(items=items, total_open=400_000))

    pages = [page.extract_text() for page in read(pdf).pages]
    assert len(pages) > 1
    assert "INV-2026-000080" in pages[-1]
    assert "Total open USD 4,000.00" in pages[-1]
    pages_with_items = [page for page in pages if "Monthly care plan" in page]
    assert len(pages_with_items) > 1
    assert all("Number Issued Due Description Original Open" in page for page in pages_with_items)
