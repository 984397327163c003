"""An invoice past its due date, as the missed-payment scheduler decides it: its own small
stream, so PaymentMissed is appended to it once, whichever scheduler run (or process) gets there
first; the loser's append conflicts and it moves on."""

from __future__ import annotations

from datetime import date, datetime

from services.payments.domain.events import DueItem, PaymentMissed
from services.payments.domain.payment import OpenInvoice
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent


class InvoiceDue(FoldedFromEvents):
    def __init__(self, invoice_id: str) -> None:
        self.invoice_id = invoice_id
        self.version = 0
        self.missed: PaymentMissed | None = None

    def look_for_missed(self, invoice: OpenInvoice, as_of: date, grace_days: int, at: datetime) -> list[DomainEvent]:
        overdue = (as_of - invoice.due_date).days
        if self.missed is not None or invoice.plan_id is not None or invoice.balance <= 0 or overdue <= grace_days:
            return []
        return [PaymentMissed(
            customer_id=invoice.customer_id, item=DueItem.INVOICE, invoice_id=invoice.invoice_id,
            invoice_number=invoice.number, billed_party=invoice.billed_party, due_date=invoice.due_date,
            amount=invoice.balance, currency=invoice.currency, days_overdue=overdue, as_of=as_of, detected_at=at,
        )]

    def apply(self, event: DomainEvent) -> None:
        if isinstance(event, PaymentMissed):
            self.missed = event
        self.version += 1
