"""Invoices, credit notes and statements as PDF files, laid out with fpdf2.

Each page carries the seller's block, the recipient's block and the document's number and dates;
long line lists run on over as many pages as they need, with the table's headings repeated on
every page and "Page n of m" at the foot.

The page, the house style and the folding of text the built-in fonts cannot print are
shared.pdf's, as every business document of the platform has them.

A document rendered twice gives the same bytes: its creation date is its issue (or statement)
date, not the time of printing, so a re-sent invoice is the same file as the first one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from services.invoicing.domain.printable import (
    PrintableInvoice,
    PrintableStatement,
    PrintedLine,
    PrintedParty,
    StatementItem,
)
from shared.money import format_minor_units
from shared.pdf import (
    FONT,
    INK,
    LINE_HEIGHT,
    MUTED,
    BusinessDocument,
    Column,
    Paper,
    paragraphs,
    table,
    total_line,
)
from shared.pdf import label as block_label

_INVOICE_HEADINGS = {"invoice": "INVOICE", "credit_note": "CREDIT NOTE"}
_TOTAL_LABELS = {"invoice": "Total", "credit_note": "Total credited"}
_RELATED_LABELS = {"invoice": "Related invoice", "credit_note": "Credits invoice"}


def render_invoice(document: PrintableInvoice, *, paper: Paper = "A4") -> bytes:
    """The invoice or credit note as a PDF file."""
    pdf = BusinessDocument(
        paper=paper, title=document.title, author=document.seller.name, created=_midnight(document.issue_date)
    )
    pdf.add_page()
    facts = [
        ("Number", document.number),
        ("Issue date", _day(document.issue_date)),
        ("Due date", _day(document.due_date) if document.due_date else None),
        ("Payment terms", document.payment_terms),
        (_RELATED_LABELS[document.kind], document.related_number),
        ("Currency", document.currency),
    ]
    _masthead(pdf, document.seller, _INVOICE_HEADINGS[document.kind], facts)
    _party(pdf, "Bill to", document.bill_to)
    table(pdf, _line_columns(document.lines, document.currency), document.lines)
    _total(pdf, _TOTAL_LABELS[document.kind], document.total, document.currency)
    paragraphs(pdf, "Notes", document.notes)
    paragraphs(pdf, "How to pay", document.how_to_pay)
    return bytes(pdf.output())


def render_statement(document: PrintableStatement, *, paper: Paper = "A4") -> bytes:
    """The statement of open items as a PDF file."""
    pdf = BusinessDocument(
        paper=paper,
        title=document.title,
        author=document.seller.name,
        created=_midnight(document.statement_date),
    )
    pdf.add_page()
    facts = [
        ("Number", document.number),
        ("Statement date", _day(document.statement_date)),
        ("Currency", document.currency),
    ]
    _masthead(pdf, document.seller, "STATEMENT", facts)
    _party(pdf, "Statement for", document.customer)
    if document.items:
        table(pdf, _item_columns(document.currency), document.items)
    else:
        paragraphs(pdf, None, ["Nothing is open on this date."])
    _total(pdf, "Total open", document.total_open, document.currency)
    paragraphs(pdf, "Notes", document.notes)
    paragraphs(pdf, "How to pay", document.how_to_pay)
    return bytes(pdf.output())


# -- blocks --------------------------------------------------------------------------------------


def _masthead(
    pdf: FPDF, seller: PrintedParty, heading: str, facts: Sequence[tuple[str, str | None]]
) -> None:
    """The seller on the left; the document's kind, number and dates on the right."""
    top = pdf.get_y()
    seller_width = pdf.epw * 0.55
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(seller_width, 6.5, seller.name, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    for detail in _party_details(seller):
        pdf.multi_cell(seller_width, LINE_HEIGHT, detail, new_x=XPos.LEFT, new_y=YPos.NEXT)
    seller_bottom = pdf.get_y()

    facts_left = pdf.l_margin + pdf.epw * 0.58
    facts_width = pdf.w - pdf.r_margin - facts_left
    label_width = facts_width * 0.45
    pdf.set_xy(facts_left, top)
    pdf.set_font(FONT, "B", 18)
    pdf.cell(facts_width, 8, heading, align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.ln(1)
    for label, value in facts:
        if value is None:
            continue
        pdf.set_x(facts_left)
        pdf.set_font(FONT, size=9)
        pdf.set_text_color(*MUTED)
        pdf.cell(label_width, LINE_HEIGHT, label)
        pdf.set_text_color(*INK)
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(
            facts_width - label_width,
            LINE_HEIGHT,
            value,
            align=Align.R,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.set_y(max(seller_bottom, pdf.get_y()) + 8)


def _party(pdf: FPDF, label: str, party: PrintedParty) -> None:
    block_label(pdf, label)
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(pdf.epw * 0.6, 5.5, party.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    for detail in _party_details(party):
        pdf.multi_cell(pdf.epw * 0.6, LINE_HEIGHT, detail, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)


def _party_details(party: PrintedParty) -> list[str]:
    details = list(party.address_lines)
    if party.reference:
        details.append(f"Reference: {party.reference}")
    if party.tax_id:
        details.append(f"Tax ID: {party.tax_id}")
    if party.email:
        details.append(party.email)
    return details


def _line_columns(lines: Sequence[PrintedLine], currency: str) -> list[Column[PrintedLine]]:
    """The lines' columns; the date and code columns only when some line has one."""
    columns: list[Column[PrintedLine]] = []
    if any(line.service_date for line in lines):
        columns.append(Column("Date", 20, Align.L, lambda line: _day(line.service_date)))
    if any(line.code for line in lines):
        columns.append(Column("Code", 26, Align.L, lambda line: line.code or ""))
    description_width = 113 - sum(column.width for column in columns)
    return [
        *columns,
        Column("Description", description_width, Align.L, lambda line: line.description),
        Column("Units", 15, Align.R, lambda line: _quantity(line.units)),
        Column("Unit price", 24, Align.R, lambda line: format_minor_units(line.unit_price, currency)),
        Column("Amount", 28, Align.R, lambda line: format_minor_units(line.amount, currency)),
    ]


def _item_columns(currency: str) -> list[Column[StatementItem]]:
    return [
        Column("Number", 30, Align.L, lambda item: item.number),
        Column("Issued", 20, Align.L, lambda item: _day(item.issue_date)),
        Column("Due", 20, Align.L, lambda item: _day(item.due_date)),
        Column("Description", 58, Align.L, lambda item: item.description),
        Column("Original", 26, Align.R, lambda item: format_minor_units(item.original_amount, currency)),
        Column("Open", 26, Align.R, lambda item: format_minor_units(item.open_amount, currency)),
    ]


def _total(pdf: FPDF, caption: str, amount: int, currency: str) -> None:
    total_line(pdf, caption, f"{currency} {format_minor_units(amount, currency)}")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _day(day: date | None) -> str:
    return day.isoformat() if day else ""


def _quantity(units: Decimal) -> str:
    """1.50 as "1.5" and 2.000 as "2": units as a person writes them."""
    return format(units.normalize(), "f")
