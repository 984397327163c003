"""What collections folds from other services' events (consumer group collections.feeds):
customers and their contact points from registration, customer invoices from invoicing, and
payments, plans and how to pay from payments.

Applied in the consumer's inbox transaction, so a redelivered event changes nothing twice. Two
reactions run in that same transaction: payments' PaymentMissed for a customer invoice opens a
debt (or, if invoicing's InvoiceIssued has not arrived yet, waits for it), and anything that lowers an open debt's balance to nothing settles it (recalling it from an
agency that holds it). New contact details close the customer's skip-trace tasks, so the next
dunning run finds the new contact point."""

from __future__ import annotations

import json
from typing import Protocol

import asyncpg

from services.collections.adapters.upstream_events import (
    READERS,
    AllocationReleased,
    ContactDetailsChanged,
    ContactPointBounced,
    ContactPointVerified,
    CreditNoteIssued,
    CustomerRegistered,
    InvoiceIssued,
    InvoiceVoided,
    PaymentAllocated,
    PaymentInstructionsPublished,
    PaymentMissed,
    PaymentPlanAgreed,
    PaymentPlanCompleted,
    PaymentPlanDefaulted,
    PaymentReceived,
    PaymentReversed,
    RemittanceApplied,
    SpecialConcernNoted,
)
from shared.envelope import EventEnvelope


class Reactions(Protocol):
    async def payment_missed(self, conn: asyncpg.Connection, missed: PaymentMissed) -> None: ...

    async def invoice_issued(self, conn: asyncpg.Connection, invoice_id: str) -> None: ...

    async def balance_changed(self, conn: asyncpg.Connection, invoice_id: str) -> None: ...


def _name(registered: CustomerRegistered) -> str:
    if registered.person_name is not None:
        parts = [registered.person_name.given, registered.person_name.middle, registered.person_name.family]
        return " ".join(p for p in parts if p)
    return registered.organisation_name or registered.customer_id


class UpstreamFeed:
    """A projection of registration's, invoicing's and payments' events. Without ``reactions`` it
    only folds: an operator's rebuild must not open or settle debts again."""

    name = "collections.feeds"
    tables = ("customers", "invoices", "payments", "invoice_payments", "plans", "payment_instructions")
    event_types = frozenset(READERS)

    def __init__(self, reactions: Reactions | None) -> None:
        self.reactions = reactions

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        # a payload that does not fit the contract raises ValidationError: the consumer dead-letters it
        match READERS[event.type].model_validate(event.data):
            case CustomerRegistered() as registered:
                await conn.execute(
                    """INSERT INTO customers (customer_id, name, contact, time_zone, flags, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (customer_id) DO NOTHING""",
                    registered.customer_id, _name(registered), registered.contact.model_dump_json(),
                    registered.contact.time_zone, sorted(set(registered.flags)), event.time,
                )
            case ContactDetailsChanged() as changed:
                await conn.execute(
                    """UPDATE customers SET contact = $2, time_zone = $3, bounced = '{}', updated_at = $4
                       WHERE customer_id = $1""",
                    changed.customer_id, changed.contact.model_dump_json(), changed.contact.time_zone, event.time,
                )
                await self._close_verification(conn, changed.customer_id, event)
            case ContactPointBounced() as bounced:
                await conn.execute(
                    """UPDATE customers SET bounced = array_append(array_remove(bounced, $2), $2), updated_at = $3
                       WHERE customer_id = $1""",
                    bounced.customer_id, bounced.contact_point_id, event.time,
                )
            case ContactPointVerified() as verified:
                await conn.execute(
                    "UPDATE customers SET bounced = array_remove(bounced, $2), updated_at = $3 WHERE customer_id = $1",
                    verified.customer_id, verified.contact_point_id, event.time,
                )
                await self._close_verification(conn, verified.customer_id, event)
            case SpecialConcernNoted() as noted:
                await conn.execute(
                    """UPDATE customers SET flags = ARRAY(
                           SELECT DISTINCT f FROM unnest(flags || $2::text[]) f WHERE f <> ALL($3::text[]) ORDER BY f),
                           updated_at = $4
                       WHERE customer_id = $1""",
                    noted.customer_id, noted.flags_raised, noted.flags_cleared, event.time,
                )
            case InvoiceIssued() as issued:
                if issued.party.kind != "customer":
                    return
                await conn.execute(
                    """INSERT INTO invoices (invoice_id, number, customer_id, currency, total, issue_date, due_date,
                           service_dates, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (invoice_id) DO NOTHING""",
                    issued.invoice_id, issued.number, issued.customer_id, issued.currency, issued.total,
                    issued.issue_date, issued.due_date, sorted({line.service_date for line in issued.lines}),
                    event.time,
                )
                if self.reactions is not None:
                    await self.reactions.invoice_issued(conn, issued.invoice_id)
            case CreditNoteIssued() as credit:
                await conn.execute(
                    "UPDATE invoices SET credited = credited + $2, updated_at = $3 WHERE invoice_id = $1",
                    credit.invoice_id, credit.total, event.time,
                )
                await self._balance_changed(conn, credit.invoice_id)
            case RemittanceApplied() as applied:
                await conn.execute(
                    """UPDATE invoices SET written_off = written_off + $2, transferred = transferred + $3,
                           updated_at = $4 WHERE invoice_id = $1""",
                    applied.invoice_id, applied.written_off, applied.transferred, event.time,
                )
                await self._balance_changed(conn, applied.invoice_id)
            case InvoiceVoided() as voided:
                await conn.execute(
                    "UPDATE invoices SET voided = true, updated_at = $2 WHERE invoice_id = $1", voided.invoice_id,
                    event.time,
                )
                await self._balance_changed(conn, voided.invoice_id)
            case PaymentReceived() as received:
                await conn.execute(
                    """INSERT INTO payments (payment_id, customer_id, party_kind, channel, agency_id, amount, fee,
                           currency, received_on)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (payment_id) DO NOTHING""",
                    received.payment_id, received.customer_id, received.party.kind, received.channel,
                    received.party.agency_id, received.amount, received.fee, received.currency, received.received_on,
                )
            case PaymentAllocated() as allocated:
                for allocation in allocated.allocations:
                    await conn.execute(
                        """INSERT INTO invoice_payments (payment_id, invoice_id, amount) VALUES ($1, $2, $3)
                           ON CONFLICT (invoice_id, payment_id) DO UPDATE
                           SET amount = invoice_payments.amount + EXCLUDED.amount""",
                        allocated.payment_id, allocation.invoice_id, allocation.amount,
                    )
                for allocation in allocated.allocations:
                    await self._balance_changed(conn, allocation.invoice_id)
            case AllocationReleased() as released:
                await conn.execute(
                    "UPDATE invoice_payments SET amount = amount - $3 WHERE payment_id = $1 AND invoice_id = $2",
                    released.payment_id, released.invoice_id, released.amount,
                )
            case PaymentReversed() as reversed_:
                await conn.execute("UPDATE payments SET reversed = true WHERE payment_id = $1", reversed_.payment_id)
                for allocation in reversed_.released:
                    await conn.execute(
                        "UPDATE invoice_payments SET amount = amount - $3 WHERE payment_id = $1 AND invoice_id = $2",
                        reversed_.payment_id, allocation.invoice_id, allocation.amount,
                    )
            case PaymentPlanAgreed() as agreed:
                await conn.execute(
                    """INSERT INTO plans (plan_id, customer_id, invoice_ids, status, updated_at)
                       VALUES ($1, $2, $3, 'active', $4) ON CONFLICT (plan_id) DO NOTHING""",
                    agreed.plan_id, agreed.customer_id, agreed.invoice_ids, event.time,
                )
            case PaymentPlanCompleted() | PaymentPlanDefaulted() as ended:
                status = "completed" if isinstance(ended, PaymentPlanCompleted) else "defaulted"
                await conn.execute(
                    "UPDATE plans SET status = $2, updated_at = $3 WHERE plan_id = $1", ended.plan_id, status,
                    event.time,
                )
            case PaymentMissed() as missed:
                if self.reactions is not None and missed.item == "invoice" and missed.billed_party == "customer":
                    await self.reactions.payment_missed(conn, missed)
            case PaymentInstructionsPublished() as instructions:
                await conn.execute(
                    """INSERT INTO payment_instructions (business_id, business_name, options, notes, updated_at)
                       VALUES ($1, $2, $3, $4, $5)
                       ON CONFLICT (business_id) DO UPDATE SET business_name = EXCLUDED.business_name,
                           options = EXCLUDED.options, notes = EXCLUDED.notes, updated_at = EXCLUDED.updated_at""",
                    instructions.business_id, instructions.business_name, json.dumps(instructions.options),
                    instructions.notes, event.time,
                )

    async def _balance_changed(self, conn: asyncpg.Connection, invoice_id: str) -> None:
        if self.reactions is not None:
            await self.reactions.balance_changed(conn, invoice_id)

    async def _close_verification(self, conn: asyncpg.Connection, customer_id: str, event: EventEnvelope) -> None:
        await conn.execute(
            """UPDATE verification_tasks SET status = 'resolved', resolved_at = $2
               WHERE customer_id = $1 AND status = 'open'""",
            customer_id, event.time,
        )
