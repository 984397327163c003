"""Dunning notices as PDF files laid out with fpdf2, and the subject and plain-text body of the
e-mail that carries one.

A notice is rendered from the data of its event, ``DemandIssued`` (kind ``demand``) or
``ValidationNoticeIssued`` (kind ``validation``), as it is kept in ``notice_deliveries.document``.
Every notice says who sends it and to whom, its title by step ("Payment reminder" up to "Final
notice", or "Validation notice"), the date it was issued, the account (the debt id: the invoice
number is not part of the notice), the itemization (what was billed, what was paid, what was
adjusted, what is left) and how to pay. A demand says by when to pay; a validation notice says by
when the customer may dispute the debt and what happens if they do.

The PDFs use the fonts every PDF reader has built in (Helvetica), so no font file ships with the
service; those fonts only know the Windows-1252 characters (Latin-1 plus € and typographic
punctuation). Any word holding a character outside that set is folded to plain Latin letters
("Łukasz Żółć" prints as "Lukasz Zolc") and what cannot be folded prints as "?": a name must never
stop a notice from going out. The document's metadata (title, author) keeps the original spelling.

A notice rendered twice gives the same bytes: its creation date is the time it was issued, not the
time of printing, so a notice tried again is the same file as the first time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from fpdf import FPDF, FontFace
from fpdf.enums import Align, TableBordersLayout, XPos, YPos

from services.collections.domain.events import (
    DemandIssued,
    Itemization,
    PaymentWay,
    Step,
    ValidationNoticeIssued,
)
from shared.money import MINOR_UNITS

NoticeKind = Literal["demand", "validation"]
Paper = Literal["A4", "Letter"]

TITLES: dict[str, str] = {
    Step.REMINDER: "Payment reminder",
    Step.FIRST_DEMAND: "Demand for payment",
    Step.SECOND_DEMAND: "Second demand for payment",
    Step.FINAL_NOTICE: "Final notice",
    "validation": "Validation notice",
}

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)

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


# -- what a notice says ---------------------------------------------------------------------------


def notice_subject(document: dict[str, Any], kind: str) -> str:
    """The e-mail's subject: the notice's title, the account and the balance."""
    notice = _notice(document, kind)
    money = _money(notice.itemization.balance, notice.itemization.currency)
    return f"{_title(notice)}: account {notice.debt_id}, balance {money}"


def notice_text(document: dict[str, Any], kind: str, business_name: str) -> str:
    """The e-mail's plain-text body: the same facts as the attached PDF."""
    notice = _notice(document, kind)
    items = notice.itemization
    lines = [
        "Dear customer,",
        "",
        *_intro(notice, business_name),
        "",
        f"Account: {notice.debt_id}",
        f"Date issued: {_day(notice.issued_at.date())}",
        f"Amounts as of: {_day(items.itemization_date)}",
        f"Original amount: {_money(items.original_amount, items.currency)}",
        f"Payments: {_money(items.payments, items.currency)}",
        f"Adjustments: {_money(items.adjustments, items.currency)}",
        f"Balance: {_money(items.balance, items.currency)}",
        "",
        *_deadline(notice),
        "",
        "How to pay:",
        *[f"- {way}" for way in _ways_on_one_line(notice.how_to_pay)],
        "",
        f"The {_title(notice).lower()} is attached as a PDF.",
        "",
        business_name,
        "",
    ]
    return "\n".join(lines)


def render_notice(
    document: dict[str, Any], *, kind: str, business_name: str, business_lines: Sequence[str],
    debtor_name: str, debtor_address_lines: Sequence[str], paper: Paper = "A4",
) -> bytes:
    """The notice as a PDF file."""
    notice = _notice(document, kind)
    items = notice.itemization
    title = _title(notice)
    pdf = _NoticeDocument(paper=paper, title=title, author=business_name, created=notice.issued_at)
    pdf.add_page()
    facts = [("Date issued", _day(notice.issued_at.date())), ("Account", notice.debt_id)]
    if isinstance(notice, DemandIssued):
        facts.append(("Please pay by", _day(notice.deadline)))
    else:
        facts.append(("Dispute by", _day(notice.dispute_by)))
    _masthead(pdf, business_name, business_lines, facts)
    _addressee(pdf, debtor_name, debtor_address_lines)
    pdf.set_font(_FONT, "B", 16)
    pdf.multi_cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    _paragraphs(pdf, None, _intro(notice, business_name))
    _itemization(pdf, items)
    _balance(pdf, items)
    if isinstance(notice, DemandIssued):
        _paragraphs(pdf, None, _deadline(notice), bold=True)
    else:
        _paragraphs(pdf, "Your right to dispute this debt", _deadline(notice))
    _how_to_pay(pdf, notice.how_to_pay)
    closing = (
        "If you have already paid, thank you, and please disregard this notice. If you have a "
        "question about this account, please contact us and quote the account above."
    )
    _paragraphs(pdf, None, [closing, business_name])
    return bytes(pdf.output())


Notice = DemandIssued | ValidationNoticeIssued


def _notice(document: dict[str, Any], kind: str) -> Notice:
    if kind == "demand":
        return DemandIssued.model_validate(document)
    if kind == "validation":
        return ValidationNoticeIssued.model_validate(document)
    raise ValueError(f"{kind!r} is not a kind of notice: demand or validation")


def _title(notice: Notice) -> str:
    return TITLES[notice.step] if isinstance(notice, DemandIssued) else TITLES["validation"]


def _intro(notice: Notice, business_name: str) -> list[str]:
    balance = _money(notice.itemization.balance, notice.itemization.currency)
    if isinstance(notice, ValidationNoticeIssued):
        return [(
            f"{business_name} says that you owe {balance} on account {notice.debt_id}. This notice "
            "sets out how that amount is made up, and your right to dispute it before the account "
            "is taken any further."
        )]
    overdue = _days(notice.days_past_due)
    deadline = _day(notice.deadline)
    match notice.step:
        case Step.REMINDER:
            text = (f"This is a reminder that the balance of {balance} on your account is past due "
                    f"(by {overdue}).")
        case Step.FIRST_DEMAND:
            text = (f"The balance of {balance} on your account is {overdue} past due. We ask you to "
                    f"pay it in full by {deadline}.")
        case Step.SECOND_DEMAND:
            text = (f"We wrote to you before about the balance of {balance} on your account, which is "
                    f"now {overdue} past due, and have not received payment. Please pay it in full "
                    f"by {deadline}.")
        case _:
            text = (f"This is our final notice about the balance of {balance} on your account, which is "
                    f"now {overdue} past due. If it is not paid by {deadline}, the account may be "
                    "referred to a collection agency.")
    return [text]


def _deadline(notice: Notice) -> list[str]:
    balance = _money(notice.itemization.balance, notice.itemization.currency)
    if isinstance(notice, DemandIssued):
        return [f"Please pay {balance} by {_day(notice.deadline)}."]
    dispute_by = _day(notice.dispute_by)
    return [
        (f"You may dispute all or part of this debt. Call or write to us by {dispute_by}. If you do "
         "not, we will assume that our information is correct."),
        (f"If you write to us by {dispute_by}, we will stop collecting any amount you dispute until "
         "we have sent you information that shows you owe it."),
    ]


def _way_details(way: PaymentWay) -> list[str]:
    """What a customer needs to pay this way, a line each."""
    details = [way.url] if way.url else []
    details += [f"Account name: {way.account_name}"] if way.account_name else []
    details += [f"Bank: {way.bank_name}"] if way.bank_name else []
    details += [f"IBAN: {way.iban}"] if way.iban else []
    details += [f"BIC: {way.bic}"] if way.bic else []
    details += [f"Routing number: {way.routing_number}"] if way.routing_number else []
    details += [f"Account number: {way.account_number}"] if way.account_number else []
    details += [f"Payable to: {way.payable_to}"] if way.payable_to else []
    details += [f"Mail to: {', '.join(way.address_lines)}"] if way.address_lines else []
    details += [f"Reference: {way.reference_hint}"] if way.reference_hint else []
    return details


def _ways_on_one_line(ways: Sequence[PaymentWay]) -> list[str]:
    if not ways:
        return ["Please contact us to arrange payment."]
    return [
        f"{way.label}: {'; '.join(details)}" if (details := _way_details(way)) else way.label
        for way in ways
    ]


def _money(amount: int, currency: str) -> str:
    """``amount`` minor units as "USD 1,234.56": thousands grouped and exactly the currency's
    decimals, with integer arithmetic only, so no amount is ever rounded."""
    try:
        exponent = MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(f"{currency} is not a currency we bill in: its minor unit is unknown") from None
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    decimals = f".{fraction:0{exponent}d}" if exponent else ""
    return f"{currency} {sign}{whole:,}{decimals}"


def _day(day: date) -> str:
    """As a reader writes it, the same whatever the process's locale: "April 2, 2026"."""
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


# -- the page -------------------------------------------------------------------------------------


class _NoticeDocument(FPDF):
    """A page with a running head from the second page on and a page number at the foot."""

    def __init__(self, *, paper: Paper, title: str, author: str, created: datetime) -> None:
        super().__init__(orientation="portrait", unit="mm", format=paper)
        self.core_fonts_encoding = _CORE_FONT_ENCODING
        self._running_head = f"{author} - {title}"
        self.set_margins(_MARGIN, _MARGIN, _MARGIN)
        self.set_auto_page_break(auto=True, margin=_FOOTER_SPACE)
        self.set_title(title)
        self.set_author(author)
        self.set_subject(title)
        self.set_lang("en")
        self.set_creation_date(created if created.tzinfo else created.replace(tzinfo=UTC))
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


def _masthead(
    pdf: FPDF, business_name: str, business_lines: Sequence[str], facts: Sequence[tuple[str, str]]
) -> None:
    """The business on the left; the notice's date, account and deadline on the right."""
    top = pdf.get_y()
    business_width = pdf.epw * 0.55
    pdf.set_font(_FONT, "B", 14)
    pdf.multi_cell(business_width, 6.5, business_name, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for line in business_lines:
        pdf.multi_cell(business_width, _LINE_HEIGHT, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
    business_bottom = pdf.get_y()

    facts_left = pdf.l_margin + pdf.epw * 0.58
    facts_width = pdf.w - pdf.r_margin - facts_left
    label_width = facts_width * 0.42
    pdf.set_xy(facts_left, top + 1)
    for label, value in facts:
        pdf.set_x(facts_left)
        pdf.set_font(_FONT, size=9)
        pdf.set_text_color(*_MUTED)
        pdf.cell(label_width, _LINE_HEIGHT, label)
        pdf.set_text_color(*_INK)
        pdf.set_font(_FONT, "B", 9)
        pdf.multi_cell(
            facts_width - label_width, _LINE_HEIGHT, value, align=Align.R,
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )
    pdf.set_y(max(business_bottom, pdf.get_y()) + 10)


def _addressee(pdf: FPDF, name: str, address_lines: Sequence[str]) -> None:
    _label(pdf, "To")
    pdf.set_font(_FONT, "B", 11)
    pdf.multi_cell(pdf.epw * 0.6, 5.5, name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    for line in address_lines:
        pdf.multi_cell(pdf.epw * 0.6, _LINE_HEIGHT, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(10)


def _label(pdf: FPDF, text: str) -> None:
    pdf.set_font(_FONT, "B", 8)
    pdf.set_text_color(*_MUTED)
    pdf.cell(0, 4.5, text.upper(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*_INK)


def _itemization(pdf: FPDF, items: Itemization) -> None:
    _keep_together(pdf, 24)
    _label(pdf, "Itemization")
    pdf.set_font(_FONT, size=9)
    with pdf.table(
        width=pdf.epw,
        col_widths=(34, 37, 37, 37, 35),
        text_align=(Align.L, Align.R, Align.R, Align.R, Align.R),
        align=Align.L,
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        headings_style=FontFace(emphasis="BOLD", fill_color=_HEADINGS_FILL),
        line_height=_LINE_HEIGHT,
        padding=(1.2, 1.5),
        v_align="TOP",
    ) as table:
        heading = table.row()
        for text in ("Itemization date", "Original amount", "Payments", "Adjustments", "Balance"):
            heading.cell(text)
        row = table.row()
        row.cell(_day(items.itemization_date))
        for amount in (items.original_amount, items.payments, items.adjustments, items.balance):
            row.cell(_money(amount, items.currency))
    pdf.ln(3)


def _balance(pdf: FPDF, items: Itemization) -> None:
    _keep_together(pdf, 12)
    pdf.set_font(_FONT, "B", 11)
    amount_width = pdf.epw * 0.3
    pdf.cell(pdf.epw - amount_width, 7, "Balance due", align=Align.R)
    pdf.cell(
        amount_width, 7, _money(items.balance, items.currency), align=Align.R, border="TB",
        new_x=XPos.LMARGIN, new_y=YPos.NEXT,
    )
    pdf.ln(6)


def _how_to_pay(pdf: FPDF, ways: Sequence[PaymentWay]) -> None:
    _keep_together(pdf, 16)
    _label(pdf, "How to pay")
    if not ways:
        _paragraphs(pdf, None, ["Please contact us to arrange payment."])
        return
    for way in ways:
        _keep_together(pdf, 10)
        pdf.set_font(_FONT, "B", 9)
        pdf.multi_cell(0, _LINE_HEIGHT, way.label, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(_FONT, size=9)
        for detail in _way_details(way):
            pdf.multi_cell(0, _LINE_HEIGHT, detail, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    pdf.ln(3)


def _paragraphs(
    pdf: FPDF, heading: str | None, paragraphs: Sequence[str], *, bold: bool = False
) -> None:
    if not paragraphs:
        return
    _keep_together(pdf, 16)
    if heading:
        _label(pdf, heading)
    pdf.set_font(_FONT, "B" if bold else "", 10 if bold else 9)
    line_height = _LINE_HEIGHT + (0.6 if bold else 0)
    for paragraph in paragraphs:
        pdf.multi_cell(0, line_height, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1)
    pdf.ln(4)


def _keep_together(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` mm still fit, so a heading is not left alone at the
    foot of a page."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
