"""Payments' own read models, updated in the same transaction as the events they fold (a balance
never lags behind the payment that changed it) and rebuildable from the store."""

from __future__ import annotations

import json

import asyncpg

from services.payments.domain.events import (
    AllocationReleased,
    PaymentAllocated,
    PaymentInstructionsPublished,
    PaymentMissed,
    PaymentPlanAgreed,
    PaymentPlanCompleted,
    PaymentPlanDefaulted,
    PaymentReceived,
    PaymentReversed,
    PlanPaymentApplied,
    PlanPaymentReversed,
    RefundIssued,
    RemittancePosted,
)
from shared.envelope import EventEnvelope


class PaymentLedger:
    """Every payment with what it allocated, refunded or lost to a reversal."""

    name = "payments.ledger"
    tables = ("payments", "allocations", "refunds")
    event_types = frozenset({
        PaymentReceived.event_type, PaymentAllocated.event_type, AllocationReleased.event_type,
        RefundIssued.event_type, PaymentReversed.event_type,
    })

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        match event.type:
            case PaymentReceived.event_type:
                party = data["party"]
                await conn.execute(
                    """INSERT INTO payments (payment_id, customer_id, party, party_kind, payer_id, method, channel,
                           amount, fee, currency, reference, received_on, remittance_id, recorded_at)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::date, $13, $14)""",
                    data["payment_id"], data["customer_id"], json.dumps(party), party["kind"], party.get("payer_id"),
                    data["method"], data["channel"], data["amount"], data["fee"], data["currency"],
                    data.get("reference"), data["received_on"], data.get("remittance_id"), event.time,
                )
            case PaymentAllocated.event_type:
                for allocation in data["allocations"]:
                    await conn.execute(
                        """INSERT INTO allocations (payment_id, invoice_id, customer_id, amount) VALUES ($1, $2, $3, $4)
                           ON CONFLICT (payment_id, invoice_id) DO UPDATE
                           SET amount = allocations.amount + EXCLUDED.amount""",
                        data["payment_id"], allocation["invoice_id"], data["customer_id"], allocation["amount"],
                    )
                await conn.execute(
                    "UPDATE payments SET allocated = allocated + $2 WHERE payment_id = $1",
                    data["payment_id"], sum(a["amount"] for a in data["allocations"]),
                )
            case AllocationReleased.event_type:
                await conn.execute(
                    "UPDATE allocations SET amount = amount - $3 WHERE payment_id = $1 AND invoice_id = $2",
                    data["payment_id"], data["invoice_id"], data["amount"],
                )
                await conn.execute(
                    "UPDATE payments SET allocated = allocated - $2 WHERE payment_id = $1",
                    data["payment_id"], data["amount"],
                )
            case RefundIssued.event_type:
                await conn.execute(
                    """INSERT INTO refunds (refund_id, payment_id, customer_id, amount, currency, method, reference,
                           reason, refunded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                    data["refund_id"], data["payment_id"], data["customer_id"], data["amount"], data["currency"],
                    data["method"], data.get("reference"), data["reason"], event.time,
                )
                await conn.execute(
                    "UPDATE payments SET refunded = refunded + $2 WHERE payment_id = $1",
                    data["payment_id"], data["amount"],
                )
            case PaymentReversed.event_type:
                await conn.execute("DELETE FROM allocations WHERE payment_id = $1", data["payment_id"])
                await conn.execute(
                    "UPDATE payments SET reversed = true, reversal_reason = $2, allocated = 0 WHERE payment_id = $1",
                    data["payment_id"], data["reason"],
                )


class PlanBook:
    """Payment plans with what was paid toward them and which instalments were missed."""

    name = "payments.plans"
    tables = ("plans",)
    event_types = frozenset({
        PaymentPlanAgreed.event_type, PlanPaymentApplied.event_type, PlanPaymentReversed.event_type,
        PaymentPlanCompleted.event_type, PaymentPlanDefaulted.event_type, PaymentMissed.event_type,
    })

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        match event.type:
            case PaymentPlanAgreed.event_type:
                await conn.execute(
                    """INSERT INTO plans (plan_id, customer_id, status, invoice_ids, currency, total, terms,
                           agreed_at, updated_at)
                       VALUES ($1, $2, 'active', $3, $4, $5, $6, $7, $7)""",
                    data["plan_id"], data["customer_id"], data["invoice_ids"], data["currency"], data["total"],
                    json.dumps(data), event.time,
                )
            case PlanPaymentApplied.event_type | PlanPaymentReversed.event_type:
                await conn.execute(
                    """UPDATE plans SET paid_to_date = $2, updated_at = $3,
                           status = CASE WHEN status = 'completed' AND $2 < total THEN 'active' ELSE status END
                       WHERE plan_id = $1""",
                    data["plan_id"], data["paid_to_date"], event.time,
                )
            case PaymentPlanCompleted.event_type:
                await conn.execute(
                    "UPDATE plans SET status = 'completed', updated_at = $2 WHERE plan_id = $1",
                    data["plan_id"], event.time,
                )
            case PaymentPlanDefaulted.event_type:
                await conn.execute(
                    "UPDATE plans SET status = 'defaulted', updated_at = $2 WHERE plan_id = $1",
                    data["plan_id"], event.time,
                )
            case PaymentMissed.event_type if data.get("plan_id"):
                await conn.execute(
                    "UPDATE plans SET missed = array_append(missed, $2), updated_at = $3 WHERE plan_id = $1",
                    data["plan_id"], data["instalment"], event.time,
                )


def due_item_key(data: dict[str, object]) -> str:
    if data.get("plan_id"):
        return f"plan:{data['plan_id']}:{data['instalment']}"
    return f"invoice:{data['invoice_id']}"


class MissedPayments:
    name = "payments.missed"
    tables = ("missed_payments",)
    event_types = frozenset({PaymentMissed.event_type})

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        await conn.execute(
            """INSERT INTO missed_payments (due_item, customer_id, item, invoice_id, plan_id, instalment, due_date,
                   amount, currency, days_overdue, as_of, detected_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7::text::date, $8, $9, $10, $11::text::date, $12)""",
            due_item_key(data), data["customer_id"], data["item"], data.get("invoice_id"), data.get("plan_id"),
            data.get("instalment"), data["due_date"], data["amount"], data["currency"], data["days_overdue"],
            data["as_of"], event.time,
        )


class RemittanceRegister:
    name = "payments.remittances"
    tables = ("remittances",)
    event_types = frozenset({RemittancePosted.event_type})

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        await conn.execute(
            """INSERT INTO remittances (remittance_id, payer_id, payer_name, trace_number, payment_amount,
                   payment_date, currency, unmatched_amount, posted, posted_at)
               VALUES ($1, $2, $3, $4, $5, $6::text::date, $7, $8, $9, $10)""",
            data["remittance_id"], data.get("payer_id"), data["payer_name"], data["trace_number"],
            data["payment_amount"], data["payment_date"], data["currency"], data["unmatched_amount"],
            json.dumps(data), event.time,
        )


class InstructionsBook:
    name = "payments.instructions"
    tables = ("payment_instructions",)
    event_types = frozenset({PaymentInstructionsPublished.event_type})

    async def apply(self, conn: asyncpg.Connection, event: EventEnvelope) -> None:
        data = event.data
        await conn.execute(
            """INSERT INTO payment_instructions (business_id, instructions, version, published_at)
               VALUES ($1, $2, 1, $3)
               ON CONFLICT (business_id) DO UPDATE SET instructions = EXCLUDED.instructions,
                   version = payment_instructions.version + 1, published_at = EXCLUDED.published_at""",
            data["business_id"], json.dumps(data), event.time,
        )


INLINE_READ_MODELS = (PaymentLedger(), PlanBook(), MissedPayments(), RemittanceRegister(), InstructionsBook())
