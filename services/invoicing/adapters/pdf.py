"""Invoices, credit notes and statements as PDF files, laid out with fpdf2.

Each page carries the seller's block, the recipient's block and the document's number and dates;
long line lists run on over as many pages as they need, with the table's headings repeated on
every page and "Page n of m" at the foot.

The PDFs use the fonts every PDF reader has built in (Helvetica), so no font file ships with the
service; those fonts only know the Windows-1252 characters (Latin-1 plus € and typographic
punctuation). Any word holding a character outside that set is folded to plain Latin letters
("Łukasz Żółć" prints as "Lukasz Zolc") and what cannot be folded prints as "?": a name must never
stop an invoice from going out. The document's metadata (title, author) is Unicode and keeps the
original spelling.

A document rendered twice gives the same bytes: its creation date is its issue (or statement)
date, not the time of printing, so a re-sent invoice is the same file as the first one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, XPos, YPos

from services.invoicing.domain.printable import (
    PrintableInvoice,
    PrintableStatement,
    PrintedLine,
    PrintedParty,
    StatementItem,
    format_money,
)

Paper = Literal["A4", "Letter"]

# The built-in fonts are written with WinAnsiEncoding, which is Windows-1252.
_CORE_FONT_ENCODING = "windows-1252"
# Letters that Unicode does not decompose into a base letter and an accent, and marks Windows-1252
# lacks, with what a reader would write instead.
_PLAIN_SPELLING = str.maketrans("ŁłĐđĦħŦŧĿŀıĸ‐‑‒−⁄′″", "LlDdHhTtLlik----/'\"")
_WORD_OR_SPACE = re.compile(r"\S+|\s+")

_FONT = "helvetica"
_INK = (33, 33, 33)
_MUTED = (110, 110, 110)
_RULE = (200, 200, 200)
_HEADINGS_FILL = (235, 235, 235)
_LINE_HEIGHT = 4.6  # mm, for 9 pt text
_MARGIN = 15  # mm
_FOOTER_SPACE = 18  # mm kept free at the foot of each page for the page number

_INVOICE_HEADINGS = {"invoice": "INVOICE", "credit_note": "CREDIT NOTE"}
_TOTAL_LABELS = {"invoice": "Total", "credit_note": "Total credited"}
_RELATED_LABELS = {"invoice": "Related invoice", "credit_note": "Credits invoice"}


def render_invoice(document: PrintableInvoice, *, paper: Paper = "A4") -> bytes:
    """The invoice or credit note as a PDF file."""
    pdf = _BusinessDocument(
        paper=paper, title=document.title, author=document.seller.name, dated=document.issue_date
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
    _table(pdf, _line_columns(document.lines, document.currency), document.lines)
    _total(pdf, _TOTAL_LABELS[document.kind], document.total, document.currency)
    _paragraphs(pdf, "Notes", document.notes)
    _paragraphs(pdf, "How to pay", document.how_to_pay)
    return bytes(pdf.output())


def render_statement(document: PrintableStatement, *, paper: Paper = "A4") -> bytes:
    """The statement of open items as a PDF file."""
    pdf = _BusinessDocument(
        paper=paper,
        title=document.title,
        author=document.seller.name,
        dated=document.statement_date,
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
        _table(pdf, _item_columns(document.currency), document.items)
    else:
        _paragraphs(pdf, None, ["Nothing is open on this date."])
    _total(pdf, "Total open", document.total_open, document.currency)
    _paragraphs(pdf, "Notes", document.notes)
    _paragraphs(pdf, "How to pay", document.how_to_pay)
    return bytes(pdf.output())


class _BusinessDocument(FPDF):
    """A page with a running head from the second page on and a page number at the foot."""

    def __init__(self, *, paper: Paper, title: str, author: str, dated: date) -> None:
        super().__init__(orientation="portrait", unit="mm", format=paper)
        self.core_fonts_encoding = _CORE_FONT_ENCODING
        self._running_head = f"{author} - {title}"
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=_FOOTER_SPACE)
        self.set_title(title)
        self.set_author(author)
        self.set_subject(title)
        self.set_lang("en")
        self.set_creation_date(datetime.combine(dated, time(0), tzinfo=UTC))
        self.set_text_color(*_INK)
        self.set_draw_color(*_RULE)

    def normalize_text(self, text: str) -> str:
        # Every string fpdf2 measures or prints passes through here, so folding here means no
        # caller can forget to.
        return super().normalize_text(_fold_for_core_fonts(text))

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(_FONT, size=8)
        self.set_text_color(*_MUTED)
        self.cell(0, 4, self._running_head, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(4)
        self.set_text_color(*_INK)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(_FONT, size=8)
        self.set_text_color(*_MUTED)
        self.cell(0, 4, f"Page {self.page_no()} of {self.str_alias_nb_pages}", align=Align.R)
        self.set_text_color(*_INK)


def _fold_for_core_fonts(text: str) -> str:
    """``text`` with each word the built-in fonts cannot print folded to plain letters.

    Only such words are folded, so "José Łukasz" keeps its é while "Żółć" loses every accent
    rather than printing as the odd "Zólc"."""
    return _WORD_OR_SPACE.sub(lambda match: _fold_word(match.group()), text)


def _fold_word(word: str) -> str:
    if _printable(word):
        return word
    folded = []
    for char in unicodedata.normalize("NFKD", word).translate(_PLAIN_SPELLING):
        if unicodedata.combining(char):
            continue
        if char.isspace():
            char = " "
        folded.append(char if _printable(char) else "?")
    return "".join(folded)


def _printable(text: str) -> bool:
    try:
        text.encode(_CORE_FONT_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


# -- blocks --------------------------------------------------------------------------------------


def _masthead(
    pdf: FPDF, seller: PrintedParty, heading: str, facts: Sequence[tuple[str, str | None]]
) -> None:
    """The seller on the left; the document's kind, number and dates on the right."""
    top = pdf.get_y()
    seller_width = pdf.epw * 0.55
    pdf.set_font(_FONT, "B", 14)
    pdf.multi_cell(seller_width, 6.5, seller.name, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for detail in _party_details(seller):
        pdf.multi_cell(seller_width, _LINE_HEIGHT, detail, new_x=XPos.LEFT, new_y=YPos.NEXT)
    seller_bottom = pdf.get_y()

    facts_left = pdf.l_margin + pdf.epw * 0.58
    facts_width = pdf.w - pdf.r_margin - facts_left
    label_width = facts_width * 0.45
    pdf.set_xy(facts_left, top)
    pdf.set_font(_FONT, "B", 18)
    pdf.cell(facts_width, 8, heading, align=Align.R, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.ln(1)
    for label, value in facts:
        if value is None:
            continue
        pdf.set_x(facts_left)
        pdf.set_font(_FONT, size=9)
        pdf.set_text_color(*_MUTED)
        pdf.cell(label_width, _LINE_HEIGHT, label)
        pdf.set_text_color(*_INK)
        pdf.set_font(_FONT, "B", 9)
        pdf.multi_cell(
            facts_width - label_width,
            _LINE_HEIGHT,
            value,
            align=Align.R,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.set_y(max(seller_bottom, pdf.get_y()) + 8)


def _party(pdf: FPDF, label: str, party: PrintedParty) -> None:
    _label(pdf, label)
    pdf.set_font(_FONT, "B", 11)
    pdf.multi_cell(pdf.epw * 0.6, 5.5, party.name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for detail in _party_details(party):
        pdf.multi_cell(pdf.epw * 0.6, _LINE_HEIGHT, detail, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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


def _label(pdf: FPDF, text: str) -> None:
    pdf.set_font(_FONT, "B", 8)
    pdf.set_text_color(*_MUTED)
    pdf.cell(0, 4.5, text.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)


_Row = TypeVar("_Row")


@dataclass(frozen=True)
class _Column(Generic[_Row]):
    heading: str
    width: float  # relative to the other columns'
    align: Align
    text: Callable[[_Row], str]


def _table(pdf: FPDF, columns: Sequence[_Column[_Row]], rows: Sequence[_Row]) -> None:
    """A table that breaks across pages, repeating its headings at the top of each."""
    pdf.set_font(_FONT, size=9)
    with pdf.table(
        width=pdf.epw,
        col_widths=tuple(column.width for column in columns),
        text_align=tuple(column.align for column in columns),
        align=Align.L,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=FontFace(emphasis="BOLD", fill_color=_HEADINGS_FILL),
        line_height=_LINE_HEIGHT,
        padding=(1.2, 1.5),
        v_align="TOP",
        repeat_headings=1,
    ) as table:
        heading = table.row()
        for column in columns:
            heading.cell(column.heading)
        for row in rows:
            cells = table.row()
            for column in columns:
                cells.cell(column.text(row))
    pdf.ln(3)


def _line_columns(lines: Sequence[PrintedLine], currency: str) -> list[_Column[PrintedLine]]:
    """The lines' columns; the date and code columns only when some line has one."""
    columns: list[_Column[PrintedLine]] = []
    if any(line.service_date for line in lines):
        columns.append(_Column("Date", 20, Align.L, lambda line: _day(line.service_date)))
    if any(line.code for line in lines):
        columns.append(_Column("Code", 26, Align.L, lambda line: line.code or ""))
    description_width = 113 - sum(column.width for column in columns)
    return [
        *columns,
        _Column("Description", description_width, Align.L, lambda line: line.description),
        _Column("Units", 15, Align.R, lambda line: _quantity(line.units)),
        _Column("Unit price", 24, Align.R, lambda line: format_money(line.unit_price, currency)),
        _Column("Amount", 28, Align.R, lambda line: format_money(line.amount, currency)),
    ]


def _item_columns(currency: str) -> list[_Column[StatementItem]]:
    return [
        _Column("Number", 30, Align.L, lambda item: item.number),
        _Column("Issued", 20, Align.L, lambda item: _day(item.issue_date)),
        _Column("Due", 20, Align.L, lambda item: _day(item.due_date)),
        _Column("Description", 58, Align.L, lambda item: item.description),
        _Column("Original", 26, Align.R, lambda item: format_money(item.original_amount, currency)),
        _Column("Open", 26, Align.R, lambda item: format_money(item.open_amount, currency)),
    ]


def _total(pdf: FPDF, label: str, amount: int, currency: str) -> None:
    _keep_together(pdf, 12)
    pdf.set_font(_FONT, "B", 11)
    amount_width = pdf.epw * 0.3
    pdf.cell(pdf.epw - amount_width, 7, label, align=Align.R)
    pdf.cell(
        amount_width,
        7,
        f"{currency} {format_money(amount, currency)}",
        align=Align.R,
        border="TB",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(6)


def _paragraphs(pdf: FPDF, heading: str | None, paragraphs: Sequence[str]) -> None:
    if not paragraphs:
        return
    _keep_together(pdf, 16)
    if heading:
        _label(pdf, heading)
    pdf.set_font(_FONT, size=9)
    for paragraph in paragraphs:
        pdf.multi_cell(0, _LINE_HEIGHT, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    pdf.ln(4)


def _keep_together(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` mm still fit, so a heading is not left alone at the
    foot of a page."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def _day(day: date | None) -> str:
    return day.isoformat() if day else ""


def _quantity(units: Decimal) -> str:
    """1.50 as "1.5" and 2.000 as "2": units as a person writes them."""
    return format(units.normalize(), "f")
