"""The invoice: one bill to one party, folded from its events.

It guards what may happen to a bill once it exists: a held bill is issued once, an issued bill is
never edited, credits never exceed what is still open, a remittance is applied once, and a voided
invoice takes nothing more."""

from __future__ import annotations

from enum import StrEnum

from services.invoicing.domain.events import (
    BilledParty,
    CreditedLine,
    CreditNoteDeliveryFailed,
    CreditNoteIssued,
    CreditNoteSent,
    InvoiceDeliveryFailed,
    InvoiceExceededEstimate,
    InvoiceHeld,
    InvoiceIssued,
    InvoiceLine,
    InvoiceSent,
    InvoiceVoided,
    InvoiceWithdrawn,
    RemittanceApplied,
)
from shared.aggregate import FoldedFromEvents
from shared.events import DomainEvent
from shared.rules import RuleViolated


class InvoiceStatus(StrEnum):
    NEW = "new"
    HELD = "held"
    ISSUED = "issued"
    VOIDED = "voided"
    WITHDRAWN = "withdrawn"


class Invoice(FoldedFromEvents):
    def __init__(self, invoice_id: str) -> None:
        self.invoice_id = invoice_id
        self.version = 0
        self.status = InvoiceStatus.NEW
        self.issued: InvoiceIssued | None = None
        self.held: InvoiceHeld | None = None
        self.party: BilledParty | None = None
        self.customer_id: str | None = None
        self.hold_reasons: list[str] = []
        self.credited: dict[str, int] = {}  # line id -> amount credited
        self.settled: dict[str, int] = {}  # line id -> paid, written off or moved on by remittances
        self.written_off = 0
        self.transferred = 0
        self.paid_by_payer = 0
        self.remittance_events: list[RemittanceApplied] = []
        self.credit_notes: list[CreditNoteIssued] = []
        self.deliveries: list[InvoiceSent | InvoiceDeliveryFailed] = []
        self.credit_note_deliveries: list[CreditNoteSent | CreditNoteDeliveryFailed] = []
        self.flagged = False

    # -- reading ---------------------------------------------------------------------------------

    @property
    def remittances(self) -> set[str]:
        """The remittances applied to it, by id."""
        return {applied.remittance_id for applied in self.remittance_events}

    @property
    def number(self) -> str | None:
        return self.issued.number if self.issued else None

    @property
    def total(self) -> int:
        return self.issued.total if self.issued else 0

    @property
    def lines(self) -> list[InvoiceLine]:
        return list(self.issued.lines) if self.issued else []

    @property
    def credited_total(self) -> int:
        return sum(self.credited.values())

    @property
    def open_amount(self) -> int:
        """What the party still owes on it, as invoicing knows it (payments adds payments)."""
        if self.status is not InvoiceStatus.ISSUED:
            return 0
        return self.total - self.credited_total - self.written_off - self.transferred - self.paid_by_payer

    def open_on_line(self, line_id: str) -> int:
        line = self._line(line_id)
        return line.amount - self.credited.get(line_id, 0) - self.settled.get(line_id, 0)

    def _line(self, line_id: str) -> InvoiceLine:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise RuleViolated("lines", f"invoice {self.number} has no line {line_id}")

    # -- deciding --------------------------------------------------------------------------------

    def require_issued(self, doing: str) -> InvoiceIssued:
        if self.status is InvoiceStatus.VOIDED:
            raise RuleViolated("invoice_id", f"invoice {self.number} is voided; it cannot be {doing}")
        if self.issued is None:
            raise RuleViolated("invoice_id", f"invoice {self.invoice_id} is not issued; it cannot be {doing}")
        return self.issued

    def may_void(self) -> None:
        self.require_issued("voided")
        if self.remittances or self.credit_notes or self.transferred:
            raise RuleViolated(
                "invoice_id",
                f"invoice {self.number} has remittances or credit notes; issue a credit note for "
                "what remains instead of voiding it",
            )

    def credit_lines(self, amounts: dict[str, int] | None) -> list[CreditedLine]:
        """The lines a credit note takes off: the given amounts per line, or all that is open."""
        self.require_issued("credited")
        if amounts is None:
            amounts = {line.line_id: self.open_on_line(line.line_id) for line in self.lines}
        credited: list[CreditedLine] = []
        for line_id, amount in amounts.items():
            if amount < 0:
                raise RuleViolated("lines", f"a credit on line {line_id} cannot be negative")
            open_on_line = self.open_on_line(line_id)
            if amount > open_on_line:
                raise RuleViolated(
                    "lines", f"line {line_id} of {self.number} has {open_on_line} open; cannot credit {amount}"
                )
            if amount:
                credited.append(CreditedLine(line_id=line_id, amount=amount))
        total = sum(line.amount for line in credited)
        if total == 0:
            raise RuleViolated("lines", f"nothing is open on invoice {self.number} to credit")
        if total > self.open_amount:
            raise RuleViolated("lines", f"invoice {self.number} has {self.open_amount} open; cannot credit {total}")
        return credited

    # -- folding ---------------------------------------------------------------------------------

    def apply(self, event: DomainEvent) -> None:
        match event:
            case InvoiceHeld():
                self.status = InvoiceStatus.HELD
                self.held = event
                self.party = event.party
                self.customer_id = event.customer_id
                self.hold_reasons = list(event.reasons)
            case InvoiceIssued():
                self.status = InvoiceStatus.ISSUED
                self.issued = event
                self.party = event.party
                self.customer_id = event.customer_id
                self.hold_reasons = []
                self.flagged = bool(event.estimate and event.estimate.exceeded)
            case InvoiceExceededEstimate():
                self.flagged = True
            case InvoiceSent() | InvoiceDeliveryFailed():
                self.deliveries.append(event)
            case CreditNoteSent() | CreditNoteDeliveryFailed():
                self.credit_note_deliveries.append(event)
            case RemittanceApplied():
                self.remittance_events.append(event)
                self.paid_by_payer += event.paid
                self.written_off += event.written_off
                self.transferred += event.transferred
                for outcome in event.lines:
                    settled = outcome.paid + outcome.written_off + outcome.transferred
                    self.settled[outcome.line_id] = self.settled.get(outcome.line_id, 0) + settled
            case CreditNoteIssued():
                self.credit_notes.append(event)
                for line in event.lines:
                    self.credited[line.line_id] = self.credited.get(line.line_id, 0) + line.amount
            case InvoiceVoided():
                self.status = InvoiceStatus.VOIDED
            case InvoiceWithdrawn():
                self.status = InvoiceStatus.WITHDRAWN
        self.version += 1
