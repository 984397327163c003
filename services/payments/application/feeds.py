"""What payments takes from other services' events. From invoicing's it folds every invoice and
what it asks before payments (its total, less credit notes, write-offs and what moved on to the
next party; nothing once voided); from collections' it records what collection agencies collected.

Applied in the consumer's inbox transaction, so a redelivered event changes nothing twice. Two
reactions run in that same transaction: an invoice that now asks less than was paid on it gives
the excess back to its payments as credit, and a new customer invoice is paid from the account's
credit when the policy says so. An agency's report is recorded in that transaction too, as a
payment whose id is the report's, so the same report never makes a second payment even when the
inbox no longer holds it (a rebuild of the invoices replaces the group's inbox: ``InvoicingFeed``
without reactions refolds invoicing's topic only, and the agencies' payments are in payments'
own store)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

import asyncpg

from services.payments.adapters.upstream_events import (
    COLLECTIONS_READERS,
    READERS,
    AgencyPaymentReported,
    CreditNoteIssued,
    InvoiceIssued,
    InvoiceVoided,
    RemittanceApplied,
)
from shared.consumer import PoisonEvent
from shared.envelope import EventEnvelope
from shared.rules import RuleViolated


class Reactions(Protocol):
    async def release_excess(self, conn: asyncpg.Connection, invoice_id: str, reason: str) -> int: ...

    async def invoice_issued(self, conn: asyncpg.Connection, customer_id: str, currency: str) -> None: ...


class AgencyPayments(Protocol):
    async def receive_from_agency(
        self, conn: asyncpg.Connection, payment_id: str, *, customer_id: str, invoice_id: str, agency_id: str,
        agency_name: str, amount: int, fee: int, currency: str, reference: str | None, collected_on: date,
    ) -> object: ...


class FeedReactions(Reactions, AgencyPayments, Protocol):
    pass


class InvoicingFeed:
    """A projection of invoicing's events. Without ``reactions`` it only folds: an operator's
    rebuild must not move money again."""

    name = "payments.feeds"
    tables = ("invoices",)
    event_types = frozenset(READERS)

    def __init__(self, reactions: Reactions | None) -> None:
        self.reactions = reactions

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        # a payload that does not fit the contract raises ValidationError: the consumer dead-letters it
        match READERS[event.type].model_validate(event.data):
            case InvoiceIssued() as issued:
                await conn.execute(
                    """INSERT INTO invoices (invoice_id, number, customer_id, billed_party, payer_id, payer_kind,
                           currency, total, issue_date, due_date, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                       ON CONFLICT (invoice_id) DO NOTHING""",
                    issued.invoice_id, issued.number, issued.customer_id, issued.party.kind, issued.party.payer_id,
                    issued.party.payer_kind, issued.currency, issued.total, issued.issue_date, issued.due_date,
                    event.time,
                )
                if self.reactions is not None and issued.party.kind == "customer":
                    await self.reactions.invoice_issued(conn, issued.customer_id, issued.currency)
            case CreditNoteIssued() as credit:
                await conn.execute(
                    "UPDATE invoices SET credited = credited + $2, updated_at = $3 WHERE invoice_id = $1",
                    credit.invoice_id, credit.total, event.time,
                )
                await self._asks_less(conn, credit.invoice_id, "a credit note lowered the invoice")
            case RemittanceApplied() as applied:
                await conn.execute(
                    """UPDATE invoices SET written_off = written_off + $2, transferred = transferred + $3,
                           updated_at = $4 WHERE invoice_id = $1""",
                    applied.invoice_id, applied.written_off, applied.transferred, event.time,
                )
                await self._asks_less(
                    conn, applied.invoice_id, "the payer's remittance wrote off or moved on part of the invoice"
                )
            case InvoiceVoided() as voided:
                await conn.execute(
                    "UPDATE invoices SET voided = true, updated_at = $2 WHERE invoice_id = $1",
                    voided.invoice_id, event.time,
                )
                await self._asks_less(conn, voided.invoice_id, "the invoice was voided")

    async def _asks_less(self, conn: asyncpg.Connection, invoice_id: str, reason: str) -> None:
        if self.reactions is not None:
            await self.reactions.release_excess(conn, invoice_id, reason)


def agency_payment_id(report_id: str) -> str:
    """One payment per agency report, however often it is delivered."""
    return f"pay_agency_{report_id}"


class CollectionsFeed:
    """What collection agencies collected, as collections reports it: a payment by the agency,
    gross, with its fee. It only ever runs live: a payment is in payments' store, never refolded."""

    name = "payments.feeds"
    tables: tuple[str, ...] = ()
    event_types = frozenset(COLLECTIONS_READERS)

    def __init__(self, payments: AgencyPayments) -> None:
        self.payments = payments

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        # a payload that does not fit the contract raises ValidationError: the consumer dead-letters it
        match COLLECTIONS_READERS[event.type].model_validate(event.data):
            case AgencyPaymentReported() as reported:
                try:
                    await self.payments.receive_from_agency(
                        conn, agency_payment_id(reported.report_id), customer_id=reported.customer_id,
                        invoice_id=reported.invoice_id, agency_id=reported.agency_id,
                        agency_name=reported.agency_name, amount=reported.amount, fee=reported.fee,
                        currency=reported.currency, reference=reported.reference, collected_on=reported.collected_on,
                    )
                except RuleViolated as refused:  # e.g. a fee not less than the amount: no retry helps
                    raise PoisonEvent(f"payments refuses the agency's payment: {refused.field}: {refused}") from refused


class PaymentsFeeds:
    """What consumer group payments.feeds applies: invoicing's events and collections', each to
    its feed, with the ledger's reactions."""

    name = "payments.feeds"

    def __init__(self, ledger: FeedReactions) -> None:
        self.feeds: dict[str, InvoicingFeed | CollectionsFeed] = {}
        for feed in (InvoicingFeed(ledger), CollectionsFeed(ledger)):
            self.feeds |= dict.fromkeys(feed.event_types, feed)
        self.event_types = frozenset(self.feeds)
        self.tables = InvoicingFeed.tables + CollectionsFeed.tables

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        await self.feeds[event.type].apply(conn, event)
