"""Dunning notices rendered to PDF and read back with pypdf, and the e-mail that carries them:
the title of each step, the account, the itemization in money as a reader writes it, the deadline
or the right to dispute, how to pay; the same bytes for the same notice; names in any script."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pypdf import PdfReader

from services.collections.adapters.notice_pdf import notice_subject, notice_text, render_notice
from services.collections.domain.events import (
    Channel,
    DemandIssued,
    Destination,
    Itemization,
    PaymentWay,
    Step,
    ValidationNoticeIssued,
)

BUSINESS = "Riverside Family Clinic"
BUSINESS_LINES = ["12 Mill Road", "Springfield, IL 62701", "billing@riverside.example"]
ADDRESS = ["5 Analytical Way", "Springfield, IL 62702"]
ISSUED_AT = datetime(2026, 3, 19, 9, 30, tzinfo=UTC)
ITEMIZATION = Itemization(
    itemization_date=date(2026, 3, 1), currency="USD", original_amount=15_000, payments=2_500,
    adjustments=0, balance=12_500,
)
WAYS = [
    PaymentWay(method="card", label="Pay online by card", url="https://pay.riverside.example",
               reference_hint="your account number"),
    PaymentWay(method="bank_transfer", label="Bank transfer", account_name="Riverside Family Clinic",
               bank_name="First Prairie Bank", routing_number="011000015", account_number="4400123"),
    PaymentWay(method="cheque", label="Cheque", payable_to="Riverside Family Clinic",
               address_lines=["12 Mill Road", "Springfield, IL 62701"]),
]
TITLES = {
    Step.REMINDER: "Payment reminder",
    Step.FIRST_DEMAND: "Demand for payment",
    Step.SECOND_DEMAND: "Second demand for payment",
    Step.FINAL_NOTICE: "Final notice",
}


def demand(step: Step = Step.FIRST_DEMAND, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "notice_id": "ntc_0001", "debt_id": "debt-inv_0042", "customer_id": "cus_ada", "step": step,
        "template": step.value,
        "destination": Destination(channel=Channel.EMAIL, recipient="ada@example.com", contact_point_id="email-1"),
        "itemization": ITEMIZATION, "how_to_pay": WAYS, "deadline": date(2026, 4, 2), "days_past_due": 45,
        "issued_at": ISSUED_AT,
    }
    return DemandIssued(**(fields | overrides)).to_data()


def validation(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "notice_id": "ntc_0002", "debt_id": "debt-inv_0042", "customer_id": "cus_ada",
        "template": "validation",
        "destination": Destination(channel=Channel.LETTER, recipient="\n".join(ADDRESS), contact_point_id="address-1"),
        "itemization": ITEMIZATION, "how_to_pay": WAYS, "dispute_by": date(2026, 4, 23), "issued_at": ISSUED_AT,
    }
    return ValidationNoticeIssued(**(fields | overrides)).to_data()


def render(document: dict[str, Any], kind: str, **overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "kind": kind, "business_name": BUSINESS, "business_lines": BUSINESS_LINES,
        "debtor_name": "Ada Lovelace", "debtor_address_lines": ADDRESS,
    }
    return render_notice(document, **(arguments | overrides))


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def flat(text: str) -> str:
    """The text with its line breaks undone, for phrases a paragraph may wrap."""
    return " ".join(text.split())


@pytest.mark.parametrize("step", list(Step))
def test_each_step_of_a_demand_prints_its_title_account_itemization_and_deadline(step: Step) -> None:
    pdf = render(demand(step), "demand")

    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    assert TITLES[step] in text
    assert "Date issued" in text and "March 19, 2026" in text
    assert "Account" in text and "debt-inv_0042" in text
    for heading in ("Itemization date", "Original amount", "Payments", "Adjustments", "Balance"):
        assert heading in text
    assert "March 1, 2026" in text
    assert "USD 150.00" in text and "USD 25.00" in text and "USD 0.00" in text and "USD 125.00" in text
    assert "Please pay USD 125.00 by April 2, 2026." in flat(text)
    assert "Ada Lovelace" in text and "5 Analytical Way" in text
    assert BUSINESS in text and "12 Mill Road" in text
    assert PdfReader(io.BytesIO(pdf)).metadata.title == TITLES[step]


def test_the_titles_of_the_steps_differ() -> None:
    texts = {step: text_of(render(demand(step), "demand")) for step in Step}
    assert "Second demand for payment" not in texts[Step.FIRST_DEMAND]
    assert "Final notice" not in texts[Step.REMINDER]


def test_a_final_notice_says_what_happens_after_the_deadline() -> None:
    text = flat(text_of(render(demand(Step.FINAL_NOTICE), "demand")))
    assert "If it is not paid by April 2, 2026, the account may be referred to a collection agency." in text


def test_a_validation_notice_gives_the_dispute_date_and_the_right_to_dispute() -> None:
    text = text_of(render(validation(), "validation"))

    assert "Validation notice" in text
    assert "Dispute by" in text and "April 23, 2026" in text
    assert "USD 125.00" in text
    assert "You may dispute all or part of this debt. Call or write to us by April 23, 2026." in flat(text)
    assert "we will stop collecting any amount you dispute" in flat(text)
    assert "Please pay by" not in text


def test_how_to_pay_lists_each_way_with_what_it_needs() -> None:
    text = text_of(render(demand(), "demand"))

    assert "How to pay".upper() in text
    assert "Pay online by card" in text and "https://pay.riverside.example" in text
    assert "Reference: your account number" in text
    assert "Bank transfer" in text and "Bank: First Prairie Bank" in text
    assert "Routing number: 011000015" in text and "Account number: 4400123" in text
    assert "Payable to: Riverside Family Clinic" in text
    assert "Mail to: 12 Mill Road, Springfield, IL 62701" in text


def test_iban_and_bic_are_printed_for_an_international_transfer() -> None:
    way = PaymentWay(method="bank_transfer", label="SEPA transfer", iban="DE89370400440532013000", bic="COBADEFFXXX")
    text = text_of(render(demand(how_to_pay=[way]), "demand"))
    assert "IBAN: DE89370400440532013000" in text and "BIC: COBADEFFXXX" in text


def test_a_notice_without_ways_to_pay_asks_the_customer_to_get_in_touch() -> None:
    text = text_of(render(demand(how_to_pay=[]), "demand"))
    assert "Please contact us to arrange payment." in text


@pytest.mark.parametrize("kind", ["demand", "validation"])
def test_the_same_notice_renders_to_the_same_bytes(kind: str) -> None:
    document = demand() if kind == "demand" else validation()
    assert render(document, kind) == render(dict(document), kind)


def test_the_pdf_is_dated_when_the_notice_was_issued() -> None:
    reader = PdfReader(io.BytesIO(render(demand(), "demand")))
    assert reader.metadata.creation_date == ISSUED_AT


def test_money_keeps_the_currencys_decimals_and_groups_thousands() -> None:
    big = Itemization(itemization_date=date(2026, 3, 1), currency="USD", original_amount=123_456_789,
                      payments=100_000, adjustments=-5, balance=123_356_794)
    text = text_of(render(demand(itemization=big), "demand"))
    assert "USD 1,234,567.89" in text and "USD 1,000.00" in text and "USD -0.05" in text
    assert "USD 1,233,567.94" in text

    yen = Itemization(itemization_date=date(2026, 3, 1), currency="JPY", original_amount=50_000,
                      payments=0, adjustments=0, balance=50_000)
    assert "JPY 50,000" in text_of(render(demand(itemization=yen), "demand"))


@pytest.mark.parametrize(
    ("name", "printed"),
    [
        ("Łukasz Żółć", "Lukasz Zolc"),
        ("José Ñúñez", "José Ñúñez"),
        ("Δημήτρης Παπαδόπουλος", None),
        ("山田 太郎", None),
        ("محمد العلي", None),
    ],
)
def test_names_in_any_script_do_not_stop_a_notice(name: str, printed: str | None) -> None:
    pdf = render(demand(), "demand", debtor_name=name, business_name=f"Clinique {name}",
                 debtor_address_lines=[f"{name} Street 1", "Łódź 90-001"])

    text = text_of(pdf)
    assert "USD 125.00" in text
    if printed is not None:
        assert printed in text
    assert "Lodz 90-001" in text  # folded: Ł and ź are not in the built-in fonts
    assert PdfReader(io.BytesIO(pdf)).metadata.author == f"Clinique {name}"


def test_many_ways_to_pay_run_on_to_a_second_page_with_page_numbers() -> None:
    ways = [PaymentWay(method="card", label=f"Card terminal {n}", url=f"https://pay{n}.example") for n in range(40)]
    pdf = render(demand(how_to_pay=ways), "demand")

    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) >= 2
    assert "Page 1 of" in reader.pages[0].extract_text()
    last = reader.pages[-1].extract_text()
    assert f"{BUSINESS} - Demand for payment" in last
    assert "Card terminal 39" in text_of(pdf)


def test_a_notice_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError, match="not a kind of notice"):
        render(demand(), "invoice")
    with pytest.raises(ValueError):
        render(validation(), "demand")


@pytest.mark.parametrize("step", list(Step))
def test_the_subject_names_the_step_the_account_and_the_balance(step: Step) -> None:
    subject = notice_subject(demand(step), "demand")
    assert subject == f"{TITLES[step]}: account debt-inv_0042, balance USD 125.00"
    assert "\n" not in subject


def test_the_subject_of_a_validation_notice() -> None:
    assert notice_subject(validation(), "validation") == "Validation notice: account debt-inv_0042, balance USD 125.00"


def test_the_email_text_has_the_facts_of_the_pdf() -> None:
    text = notice_text(demand(Step.SECOND_DEMAND), "demand", BUSINESS)

    assert "Account: debt-inv_0042" in text
    assert "Date issued: March 19, 2026" in text
    assert "Original amount: USD 150.00" in text and "Payments: USD 25.00" in text
    assert "Adjustments: USD 0.00" in text and "Balance: USD 125.00" in text
    assert "Please pay USD 125.00 by April 2, 2026." in text
    assert "45 days past due" in text
    assert "- Pay online by card: https://pay.riverside.example; Reference: your account number" in text
    assert "- Cheque: Payable to: Riverside Family Clinic; Mail to: 12 Mill Road, Springfield, IL 62701" in text
    assert "attached as a PDF" in text
    assert text.rstrip().endswith(BUSINESS)


def test_the_email_text_of_a_validation_notice_gives_the_right_to_dispute() -> None:
    text = notice_text(validation(), "validation", BUSINESS)

    assert "Balance: USD 125.00" in text
    assert "Call or write to us by April 23, 2026" in text
    assert "Please pay" not in text
