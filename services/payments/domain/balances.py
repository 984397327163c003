"""Balances: what an invoice and a customer's account stand at, from what invoicing says each
invoice asks and what payments did.

An invoice's balance is what it asks less what was allocated to it; its standing says whether it
is open, partly paid, paid, in a payment plan or overdue on a given day. A customer's balance, per
currency, is what their own invoices ask less the account's credit (payments not allocated,
refunded or reversed). Invoices billed to payers are shown beside it, not in it: the customer does
not owe them until a payer moves them on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Standing(StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    IN_PLAN = "in_plan"
    OVERDUE = "overdue"
    VOIDED = "voided"
    CREDIT = "credit"  # a customer whose account holds more credit than their invoices ask
    SETTLED = "settled"  # a customer who owes nothing and holds no credit


@dataclass(frozen=True)
class InvoiceBalance:
    invoice_id: str
    number: str
    customer_id: str
    billed_party: str
    currency: str
    total: int
    owed: int  # what invoicing says it asks: total less credits, write-offs and transfers
    paid: int
    voided: bool
    due_date: date
    plan_id: str | None

    @property
    def balance(self) -> int:
        return self.owed - self.paid

    def standing(self, as_of: date) -> Standing:
        if self.voided:
            return Standing.VOIDED
        if self.balance <= 0:
            return Standing.PAID
        if self.plan_id is not None:
            return Standing.IN_PLAN
        if as_of > self.due_date:
            return Standing.OVERDUE
        if self.paid > 0:
            return Standing.PARTIALLY_PAID
        return Standing.OPEN


@dataclass(frozen=True)
class PaymentBalance:
    payment_id: str
    customer_id: str
    currency: str
    amount: int
    allocated: int
    refunded: int
    reversed: bool
    from_payer: bool

    @property
    def unallocated(self) -> int:
        return 0 if self.reversed else self.amount - self.allocated - self.refunded


@dataclass(frozen=True)
class CustomerBalance:
    currency: str
    owed: int  # the customer's own invoices
    credit: int  # payments by the customer or on their behalf not yet used
    overdue: int
    in_plan: int
    with_payers: int  # invoices billed to payers, still open
    payer_credit: int  # payers' payments beyond what their invoices ask

    @property
    def net(self) -> int:
        return self.owed - self.credit

    @property
    def standing(self) -> Standing:
        if self.overdue > 0:
            return Standing.OVERDUE
        if self.owed > 0 and self.owed == self.in_plan:
            return Standing.IN_PLAN
        if self.net > 0:
            return Standing.OPEN
        if self.net < 0:
            return Standing.CREDIT
        return Standing.SETTLED


def customer_balances(
    invoices: Iterable[InvoiceBalance], payments: Iterable[PaymentBalance], as_of: date,
) -> list[CustomerBalance]:
    """One balance per currency the customer has invoices or payments in."""
    sums: dict[str, dict[str, int]] = {}

    def of(currency: str) -> dict[str, int]:
        return sums.setdefault(currency, dict.fromkeys(
            ("owed", "credit", "overdue", "in_plan", "with_payers", "payer_credit"), 0
        ))

    for invoice in invoices:
        totals = of(invoice.currency)
        if invoice.voided or invoice.balance <= 0:
            continue
        if invoice.billed_party != "customer":
            totals["with_payers"] += invoice.balance
            continue
        totals["owed"] += invoice.balance
        standing = invoice.standing(as_of)
        if standing == Standing.OVERDUE:
            totals["overdue"] += invoice.balance
        elif standing == Standing.IN_PLAN:
            totals["in_plan"] += invoice.balance
    for payment in payments:
        of(payment.currency)["payer_credit" if payment.from_payer else "credit"] += payment.unallocated
    return [CustomerBalance(currency=currency, **totals) for currency, totals in sorted(sums.items())]
