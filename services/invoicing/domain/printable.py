"""What an invoice, a credit note or a statement shows the person who receives it.

These are views, not the bills themselves: the application fills them from the invoice's events
and the parties' details, and an adapter lays them out (as a PDF, say). Nothing here is worked out
again at printing time, so what the customer reads is exactly what invoicing recorded; in
particular amounts are printed as given, with the sign they carry (a credit note's are usually
negative).

Amounts are integer minor units of the document's currency.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.money import CurrencyCode, minor_unit_exponent


class _Printed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _InCurrency(_Printed):
    currency: CurrencyCode

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, currency: str) -> str:
        # refused here rather than when printing, where the document could no longer be fixed
        minor_unit_exponent(currency)
        return currency


class PrintedParty(_Printed):
    """Who sends or receives the document, as printed in its address block."""

    name: str = Field(min_length=1)
    address_lines: list[str] = []
    reference: str | None = Field(
        None, description="How the seller knows the party, e.g. a customer number or member id"
    )
    tax_id: str | None = None
    email: str | None = None


class PrintedLine(_Printed):
    """One charge (or, on a credit note, one credit) on the document."""

    description: str = Field(min_length=1)
    code: str | None = Field(None, description='The charge\'s code, e.g. "HCPCS G0008"')
    service_date: date | None = None
    units: Decimal
    unit_price: int = Field(description="Price of one unit, minor units")
    amount: int = Field(description="What the line charges, minor units")


class PrintableInvoice(_InCurrency):
    """An invoice or a credit note as its recipient reads it."""

    kind: Literal["invoice", "credit_note"]
    number: str = Field(min_length=1)
    issue_date: date
    due_date: date | None = None
    payment_terms: str | None = Field(None, description='e.g. "Net 30"')
    seller: PrintedParty
    bill_to: PrintedParty
    lines: list[PrintedLine]
    total: int = Field(description="What the document asks for (or credits), minor units")
    notes: list[str] = Field(
        default=[],
        description="Why the document reads as it does, e.g. the remainder of a claim after the "
        "payer's denial, or a total above the customer's estimate",
    )
    how_to_pay: list[str] = []
    related_number: str | None = Field(
        None, description="The invoice a credit note or a transferred balance refers to"
    )

    @property
    def title(self) -> str:
        """e.g. "Invoice INV-2026-000001" or "Credit note CN-2026-000003"."""
        return f"{_KIND_NAMES[self.kind]} {self.number}"


_KIND_NAMES = {"invoice": "Invoice", "credit_note": "Credit note"}


class StatementItem(_Printed):
    """One document on a statement and what is still open on it."""

    number: str = Field(min_length=1)
    issue_date: date
    due_date: date | None = None
    description: str
    original_amount: int = Field(description="The document's total, minor units")
    open_amount: int = Field(description="What is still owed on it, minor units")


class PrintableStatement(_InCurrency):
    """A customer's open items on one date."""

    number: str = Field(min_length=1)
    statement_date: date
    seller: PrintedParty
    customer: PrintedParty
    items: list[StatementItem]
    total_open: int = Field(description="What the customer owes on the statement date")
    how_to_pay: list[str] = []
    notes: list[str] = []

    @property
    def title(self) -> str:
        """e.g. "Statement ST-2026-000007"."""
        return f"Statement {self.number}"


def how_to_pay_lines(options: list[dict[str, object]], notes: str | None) -> list[str]:
    """A business's payment options, as published by payments, in the lines a document prints
    under "How to pay": each option with what a customer needs to use it."""
    lines = []
    for option in options:
        label, method = str(option.get("label") or option.get("method")), option.get("method")
        details: list[str] = []
        match method:
            case "card":
                details = [str(option["url"])] if option.get("url") else []
            case "bank_transfer":
                account = (
                    f"IBAN {option['iban']}" + (f", BIC {option['bic']}" if option.get("bic") else "")
                    if option.get("iban")
                    else f"routing {option.get('routing_number')}, account {option.get('account_number')}"
                )
                details = [str(v) for v in (option.get("account_name"), option.get("bank_name")) if v] + [account]
            case "cheque":
                payable_to = f"payable to {option['payable_to']}" if option.get("payable_to") else ""
                details = [d for d in (payable_to, ", ".join(map(str, option.get("address_lines") or []))) if d]  # type: ignore[call-overload]
            case _:
                details = [url for url in [option.get("url")] if url] + [  # type: ignore[misc]
                    ", ".join(map(str, option.get("address_lines") or []))  # type: ignore[call-overload]
                ]
        line = f"{label}: {'; '.join(d for d in details if d)}" if any(details) else label
        if option.get("reference_hint"):
            line += f" (quote {option['reference_hint']})"
        lines.append(line)
    return lines + ([notes] if notes else [])
