"""A payment: money received for a customer's account, folded from its events.

It guards the one equation payments lives by: ``amount = allocated + refunded + unallocated``.
Nothing is allocated or refunded beyond what is unallocated, nothing is allocated to an invoice
beyond what the invoice still asks, and a reversed payment takes nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from services.payments.domain.events import (
    Allocation,
    AllocationReleased,
    AllocationRule,
    PayingParty,
    PaymentAllocated,
    PaymentChannel,
    PaymentMethod,
    PaymentReceived,
    PaymentReversed,
    RefundIssued,
    ReversalReason,
)
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.rules import RuleViolated


@dataclass(frozen=True)
class OpenInvoice:
    """An invoice as allocation sees it: what it still asks and in which order it is paid."""

    invoice_id: str
    number: str
    customer_id: str
    currency: str
    balance: int
    due_date: date
    issue_date: date
    billed_party: str = "customer"
    plan_id: str | None = None  # the active payment plan it is in


def oldest_first(invoices: Sequence[OpenInvoice], amount: int) -> list[Allocation]:
    """Pay ``amount`` into the invoices that fell due first (then were issued first, then by
    number), each up to its balance."""
    allocations = []
    for invoice in sorted(invoices, key=lambda i: (i.due_date, i.issue_date, i.number)):
        if amount <= 0:
            break
        share = min(amount, invoice.balance)
        if share > 0:
            allocations.append(Allocation(invoice_id=invoice.invoice_id, invoice_number=invoice.number, amount=share))
            amount -= share
    return allocations


class Payment(FoldedFromEvents):
    def __init__(self, payment_id: str) -> None:
        self.payment_id = payment_id
        self.version = 0
        self.received: PaymentReceived | None = None
        self.allocations: dict[str, int] = {}  # invoice id -> amount allocated and not released
        self.numbers: dict[str, str] = {}  # invoice id -> number
        self.refunded = 0
        self.reversed: PaymentReversed | None = None

    # -- reading ---------------------------------------------------------------------------------

    @property
    def customer_id(self) -> str:
        return self._received.customer_id

    @property
    def currency(self) -> str:
        return self._received.currency

    @property
    def amount(self) -> int:
        return self.received.amount if self.received else 0

    @property
    def allocated(self) -> int:
        return sum(self.allocations.values())

    @property
    def unallocated(self) -> int:
        if self.reversed is not None:
            return 0
        return self.amount - self.allocated - self.refunded

    @property
    def _received(self) -> PaymentReceived:
        if self.received is None:
            raise RuleViolated("payment_id", f"payment {self.payment_id} was never received")
        return self.received

    def _open(self) -> None:
        self._received  # noqa: B018 - raises when there is no such payment
        if self.reversed is not None:
            raise RuleViolated("payment_id", f"payment {self.payment_id} was reversed ({self.reversed.reason})")

    # -- deciding --------------------------------------------------------------------------------

    def receive(
        self, *, customer_id: str, party: PayingParty, method: PaymentMethod, channel: PaymentChannel, amount: int,
        fee: int, currency: str, reference: str | None, received_on: date, recorded_by: str, at: datetime,
        gateway: str | None = None, remittance_id: str | None = None,
    ) -> list[DomainEvent]:
        if self.received is not None:
            raise RuleViolated("payment_id", f"payment {self.payment_id} was already received")
        if amount <= 0:
            raise RuleViolated("amount", "a payment is more than zero")
        if fee < 0 or fee >= amount:
            raise RuleViolated("fee", "a fee is at least zero and less than the amount collected")
        if fee and party.kind != "collection_agency":
            raise RuleViolated("fee", "only a collection agency's payment is net of a fee")
        return [PaymentReceived(
            payment_id=self.payment_id, customer_id=customer_id, party=party, method=method, channel=channel,
            amount=amount, fee=fee, currency=currency, reference=reference, received_on=received_on,
            gateway=gateway, remittance_id=remittance_id, recorded_by=recorded_by, recorded_at=at,
        )]

    def allocate(
        self, allocations: Sequence[Allocation], invoices: dict[str, OpenInvoice], rule: AllocationRule,
        at: datetime,
    ) -> list[DomainEvent]:
        """Pay the named invoices; ``invoices`` are those invoices as they stand now."""
        self._open()
        if not allocations:
            return []
        total = 0
        seen: set[str] = set()
        for position, allocation in enumerate(allocations):
            field = f"allocations[{position}]"
            invoice = invoices.get(allocation.invoice_id)
            if invoice is None:
                raise RuleViolated(f"{field}.invoice_id", f"no invoice {allocation.invoice_id}")
            if allocation.invoice_id in seen:
                raise RuleViolated(f"{field}.invoice_id", "an invoice is named once")
            seen.add(allocation.invoice_id)
            if invoice.customer_id != self.customer_id:
                raise RuleViolated(f"{field}.invoice_id", f"invoice {invoice.number} is not this customer's")
            if invoice.currency != self.currency:
                raise RuleViolated(f"{field}.invoice_id", f"invoice {invoice.number} is in {invoice.currency}")
            if allocation.amount > invoice.balance:
                raise RuleViolated(
                    f"{field}.amount", f"invoice {invoice.number} asks only {invoice.balance} more"
                )
            total += allocation.amount
        if total > self.unallocated:
            raise RuleViolated("allocations", f"only {self.unallocated} of the payment is unallocated")
        return [PaymentAllocated(
            payment_id=self.payment_id, customer_id=self.customer_id, allocations=list(allocations),
            currency=self.currency, rule=rule, unallocated=self.unallocated - total, allocated_at=at,
        )]

    def release(self, invoice_id: str, amount: int, reason: str, at: datetime) -> list[DomainEvent]:
        """Give back up to ``amount`` of the allocation to ``invoice_id``."""
        if self.reversed is not None:
            return []
        amount = min(amount, self.allocations.get(invoice_id, 0))
        if amount <= 0:
            return []
        return [AllocationReleased(
            payment_id=self.payment_id, customer_id=self.customer_id, invoice_id=invoice_id,
            invoice_number=self.numbers[invoice_id], amount=amount, currency=self.currency, reason=reason,
            released_at=at,
        )]

    def refund(
        self, refund_id: str, amount: int, method: PaymentMethod, reference: str | None, reason: str,
        refunded_by: str, at: datetime,
    ) -> list[DomainEvent]:
        self._open()
        if amount <= 0:
            raise RuleViolated("amount", "a refund is more than zero")
        if amount > self.unallocated:
            raise RuleViolated(
                "amount", f"only {self.unallocated} of the payment is unallocated; release allocations first"
            )
        return [RefundIssued(
            payment_id=self.payment_id, refund_id=refund_id, customer_id=self.customer_id, amount=amount,
            currency=self.currency, method=method, reference=reference, reason=reason, refunded_by=refunded_by,
            refunded_at=at,
        )]

    def reverse(self, reason: ReversalReason, reference: str | None, reversed_by: str, at: datetime) -> list[DomainEvent]:
        self._open()
        released = [
            Allocation(invoice_id=invoice_id, invoice_number=self.numbers[invoice_id], amount=amount)
            for invoice_id, amount in self.allocations.items() if amount > 0
        ]
        return [PaymentReversed(
            payment_id=self.payment_id, customer_id=self.customer_id, amount=self.amount - self.refunded,
            currency=self.currency, reason=reason, released=released, reference=reference,
            reversed_by=reversed_by, reversed_at=at,
        )]

    # -- folding ---------------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case PaymentReceived():
                self.received = event
            case PaymentAllocated():
                for allocation in event.allocations:
                    self.allocations[allocation.invoice_id] = (
                        self.allocations.get(allocation.invoice_id, 0) + allocation.amount
                    )
                    self.numbers[allocation.invoice_id] = allocation.invoice_number
            case AllocationReleased():
                self.allocations[event.invoice_id] -= event.amount
            case RefundIssued():
                self.refunded += event.amount
            case PaymentReversed():
                self.reversed = event
                self.allocations = {}
        self.version += 1
