"""Balances, without I/O: where an invoice stands on a given day, and a customer's balance per
currency: their own invoices less the account's credit, with payers' invoices and payers' credit
beside it and not in it."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.payments.domain.balances import (
    CustomerBalance,
    InvoiceBalance,
    PaymentBalance,
    Standing,
    customer_balances,
)

TODAY = date(2026, 3, 2)
DUE = date(2026, 4, 1)


def invoice(owed: int, paid: int = 0, *, invoice_id: str = "inv_1", billed_party: str = "customer",
            currency: str = "USD", voided: bool = False, due_date: date = DUE, plan_id: str | None = None,
            total: int | None = None) -> InvoiceBalance:
    return InvoiceBalance(
        invoice_id=invoice_id, number=f"INV-{invoice_id}", customer_id="cus_1", billed_party=billed_party,
        currency=currency, total=owed if total is None else total, owed=owed, paid=paid, voided=voided,
        due_date=due_date, plan_id=plan_id,
    )


def payment(amount: int, allocated: int = 0, refunded: int = 0, *, payment_id: str = "pay_1",
            currency: str = "USD", reversed_: bool = False, from_payer: bool = False) -> PaymentBalance:
    return PaymentBalance(
        payment_id=payment_id, customer_id="cus_1", currency=currency, amount=amount, allocated=allocated,
        refunded=refunded, reversed=reversed_, from_payer=from_payer,
    )


def balance(*, owed: int = 0, credit: int = 0, overdue: int = 0, in_plan: int = 0) -> CustomerBalance:
    return CustomerBalance(currency="USD", owed=owed, credit=credit, overdue=overdue, in_plan=in_plan,
                           with_payers=0, payer_credit=0)


# -- an invoice's standing -----------------------------------------------------------------------


@pytest.mark.parametrize(("balance_", "as_of", "standing"), [
    (invoice(5000), TODAY, Standing.OPEN),
    (invoice(5000), DUE, Standing.OPEN),  # on its due date it is not yet overdue
    (invoice(5000, 2000), TODAY, Standing.PARTIALLY_PAID),
    (invoice(5000, 5000), TODAY, Standing.PAID),
    (invoice(5000, 5000), date(2026, 9, 1), Standing.PAID),
    (invoice(3000, 5000, total=5000), TODAY, Standing.PAID),  # credited below what was paid
    (invoice(0, total=5000), TODAY, Standing.PAID),  # credited in full
    (invoice(5000), date(2026, 4, 2), Standing.OVERDUE),
    (invoice(5000, 2000), date(2026, 4, 2), Standing.OVERDUE),
    (invoice(5000, plan_id="plan_1"), date(2026, 9, 1), Standing.IN_PLAN),  # a plan keeps it from being overdue
    (invoice(5000, 5000, plan_id="plan_1"), TODAY, Standing.PAID),
    (invoice(0, voided=True, total=5000), date(2026, 9, 1), Standing.VOIDED),
    (invoice(0, 5000, voided=True, total=5000), TODAY, Standing.VOIDED),
])
def test_an_invoice_stands(balance_: InvoiceBalance, as_of: date, standing: Standing) -> None:
    assert balance_.standing(as_of) == standing


def test_an_invoice_balance_is_what_it_asks_less_what_was_paid() -> None:
    assert invoice(5000, 1200, total=6000).balance == 3800
    assert invoice(3000, 5000, total=5000).balance == -2000


# -- a customer's standing -----------------------------------------------------------------------


@pytest.mark.parametrize(("customer", "net", "standing"), [
    (balance(owed=5000, overdue=1000), 5000, Standing.OVERDUE),
    (balance(owed=5000, credit=9000, overdue=1000), -4000, Standing.OVERDUE),
    (balance(owed=5000, in_plan=5000), 5000, Standing.IN_PLAN),
    (balance(owed=5000, in_plan=2000), 5000, Standing.OPEN),
    (balance(owed=5000, credit=2000), 3000, Standing.OPEN),
    (balance(owed=2000, credit=5000), -3000, Standing.CREDIT),
    (balance(credit=1), -1, Standing.CREDIT),
    (balance(owed=2000, credit=2000), 0, Standing.SETTLED),
    (balance(), 0, Standing.SETTLED),
])
def test_a_customer_stands(customer: CustomerBalance, net: int, standing: Standing) -> None:
    assert (customer.net, customer.standing) == (net, standing)


def test_a_payments_credit_is_what_it_did_not_allocate_or_refund_and_nothing_once_reversed() -> None:
    assert payment(5000, 3000, 500).unallocated == 1500
    assert payment(5000, 0, 500, reversed_=True).unallocated == 0


# -- a customer's balances -----------------------------------------------------------------------


def test_a_customer_owes_their_open_invoices_less_their_credit() -> None:
    [usd] = customer_balances(
        [
            invoice(5000, 2000, invoice_id="a"),
            invoice(3000, 3000, invoice_id="b"),  # paid
            invoice(4000, invoice_id="c", due_date=date(2026, 3, 1)),  # overdue
            invoice(2500, invoice_id="d", plan_id="plan_1", due_date=date(2026, 3, 1)),  # in a plan
            invoice(0, invoice_id="e", voided=True, total=7000),
            invoice(1000, 4000, invoice_id="f", total=4000),  # credited after it was paid
        ],
        [
            payment(9000, 5000, 1000, payment_id="p1"),  # 3000 credit
            payment(1000, 0, 0, payment_id="p2", reversed_=True),
            payment(500, payment_id="p3"),
        ],
        TODAY,
    )
    assert (usd.currency, usd.owed, usd.credit, usd.overdue, usd.in_plan) == ("USD", 9500, 3500, 4000, 2500)
    assert (usd.net, usd.standing, usd.with_payers, usd.payer_credit) == (6000, Standing.OVERDUE, 0, 0)


def test_payers_invoices_and_payers_credit_are_beside_the_customers_balance() -> None:
    [usd] = customer_balances(
        [invoice(2000, invoice_id="own"), invoice(9000, 4000, invoice_id="claim", billed_party="payer",
                                                  due_date=date(2026, 1, 1))],
        [payment(6000, 4000, payment_id="payer", from_payer=True), payment(500, payment_id="ada")],
        TODAY,
    )
    assert (usd.owed, usd.credit, usd.net) == (2000, 500, 1500)
    assert (usd.with_payers, usd.payer_credit) == (5000, 2000)
    assert usd.overdue == 0  # the payer's overdue claim is not the customer's
    assert usd.standing == Standing.OPEN


def test_one_balance_per_currency_in_currency_order() -> None:
    balances = customer_balances(
        [invoice(1000, invoice_id="u"), invoice(2000, invoice_id="e", currency="EUR"),
         invoice(3000, 3000, invoice_id="g", currency="GBP")],
        [payment(700, currency="CHF"), payment(300, payment_id="p2")],
        TODAY,
    )
    assert [(b.currency, b.owed, b.credit, b.standing) for b in balances] == [
        ("CHF", 0, 700, Standing.CREDIT),
        ("EUR", 2000, 0, Standing.OPEN),
        ("GBP", 0, 0, Standing.SETTLED),  # a paid invoice still shows its currency
        ("USD", 1000, 300, Standing.OPEN),
    ]


def test_nothing_at_all_is_no_balance() -> None:
    assert customer_balances([], [], TODAY) == []


def test_a_customer_whose_invoices_are_all_in_a_plan_is_in_plan() -> None:
    [usd] = customer_balances(
        [invoice(4000, 1000, invoice_id="a", plan_id="plan_1", due_date=date(2026, 1, 1)),
         invoice(2000, invoice_id="b", plan_id="plan_1")],
        [],
        TODAY,
    )
    assert (usd.owed, usd.in_plan, usd.overdue, usd.standing) == (5000, 5000, 0, Standing.IN_PLAN)


@given(
    invoices=st.lists(st.tuples(
        st.integers(0, 9000), st.integers(0, 9000), st.booleans(), st.sampled_from(["customer", "payer"]),
        st.integers(-30, 30),
    ), max_size=8),
    payments=st.lists(st.tuples(st.integers(1, 9000), st.integers(0, 100), st.booleans(), st.booleans()),
                      max_size=6),
)
def test_a_customers_balance_adds_up_from_invoices_and_payments(
    invoices: list[tuple[int, int, bool, str, int]], payments: list[tuple[int, int, bool, bool]],
) -> None:
    invoice_balances = [
        invoice(owed, paid, invoice_id=f"inv_{n}", voided=voided, billed_party=party,
                due_date=date.fromordinal(TODAY.toordinal() + days))
        for n, (owed, paid, voided, party, days) in enumerate(invoices)
    ]
    payment_balances = [
        payment(amount, amount * used // 100, 0, payment_id=f"pay_{n}", reversed_=reversed_, from_payer=payer)
        for n, (amount, used, reversed_, payer) in enumerate(payments)
    ]
    balances = customer_balances(invoice_balances, payment_balances, TODAY)
    if not invoices and not payments:
        assert balances == []
        return
    [usd] = balances
    open_ = [i for i in invoice_balances if not i.voided and i.balance > 0]
    assert usd.owed == sum(i.balance for i in open_ if i.billed_party == "customer")
    assert usd.with_payers == sum(i.balance for i in open_ if i.billed_party == "payer")
    assert usd.overdue == sum(i.balance for i in open_ if i.billed_party == "customer" and i.due_date < TODAY)
    assert usd.credit == sum(p.unallocated for p in payment_balances if not p.from_payer)
    assert usd.payer_credit == sum(p.unallocated for p in payment_balances if p.from_payer)
    assert usd.net == usd.owed - usd.credit
    assert min(usd.owed, usd.credit, usd.overdue, usd.with_payers, usd.payer_credit) >= 0
