"""The payment aggregate, without I/O: ``amount = allocated + refunded + unallocated`` always
holds, nothing is allocated beyond what an invoice still asks or beyond what the payment has
left, only unallocated credit is refunded, a reversed payment takes nothing more, and only a
collection agency's payment is net of a fee."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.payments.domain.events import (
    Allocation,
    AllocationReleased,
    AllocationRule,
    PartyKind,
    PayingParty,
    PaymentAllocated,
    PaymentChannel,
    PaymentMethod,
    PaymentReceived,
    PaymentReversed,
    RefundIssued,
    ReversalReason,
)
from services.payments.domain.payment import OpenInvoice, Payment, oldest_first
from shared.events import DomainEvent
from shared.rules import RuleViolated

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
CUSTOMER = "cus_1"
ADA = PayingParty(kind=PartyKind.CUSTOMER, name="Ada Lovelace")
AGENCY = PayingParty(kind=PartyKind.COLLECTION_AGENCY, name="Recovery Partners", agency_id="agency-1")


def invoice(invoice_id: str, balance: int, *, due: date = date(2026, 4, 1), issued: date = date(2026, 3, 2),
            customer_id: str = CUSTOMER, currency: str = "USD", number: str | None = None) -> OpenInvoice:
    return OpenInvoice(
        invoice_id=invoice_id, number=number or f"INV-{invoice_id}", customer_id=customer_id, currency=currency,
        balance=balance, due_date=due, issue_date=issued,
    )


def decided(payment: Payment, events: list[DomainEvent]) -> list[DomainEvent]:
    """Apply what the payment decided, as the repository does when it saves them."""
    for event in events:
        payment.apply(event)
    return events


def received(amount: int, *, payment_id: str = "pay_1", fee: int = 0, party: PayingParty = ADA,
             currency: str = "USD") -> Payment:
    payment = Payment(payment_id)
    decided(payment, payment.receive(
        customer_id=CUSTOMER, party=party, method=PaymentMethod.CARD, channel=PaymentChannel.DESK, amount=amount,
        fee=fee, currency=currency, reference="auth-1", received_on=TODAY, recorded_by="front-desk", at=NOW,
    ))
    return payment


def pay(invoice_id: str, amount: int) -> Allocation:
    return Allocation(invoice_id=invoice_id, invoice_number=f"INV-{invoice_id}", amount=amount)


def allocate(payment: Payment, invoices: list[OpenInvoice], *allocations: Allocation) -> list[DomainEvent]:
    return decided(payment, payment.allocate(
        list(allocations), {i.invoice_id: i for i in invoices}, AllocationRule.EXPLICIT, NOW,
    ))


def refund(payment: Payment, amount: int) -> list[DomainEvent]:
    return decided(payment, payment.refund(
        "ref_1", amount, PaymentMethod.CARD, None, "overpaid", "front-desk", NOW,
    ))


def reverse(payment: Payment) -> list[DomainEvent]:
    return decided(payment, payment.reverse(ReversalReason.BOUNCED_CHEQUE, "NSF", "front-desk", NOW))


def refused(field: str):  # type: ignore[no-untyped-def]
    """``pytest.raises`` for a RuleViolated naming ``field``."""
    return pytest.raises(RuleViolated, check=lambda error: error.field == field)


# -- receiving -----------------------------------------------------------------------------------


def test_a_received_payment_is_all_unallocated_credit() -> None:
    payment = received(5000)
    assert (payment.amount, payment.allocated, payment.refunded, payment.unallocated) == (5000, 0, 0, 5000)
    assert payment.customer_id == CUSTOMER and payment.currency == "USD" and payment.version == 1
    assert isinstance(payment.received, PaymentReceived)


def test_a_payment_is_received_once() -> None:
    payment = received(5000)
    with refused("payment_id"):
        payment.receive(
            customer_id=CUSTOMER, party=ADA, method=PaymentMethod.CARD, channel=PaymentChannel.DESK, amount=1,
            fee=0, currency="USD", reference=None, received_on=TODAY, recorded_by="front-desk", at=NOW,
        )


@pytest.mark.parametrize("amount", [0, -100])
def test_a_payment_is_more_than_zero(amount: int) -> None:
    with refused("amount"):
        received(amount)


def test_a_collection_agency_pays_net_of_its_fee() -> None:
    payment = received(10000, fee=2500, party=AGENCY)
    assert payment.received is not None and payment.received.fee == 2500
    # the account is credited with the whole amount: the fee is the agency's cost, not the customer's
    assert payment.unallocated == 10000


@pytest.mark.parametrize("fee", [-1, 10000, 10001])
def test_a_fee_is_at_least_zero_and_less_than_the_amount(fee: int) -> None:
    with refused("fee"):
        received(10000, fee=fee, party=AGENCY)


@pytest.mark.parametrize("kind", [k for k in PartyKind if k != PartyKind.COLLECTION_AGENCY])
def test_only_a_collection_agency_keeps_a_fee(kind: PartyKind) -> None:
    with refused("fee"):
        received(10000, fee=100, party=PayingParty(kind=kind, name="Someone", payer_id="acme"))


def test_a_payment_never_received_has_no_customer_and_takes_nothing() -> None:
    nothing = Payment("pay_ghost")
    assert (nothing.amount, nothing.unallocated) == (0, 0)
    with refused("payment_id"):
        _ = nothing.customer_id
    with refused("payment_id"):
        nothing.refund("ref_1", 1, PaymentMethod.CARD, None, "x", "desk", NOW)
    with refused("payment_id"):
        nothing.reverse(ReversalReason.CHARGEBACK, None, "desk", NOW)


# -- allocating ----------------------------------------------------------------------------------


def test_allocations_pay_invoices_and_leave_the_rest_as_credit() -> None:
    payment = received(5000)
    first, second = invoice("inv_a", 2000), invoice("inv_b", 4000)
    [event] = allocate(payment, [first, second], pay("inv_a", 2000), pay("inv_b", 1000))
    assert isinstance(event, PaymentAllocated)
    assert (event.unallocated, event.rule, event.customer_id) == (2000, AllocationRule.EXPLICIT, CUSTOMER)
    assert payment.allocations == {"inv_a": 2000, "inv_b": 1000}
    assert (payment.allocated, payment.unallocated) == (3000, 2000)
    # a later allocation to the same invoice adds to it
    allocate(payment, [replace(second, balance=3000)], pay("inv_b", 500))
    assert payment.allocations == {"inv_a": 2000, "inv_b": 1500}


def test_nothing_to_allocate_decides_nothing() -> None:
    assert received(5000).allocate([], {}, AllocationRule.OLDEST_FIRST, NOW) == []


def test_an_invoice_is_not_paid_beyond_its_balance() -> None:
    payment = received(5000)
    with refused("allocations[1].amount") as error:
        allocate(payment, [invoice("inv_a", 2000), invoice("inv_b", 1500)], pay("inv_a", 2000), pay("inv_b", 1501))
    assert "1500" in error.value.message
    assert payment.allocated == 0
    # exactly the balance is fine
    allocate(payment, [invoice("inv_b", 1500)], pay("inv_b", 1500))
    assert payment.allocated == 1500


def test_an_invoice_already_paid_takes_nothing() -> None:
    with refused("allocations[0].amount"):
        allocate(received(5000), [invoice("inv_a", 0)], pay("inv_a", 1))


def test_another_customers_invoice_is_refused() -> None:
    with refused("allocations[1].invoice_id"):
        allocate(received(5000), [invoice("inv_a", 1000), invoice("inv_b", 1000, customer_id="cus_2")],
                 pay("inv_a", 1000), pay("inv_b", 1000))


def test_an_invoice_in_another_currency_is_refused() -> None:
    with refused("allocations[0].invoice_id") as error:
        allocate(received(5000), [invoice("inv_a", 1000, currency="EUR")], pay("inv_a", 1000))
    assert "EUR" in error.value.message


def test_an_unknown_invoice_is_refused() -> None:
    with refused("allocations[0].invoice_id"):
        allocate(received(5000), [], pay("inv_nope", 100))


def test_an_invoice_is_named_once() -> None:
    with refused("allocations[1].invoice_id"):
        allocate(received(5000), [invoice("inv_a", 3000)], pay("inv_a", 1000), pay("inv_a", 1000))


def test_no_more_is_allocated_than_is_unallocated() -> None:
    payment = received(3000)
    refund(payment, 500)
    with refused("allocations"):
        allocate(payment, [invoice("inv_a", 4000), invoice("inv_b", 4000)], pay("inv_a", 2000), pay("inv_b", 501))
    allocate(payment, [invoice("inv_a", 4000), invoice("inv_b", 4000)], pay("inv_a", 2000), pay("inv_b", 500))
    assert payment.unallocated == 0


# -- refunds -------------------------------------------------------------------------------------


def test_a_refund_pays_back_unallocated_credit_only() -> None:
    payment = received(5000)
    allocate(payment, [invoice("inv_a", 3000)], pay("inv_a", 3000))
    with refused("amount") as error:
        refund(payment, 2001)
    assert "2000" in error.value.message
    [event] = refund(payment, 1500)
    assert isinstance(event, RefundIssued) and event.amount == 1500
    assert (payment.allocated, payment.refunded, payment.unallocated) == (3000, 1500, 500)
    refund(payment, 500)
    with refused("amount"):
        refund(payment, 1)


@pytest.mark.parametrize("amount", [0, -1])
def test_a_refund_is_more_than_zero(amount: int) -> None:
    with refused("amount"):
        refund(received(5000), amount)


# -- reversals -----------------------------------------------------------------------------------


def test_a_reversal_releases_every_allocation_and_loses_what_was_not_refunded() -> None:
    payment = received(6000)
    allocate(payment, [invoice("inv_a", 2000), invoice("inv_b", 3000)], pay("inv_a", 2000), pay("inv_b", 1000))
    refund(payment, 1000)
    [event] = reverse(payment)
    assert isinstance(event, PaymentReversed)
    assert event.amount == 5000  # 6000 less the 1000 already paid back
    assert {(a.invoice_id, a.amount) for a in event.released} == {("inv_a", 2000), ("inv_b", 1000)}
    assert (payment.allocated, payment.unallocated, payment.refunded) == (0, 0, 1000)
    assert payment.allocations == {}


def test_a_reversed_payment_is_not_reversed_again_nor_used() -> None:
    payment = received(6000)
    reverse(payment)
    with refused("payment_id") as error:
        reverse(payment)
    assert "bounced_cheque" in error.value.message
    with refused("payment_id"):
        refund(payment, 1)
    with refused("payment_id"):
        allocate(payment, [invoice("inv_a", 1000)], pay("inv_a", 100))
    assert payment.release("inv_a", 100, "credited", NOW) == []


def test_a_reversal_releases_nothing_already_released() -> None:
    payment = received(3000)
    allocate(payment, [invoice("inv_a", 1000), invoice("inv_b", 2000)], pay("inv_a", 1000), pay("inv_b", 2000))
    decided(payment, payment.release("inv_a", 1000, "voided", NOW))
    [event] = reverse(payment)
    assert isinstance(event, PaymentReversed)
    assert [(a.invoice_id, a.amount) for a in event.released] == [("inv_b", 2000)]


# -- releases ------------------------------------------------------------------------------------


def test_a_release_is_capped_by_what_was_allocated_to_the_invoice() -> None:
    payment = received(5000)
    allocate(payment, [invoice("inv_a", 3000), invoice("inv_b", 2000)], pay("inv_a", 3000), pay("inv_b", 2000))
    [event] = decided(payment, payment.release("inv_a", 9999, "the invoice was voided", NOW))
    assert isinstance(event, AllocationReleased)
    assert (event.amount, event.invoice_number, event.reason) == (3000, "INV-inv_a", "the invoice was voided")
    assert (payment.allocated, payment.unallocated) == (2000, 3000)
    # nothing more to give back for it, and nothing for an invoice it never paid
    assert payment.release("inv_a", 1, "again", NOW) == []
    assert payment.release("inv_z", 1, "never paid", NOW) == []
    [partial] = decided(payment, payment.release("inv_b", 500, "credit note", NOW))
    assert isinstance(partial, AllocationReleased) and partial.amount == 500
    assert payment.allocations == {"inv_a": 0, "inv_b": 1500}


# -- oldest first --------------------------------------------------------------------------------


def test_oldest_first_pays_by_due_date_then_issue_date_then_number() -> None:
    invoices = [
        invoice("late", 1000, due=date(2026, 5, 1)),
        invoice("second", 1000, due=date(2026, 4, 1), issued=date(2026, 3, 2), number="INV-0002"),
        invoice("first", 1000, due=date(2026, 4, 1), issued=date(2026, 3, 1), number="INV-0009"),
        invoice("third", 1000, due=date(2026, 4, 1), issued=date(2026, 3, 2), number="INV-0003"),
        invoice("paid", 0, due=date(2026, 1, 1)),
    ]
    assert [(a.invoice_id, a.amount) for a in oldest_first(invoices, 3500)] == [
        ("first", 1000), ("second", 1000), ("third", 1000), ("late", 500)]
    assert [(a.invoice_id, a.amount) for a in oldest_first(invoices, 700)] == [("first", 700)]
    assert [a.invoice_number for a in oldest_first(invoices, 1)] == ["INV-0009"]


def test_oldest_first_leaves_what_no_invoice_asks() -> None:
    allocations = oldest_first([invoice("a", 1000), invoice("b", 500, due=date(2026, 3, 9))], 9000)
    assert [(a.invoice_id, a.amount) for a in allocations] == [("b", 500), ("a", 1000)]
    assert oldest_first([], 9000) == []
    assert oldest_first([invoice("a", 1000)], 0) == []


@given(
    balances=st.lists(st.integers(min_value=-500, max_value=5000), max_size=8),
    amount=st.integers(min_value=0, max_value=30000),
)
def test_oldest_first_never_pays_beyond_a_balance_nor_the_amount(balances: list[int], amount: int) -> None:
    invoices = [invoice(f"inv_{n}", b, due=date(2026, 4, 1 + n % 3), number=f"INV-{n:04d}")
                for n, b in enumerate(balances)]
    allocations = oldest_first(invoices, amount)
    by_id = {i.invoice_id: i for i in invoices}
    assert all(0 < a.amount <= by_id[a.invoice_id].balance for a in allocations)
    assert len({a.invoice_id for a in allocations}) == len(allocations)
    assert sum(a.amount for a in allocations) == min(amount, sum(max(b, 0) for b in balances))


# -- the equation, for any sequence --------------------------------------------------------------

INVOICES = 4
operations = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), st.integers(1, 8000)),
        st.tuples(st.just("allocate"), st.integers(0, 7), st.integers(0, INVOICES - 1), st.integers(1, 6000)),
        st.tuples(st.just("oldest_first"), st.integers(0, 7)),
        st.tuples(st.just("refund"), st.integers(0, 7), st.integers(1, 6000)),
        st.tuples(st.just("reverse"), st.integers(0, 7)),
        st.tuples(st.just("credit"), st.integers(0, INVOICES - 1), st.integers(1, 4000)),
    ),
    max_size=30,
)


@settings(max_examples=300)
@given(owed=st.lists(st.integers(1000, 9000), min_size=INVOICES, max_size=INVOICES), steps=operations)
def test_any_sequence_keeps_every_payment_balanced_and_no_invoice_overpaid(
    owed: list[int], steps: list[tuple]  # type: ignore[type-arg]
) -> None:
    """Payments received, allocated (named or oldest first), refunded and reversed, with credit
    notes lowering invoices after they were paid (the excess released, the latest payment first,
    as the ledger does): each payment keeps ``amount = allocated + refunded + unallocated`` (a
    reversed one keeps nothing) and no invoice is ever paid beyond what it asks."""
    asks = {f"inv_{n}": amount for n, amount in enumerate(owed)}
    payments: list[Payment] = []

    def paid(invoice_id: str) -> int:
        return sum(p.allocations.get(invoice_id, 0) for p in payments)

    def open_invoices() -> dict[str, OpenInvoice]:
        return {i: invoice(i, asks[i] - paid(i), number=f"INV-{i}") for i in asks}

    for step in steps:
        match step:
            case ("receive", amount):
                payments.append(received(amount, payment_id=f"pay_{len(payments)}"))
            case ("allocate", which, target, amount) if payments:
                payment = payments[which % len(payments)]
                invoice_id = f"inv_{target}"
                balance = asks[invoice_id] - paid(invoice_id)
                request = [pay(invoice_id, amount)]
                if payment.reversed is not None:
                    with refused("payment_id"):
                        payment.allocate(request, open_invoices(), AllocationRule.EXPLICIT, NOW)
                elif amount > balance:
                    with refused("allocations[0].amount"):
                        payment.allocate(request, open_invoices(), AllocationRule.EXPLICIT, NOW)
                elif amount > payment.unallocated:
                    with refused("allocations"):
                        payment.allocate(request, open_invoices(), AllocationRule.EXPLICIT, NOW)
                else:
                    decided(payment, payment.allocate(request, open_invoices(), AllocationRule.EXPLICIT, NOW))
            case ("oldest_first", which) if payments:
                payment = payments[which % len(payments)]
                if payment.reversed is None:
                    invoices = open_invoices()
                    decided(payment, payment.allocate(
                        oldest_first(list(invoices.values()), payment.unallocated), invoices,
                        AllocationRule.OLDEST_FIRST, NOW,
                    ))
            case ("refund", which, amount) if payments:
                payment = payments[which % len(payments)]
                if payment.reversed is not None:
                    with refused("payment_id"):
                        refund(payment, amount)
                elif amount > payment.unallocated:
                    with refused("amount"):
                        refund(payment, amount)
                else:
                    refund(payment, amount)
            case ("reverse", which) if payments:
                payment = payments[which % len(payments)]
                if payment.reversed is not None:
                    with refused("payment_id"):
                        reverse(payment)
                else:
                    reverse(payment)
            case ("credit", target, amount):
                invoice_id = f"inv_{target}"
                asks[invoice_id] = max(asks[invoice_id] - amount, 0)
                excess = paid(invoice_id) - asks[invoice_id]
                for payment in reversed(payments):
                    if excess <= 0:
                        break
                    for event in decided(payment, payment.release(invoice_id, excess, "credit note", NOW)):
                        assert isinstance(event, AllocationReleased)
                        excess -= event.amount
                assert excess <= 0

        for payment in payments:
            assert payment.unallocated >= 0 and all(a >= 0 for a in payment.allocations.values())
            if payment.reversed is None:
                assert payment.amount == payment.allocated + payment.refunded + payment.unallocated
            else:
                assert (payment.allocated, payment.unallocated) == (0, 0)
                assert payment.reversed.amount == payment.amount - payment.refunded
        for invoice_id, asked in asks.items():
            assert 0 <= paid(invoice_id) <= asked, invoice_id
