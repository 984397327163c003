"""What every business document of the platform looks like as a PDF (invoices, statements,
dunning notices), laid out with fpdf2: the page with its running head and page numbers, the
house style, and the blocks documents share (labels, paragraphs, tables, a total line).

The PDFs use the fonts every PDF reader has built in (Helvetica), so no font file ships with a
service; those fonts only know the Windows-1252 characters (Latin-1 plus € and typographic
punctuation). Any word holding a character outside that set is folded to plain Latin letters
("Łukasz Żółć" prints as "Lukasz Zolc") and what cannot be folded prints as "?": a name must never
stop a document from going out. The document's metadata (title, author) is Unicode and keeps the
original spelling.

A document rendered twice gives the same bytes: its creation date is given by the caller (the
document's own date), never the time of printing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, XPos, YPos

Paper = Literal["A4", "Letter"]

# The built-in fonts are written with WinAnsiEncoding, which is Windows-1252.
CORE_FONT_ENCODING = "windows-1252"
# Letters that Unicode does not decompose into a base letter and an accent, and marks Windows-1252
# lacks, with what a reader would write instead.
_PLAIN_SPELLING = str.maketrans("ŁłĐđĦħŦŧĿŀıĸ‐‑‒−⁄′″", "LlDdHhTtLlik----/'\"")
_WORD_OR_SPACE = re.compile(r"\S+|\s+")

FONT = "helvetica"
INK = (33, 33, 33)
MUTED = (110, 110, 110)
RULE = (200, 200, 200)
HEADINGS_FILL = (235, 235, 235)
LINE_HEIGHT = 4.6  # mm, for 9 pt text
MARGIN = 15  # mm
FOOTER_SPACE = 18  # mm kept free at the foot of each page for the page number


class BusinessDocument(FPDF):
    """A page with a running head from the second page on and a page number at the foot."""

    def __init__(self, *, paper: Paper, title: str, author: str, created: datetime) -> None:
        super().__init__(orientation="portrait", unit="mm", format=paper)
        self.core_fonts_encoding = CORE_FONT_ENCODING
        self._running_head = f"{author} - {title}"
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=FOOTER_SPACE)
        self.set_title(title)
        self.set_author(author)
        self.set_subject(title)
        self.set_lang("en")
        self.set_creation_date(created if created.tzinfo else created.replace(tzinfo=UTC))
        self.set_text_color(*INK)
        self.set_draw_color(*RULE)

    def normalize_text(self, text: str) -> str:
        # Every string fpdf2 measures or prints passes through here, so folding here means no
        # caller can forget to.
        return super().normalize_text(fold_for_core_fonts(text))

    def header(self) -> None:
        if self.page_no() == 1:
            return
        self.set_font(FONT, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 4, self._running_head, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(4)
        self.set_text_color(*INK)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 4, f"Page {self.page_no()} of {self.str_alias_nb_pages}", align=Align.R)
        self.set_text_color(*INK)


def fold_for_core_fonts(text: str) -> str:
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
        text.encode(CORE_FONT_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


# -- blocks --------------------------------------------------------------------------------------


def label(pdf: FPDF, text: str) -> None:
    """A small capitalised heading over a block."""
    pdf.set_font(FONT, "B", 8)
    pdf.set_text_color(*MUTED)
    pdf.cell(0, 4.5, text.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)


def keep_together(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` mm still fit, so a heading is not left alone at the
    foot of a page."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def paragraphs(pdf: FPDF, heading: str | None, texts: Sequence[str], *, bold: bool = False) -> None:
    if not texts:
        return
    keep_together(pdf, 16)
    if heading:
        label(pdf, heading)
    pdf.set_font(FONT, "B" if bold else "", 10 if bold else 9)
    line_height = LINE_HEIGHT + (0.6 if bold else 0)
    for text in texts:
        pdf.multi_cell(0, line_height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    pdf.ln(4)


Row = TypeVar("Row")


@dataclass(frozen=True)
class Column(Generic[Row]):
    heading: str
    width: float  # relative to the other columns'
    align: Align
    text: Callable[[Row], str]


def table(pdf: FPDF, columns: Sequence[Column[Row]], rows: Sequence[Row]) -> None:
    """A table that breaks across pages, repeating its headings at the top of each."""
    pdf.set_font(FONT, size=9)
    with pdf.table(
        width=pdf.epw,
        col_widths=tuple(column.width for column in columns),
        text_align=tuple(column.align for column in columns),
        align=Align.L,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=FontFace(emphasis="BOLD", fill_color=HEADINGS_FILL),
        line_height=LINE_HEIGHT,
        padding=(1.2, 1.5),
        v_align="TOP",
        repeat_headings=1,
    ) as drawn:
        heading = drawn.row()
        for column in columns:
            heading.cell(column.heading)
        for row in rows:
            cells = drawn.row()
            for column in columns:
                cells.cell(column.text(row))
    pdf.ln(3)


def total_line(pdf: FPDF, caption: str, amount: str) -> None:
    """A total, ruled above and below, at the right."""
    keep_together(pdf, 12)
    pdf.set_font(FONT, "B", 11)
    amount_width = pdf.epw * 0.3
    pdf.cell(pdf.epw - amount_width, 7, caption, align=Align.R)
    pdf.cell(amount_width, 7, amount, align=Align.R, border="TB", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
