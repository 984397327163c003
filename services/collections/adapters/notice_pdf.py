"""Dunning notices as PDF files laid out with fpdf2, and the subject and plain-text body of the
e-mail that carries one.

A notice is rendered from the data of its event, ``DemandIssued`` (kind ``demand``) or
``ValidationNoticeIssued`` (kind ``validation``), as it is kept in ``notice_deliveries.document``.
Every notice says who sends it and to whom, its title by step ("Payment reminder" up to "Final
notice", or "Validation notice"), the date it was issued, the account (the debt id: the invoice
number is not part of the notice), the itemization (what was billed, what was paid, what was
adjusted, what is left) and how to pay. A demand says by when to pay; a validation notice says by
when the customer may dispute the debt and what happens if they do.

The page, the house style and the folding of text the built-in fonts cannot print are
shared.pdf's, as every business document of the platform has them.

A notice rendered twice gives the same bytes: its creation date is the time it was issued, not the
time of printing, so a notice tried again is the same file as the first time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from services.collections.domain.events import (
    DemandIssued,
    Itemization,
    PaymentWay,
    Step,
    ValidationNoticeIssued,
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
    keep_together,
    paragraphs,
    table,
    total_line,
)
from shared.pdf import label as block_label

NoticeKind = Literal["demand", "validation"]

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
    pdf = BusinessDocument(paper=paper, title=title, author=business_name, created=notice.issued_at)
    pdf.add_page()
    facts = [("Date issued", _day(notice.issued_at.date())), ("Account", notice.debt_id)]
    if isinstance(notice, DemandIssued):
        facts.append(("Please pay by", _day(notice.deadline)))
    else:
        facts.append(("Dispute by", _day(notice.dispute_by)))
    _masthead(pdf, business_name, business_lines, facts)
    _addressee(pdf, debtor_name, debtor_address_lines)
    pdf.set_font(FONT, "B", 16)
    pdf.multi_cell(0, 8, title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    paragraphs(pdf, None, _intro(notice, business_name))
    _itemization(pdf, items)
    _balance(pdf, items)
    if isinstance(notice, DemandIssued):
        paragraphs(pdf, None, _deadline(notice), bold=True)
    else:
        paragraphs(pdf, "Your right to dispute this debt", _deadline(notice))
    _how_to_pay(pdf, notice.how_to_pay)
    closing = (
        "If you have already paid, thank you, and please disregard this notice. If you have a "
        "question about this account, please contact us and quote the account above."
    )
    paragraphs(pdf, None, [closing, business_name])
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
    """``amount`` minor units as "USD 1,234.56"."""
    return f"{currency} {format_minor_units(amount, currency)}"


def _day(day: date) -> str:
    """As a reader writes it, the same whatever the process's locale: "April 2, 2026"."""
    return f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


def _masthead(
    pdf: FPDF, business_name: str, business_lines: Sequence[str], facts: Sequence[tuple[str, str]]
) -> None:
    """The business on the left; the notice's date, account and deadline on the right."""
    top = pdf.get_y()
    business_width = pdf.epw * 0.55
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(business_width, 6.5, business_name, new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    for line in business_lines:
        pdf.multi_cell(business_width, LINE_HEIGHT, line, new_x=XPos.LEFT, new_y=YPos.NEXT)
    business_bottom = pdf.get_y()

    facts_left = pdf.l_margin + pdf.epw * 0.58
    facts_width = pdf.w - pdf.r_margin - facts_left
    label_width = facts_width * 0.42
    pdf.set_xy(facts_left, top + 1)
    for label, value in facts:
        pdf.set_x(facts_left)
        pdf.set_font(FONT, size=9)
        pdf.set_text_color(*MUTED)
        pdf.cell(label_width, LINE_HEIGHT, label)
        pdf.set_text_color(*INK)
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(
            facts_width - label_width, LINE_HEIGHT, value, align=Align.R,
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )
    pdf.set_y(max(business_bottom, pdf.get_y()) + 10)


def _addressee(pdf: FPDF, name: str, address_lines: Sequence[str]) -> None:
    block_label(pdf, "To")
    pdf.set_font(FONT, "B", 11)
    pdf.multi_cell(pdf.epw * 0.6, 5.5, name, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, size=9)
    for line in address_lines:
        pdf.multi_cell(pdf.epw * 0.6, LINE_HEIGHT, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(10)


_ITEMIZATION: list[Column[Itemization]] = [
    Column("Itemization date", 34, Align.L, lambda items: _day(items.itemization_date)),
    Column("Original amount", 37, Align.R, lambda items: _money(items.original_amount, items.currency)),
    Column("Payments", 37, Align.R, lambda items: _money(items.payments, items.currency)),
    Column("Adjustments", 37, Align.R, lambda items: _money(items.adjustments, items.currency)),
    Column("Balance", 35, Align.R, lambda items: _money(items.balance, items.currency)),
]


def _itemization(pdf: FPDF, items: Itemization) -> None:
    keep_together(pdf, 24)
    block_label(pdf, "Itemization")
    table(pdf, _ITEMIZATION, [items])


def _balance(pdf: FPDF, items: Itemization) -> None:
    total_line(pdf, "Balance due", _money(items.balance, items.currency))


def _how_to_pay(pdf: FPDF, ways: Sequence[PaymentWay]) -> None:
    keep_together(pdf, 16)
    block_label(pdf, "How to pay")
    if not ways:
        paragraphs(pdf, None, ["Please contact us to arrange payment."])
        return
    for way in ways:
        keep_together(pdf, 10)
        pdf.set_font(FONT, "B", 9)
        pdf.multi_cell(0, LINE_HEIGHT, way.label, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT, size=9)
        for detail in _way_details(way):
            pdf.multi_cell(0, LINE_HEIGHT, detail, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    pdf.ln(3)
