"""Invoicing's own read models, updated in the same transaction as the events they fold (an
answer never lags behind the write that caused it) and rebuildable from the store."""

from __future__ import annotations

import json

import asyncpg

from services.invoicing.domain.events import (
    ChargeRecorded,
    ChargeReversed,
    CreditNoteDeliveryFailed,
    CreditNoteIssued,
    CreditNoteSent,
    CrosswalkPublished,
    DeliveryChannel,
    EncounterBilled,
    InvoiceDeliveryFailed,
    InvoiceExceededEstimate,
    InvoiceHeld,
    InvoiceIssued,
    InvoiceSent,
    InvoiceVoided,
    InvoiceWithdrawn,
    PartyKind,
    RemittanceApplied,
    StatementDeliveryFailed,
    StatementIssued,
    StatementSent,
)
from shared.envelope import EventEnvelope


class Crosswalks:
    name = "invoicing.crosswalks"
    tables = ("crosswalks",)
    event_types = frozenset({CrosswalkPublished.event_type})

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        await conn.execute(
            """INSERT INTO crosswalks (payer_id, version, effective_from, effective_to, entries, published_at)
               VALUES ($1, $2, $3::text::date, $4::text::date, $5, $6)""",
            data["payer_id"], data["version"], data["effective_from"], data["effective_to"],
            json.dumps(data["entries"]), event.time,
        )


class ChargeLedger:
    """Every charge and whether it is waiting to be billed, billed (on which bill) or reversed."""

    name = "invoicing.charges"
    tables = ("charges",)
    event_types = frozenset(
        {ChargeRecorded.event_type, ChargeReversed.event_type, EncounterBilled.event_type}
    )

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        if event.type == ChargeRecorded.event_type:
            await conn.execute(
                """INSERT INTO charges (charge_id, customer_id, service_date, encounter, amount, currency,
                       status, charge, version, recorded_at)
                   VALUES ($1, $2, $3::text::date, $4, $5, $6, 'unbilled', $7, 1, $8)""",
                data["charge_id"], data["customer_id"], data["service_date"], data["encounter"],
                data["amount"], data["currency"], json.dumps(data), event.time,
            )
        elif event.type == ChargeReversed.event_type:
            await conn.execute(
                "UPDATE charges SET status = 'reversed', version = version + 1 WHERE charge_id = $1",
                data["charge_id"],
            )
        else:
            await conn.execute(
                "UPDATE charges SET status = 'billed', bill_id = $2 WHERE charge_id = ANY($1::text[])",
                data["charge_ids"], data["bill_id"],
            )


class InvoiceRegister:
    """Every invoice with what is open on it, every statement, and the deliveries of both waiting
    for the worker (one model, because they share the delivery queue)."""

    name = "invoicing.invoices"
    tables = ("invoices", "statements", "deliveries")
    event_types = frozenset({
        InvoiceHeld.event_type, InvoiceIssued.event_type, InvoiceExceededEstimate.event_type,
        InvoiceSent.event_type, InvoiceDeliveryFailed.event_type, RemittanceApplied.event_type,
        CreditNoteIssued.event_type, CreditNoteSent.event_type, CreditNoteDeliveryFailed.event_type,
        InvoiceVoided.event_type, InvoiceWithdrawn.event_type,
        StatementIssued.event_type, StatementSent.event_type, StatementDeliveryFailed.event_type,
    })

    def __init__(self) -> None:
        self.statements = StatementRegister()

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        if event.type in self.statements.event_types:
            await self.statements.apply(conn, event)
            return
        data = event.data
        invoice_id = data["invoice_id"]
        match event.type:
            case InvoiceHeld.event_type | InvoiceIssued.event_type:
                party = data["party"]
                issued = event.type == InvoiceIssued.event_type
                await conn.execute(
                    """INSERT INTO invoices (invoice_id, number, series, customer_id, bill_id, party_kind,
                           payer_id, coverage_id, responsibility, party_name, status, hold_reasons,
                           total, open_amount, currency, issue_date, due_date, transferred_from,
                           flagged, claim_document_id, updated_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14,
                               $15::text::date, $16::text::date, $17, $18, $19, $20)
                       ON CONFLICT (invoice_id) DO UPDATE SET number = EXCLUDED.number,
                           series = EXCLUDED.series, status = EXCLUDED.status,
                           hold_reasons = EXCLUDED.hold_reasons, total = EXCLUDED.total,
                           open_amount = EXCLUDED.open_amount, currency = EXCLUDED.currency,
                           issue_date = EXCLUDED.issue_date, due_date = EXCLUDED.due_date,
                           flagged = EXCLUDED.flagged, claim_document_id = EXCLUDED.claim_document_id,
                           updated_at = EXCLUDED.updated_at""",
                    invoice_id, data.get("number"), data.get("series"), data["customer_id"],
                    data.get("bill_id"), party["kind"], party.get("payer_id"), party.get("coverage_id"),
                    party["responsibility"], party["name"], "issued" if issued else "held",
                    json.dumps(data.get("reasons", [])), data.get("total", 0), data.get("currency"),
                    data.get("issue_date"), data.get("due_date"), data.get("transferred_from"),
                    bool((data.get("estimate") or {}).get("exceeded")),
                    (data.get("claim") or {}).get("document_id"), event.time,
                )
                if issued and (party["kind"] == PartyKind.CUSTOMER or data.get("claim") is None):
                    await conn.execute(
                        """INSERT INTO deliveries (document_kind, document_id, customer_id, status, next_attempt_at)
                           VALUES ('invoice', $1, $2, 'pending', $3) ON CONFLICT DO NOTHING""",
                        invoice_id, data["customer_id"], event.time,
                    )
                elif issued:  # a claim goes to the payer's clearinghouse, when it has a claims endpoint
                    await conn.execute(
                        """INSERT INTO deliveries (document_kind, document_id, customer_id, invoice_id, status,
                               next_attempt_at)
                           SELECT 'claim', $1, $2, $1, 'pending', $4 FROM payers
                           WHERE payer_id = $3 AND profile -> 'connection' ->> 'claims_endpoint' IS NOT NULL
                           ON CONFLICT DO NOTHING""",
                        invoice_id, data["customer_id"], party.get("payer_id"), event.time,
                    )
            case InvoiceExceededEstimate.event_type:
                await self._update(conn, invoice_id, event, "flagged = true")
            case InvoiceSent.event_type | InvoiceDeliveryFailed.event_type:
                outcome = "sent" if event.type == InvoiceSent.event_type else "failed"
                await self._update(conn, invoice_id, event, f"delivery = '{outcome}'")
                kind = "claim" if data["channel"] == DeliveryChannel.X12 else "invoice"
                await delivery_ended(conn, kind, invoice_id, outcome)
            case RemittanceApplied.event_type:
                settled = data["paid"] + data["written_off"] + data["transferred"]
                await self._update(conn, invoice_id, event, "open_amount = open_amount - $3", settled)
            case CreditNoteIssued.event_type:
                await self._update(conn, invoice_id, event, "open_amount = open_amount - $3", data["total"])
                # a credit note goes where its invoice went: to parties that got a document
                await conn.execute(
                    """INSERT INTO deliveries (document_kind, document_id, customer_id, invoice_id, status,
                           next_attempt_at)
                       SELECT 'credit_note', $1, customer_id, invoice_id, 'pending', $3 FROM invoices
                       WHERE invoice_id = $2 AND claim_document_id IS NULL
                       ON CONFLICT DO NOTHING""",
                    data["credit_note_id"], invoice_id, event.time,
                )
            case CreditNoteSent.event_type:
                await delivery_ended(conn, "credit_note", data["credit_note_id"], "sent")
            case CreditNoteDeliveryFailed.event_type:
                await delivery_ended(conn, "credit_note", data["credit_note_id"], "failed")
            case InvoiceWithdrawn.event_type:
                await self._update(conn, invoice_id, event, "status = 'withdrawn'")
            case InvoiceVoided.event_type:
                await self._update(conn, invoice_id, event, "status = 'voided', open_amount = 0")
                await conn.execute(
                    "DELETE FROM deliveries WHERE document_kind = 'invoice' AND document_id = $1 "
                    "AND status = 'pending'", invoice_id,
                )

    @staticmethod
    async def _update(
        conn: asyncpg.Connection, invoice_id: str, event: EventEnvelope, assignments: str, *args: object
    ) -> None:
        await conn.execute(
            f"UPDATE invoices SET {assignments}, updated_at = $2 WHERE invoice_id = $1",
            invoice_id, event.time, *args,
        )


class StatementRegister:
    """Statements and their deliveries; part of the invoice register."""

    name = "invoicing.statements"
    tables = ("statements",)
    event_types = frozenset(
        {StatementIssued.event_type, StatementSent.event_type, StatementDeliveryFailed.event_type}
    )

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        if event.type == StatementIssued.event_type:
            await conn.execute(
                """INSERT INTO statements (statement_id, number, customer_id, statement_date, total_open,
                       currency, issued_at)
                   VALUES ($1, $2, $3, $4::text::date, $5, $6, $7)""",
                data["statement_id"], data["number"], data["customer_id"], data["statement_date"],
                data["total_open"], data["currency"], event.time,
            )
            await conn.execute(
                """INSERT INTO deliveries (document_kind, document_id, customer_id, status, next_attempt_at)
                   VALUES ('statement', $1, $2, 'pending', $3) ON CONFLICT DO NOTHING""",
                data["statement_id"], data["customer_id"], event.time,
            )
        else:
            outcome = "sent" if event.type == StatementSent.event_type else "failed"
            await conn.execute(
                "UPDATE statements SET delivery = $2 WHERE statement_id = $1", data["statement_id"], outcome
            )
            await delivery_ended(conn, "statement", data["statement_id"], outcome)


async def delivery_ended(conn: asyncpg.Connection, kind: str, document_id: str, outcome: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET status = $3, leased_until = NULL WHERE document_kind = $1 AND document_id = $2",
        kind, document_id, outcome,
    )


INLINE_READ_MODELS = (Crosswalks(), ChargeLedger(), InvoiceRegister())
